"""Poll and history benchmark against the simulator with the capture's timing.

Prints, from one run: a power poll of exactly 8, 32 and 64 circles (the Circle+ counts as
one of them), pipelined (window 16) and by the same client with a window of 1; a poll of 64
circles with 8 of them offline; reading 1000 log blocks (250 with a window of 1).  Each time stands next to
the wire limit and the ack-rate limit (_limits.py).  Target (issue 16): polls and history
within 1.2× the ack-rate limit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from _limits import CAPTURE, HEADER, Exchange, Limits, legend, measure_exchange, row

from protocol import messages as M
from protocol import virtual
from protocol.circle import Circle, PowerReading, poll_power
from protocol.errors import PlugwiseError
from protocol.fields import LogAddress
from protocol.stick import Stick

C1 = virtual.circle_mac(1)


@contextmanager
def opened(url: str, window: int) -> Iterator[Stick]:
    stick = Stick(url, timeout=10.0, window=window)
    stick.open()
    try:
        yield stick
    finally:
        stick.close()


def nodes(stick: Stick, n: int) -> list[Circle]:
    """Exactly n circles: the Circle+ and circles 1…n-1."""
    macs = [virtual.CIRCLE_PLUS_MAC] + [virtual.circle_mac(i) for i in range(1, n)]
    return [Circle(stick, m) for m in macs]


def calibrate(circles: list[Circle]) -> None:
    """Read every circle's calibration (once per client; a poll needs it), pipelined."""
    futures = [c.calibration_future() for c in circles]
    for f in futures:
        f.result(60)


def timed_poll(circles: list[Circle]) -> float:
    calibrate(circles)
    t0 = time.perf_counter()
    res = poll_power(circles)
    took = time.perf_counter() - t0
    bad = [m for m, v in res.items() if isinstance(v, Exception)]
    if bad:
        raise RuntimeError(f"power poll failed for {bad}")
    return took


def polls(power: Exchange) -> tuple[list[float], list[str]]:
    """The polls' ratios to the ack-rate limit, and the rows of the offline case (printed after)."""
    ratios = []
    offline_rows: list[str] = []
    for n in (8, 32, 64):
        url = f"sim://?circles={n - 1}&seed={100 + n}&{CAPTURE}"
        virtual.forget(url)
        with opened(url, 16) as stick:
            circles = nodes(stick, n)
            pipelined = timed_poll(circles)
            if n == 64:  # the same circles, already calibrated, with 8 of them unplugged
                offline_rows = offline_poll(power, virtual.network_for(url), circles)
        with opened(url, 1) as stick:
            for c in circles:  # the same client (its calibrations) on a stick with a window of 1
                c.stick = stick
            serial_t = timed_poll(circles)
        limits = Limits(n, power)
        ratios.append(pipelined / limits.ack_s)
        print(row(f"power poll, {n} circles, window 16", pipelined, limits))
        print(row(f"power poll, {n} circles, same client, window 1", serial_t, limits))
    return ratios, offline_rows


def offline_poll(power: Exchange, net: virtual.VirtualNetwork, circles: list[Circle]) -> list[str]:
    """64 calibrated circles, 8 unplugged: how long until every online reading is in, and
    until the offline ones are given up.  They are plugged in again afterwards."""
    offline = {virtual.circle_mac(i) for i in range(8, 64, 7)}
    for mac in offline:
        net.set_online(mac, False)
    try:
        t0 = time.perf_counter()
        futs: dict[str, Future[PowerReading]] = {c.mac: c.power_future() for c in circles}
        online_done = 0.0
        for mac, f in futs.items():
            if mac not in offline:
                f.result(60)
                online_done = max(online_done, time.perf_counter() - t0)
        for mac in offline:
            try:
                futs[mac].result(120)
            except PlugwiseError:
                pass
        all_done = time.perf_counter() - t0
    finally:
        for mac in offline:
            net.set_online(mac, True)
    limits = Limits(64, power, answered=64 - len(offline))
    return [
        row(f"power poll, 64 circles, {len(offline)} offline: online in", online_done, limits),
        f"{'   … and the offline ones given up (00E1, retries)':48} {all_done:8.2f}s",
    ]


def history(block: Exchange) -> float:
    """1000 blocks pipelined; the window-1 baseline reads 250 (it is slow, and make bench
    should stay under 10 minutes; 100 would be noticeably noisier), each against its own limits."""
    url = f"sim://?circles=1&seed=9&history=200&{CAPTURE}"
    virtual.forget(url)
    ratio = 0.0
    for window, count in ((16, 1000), (1, 250)):
        with opened(url, window) as stick:
            c = Circle(stick, C1)
            c.calibration()
            t0 = time.perf_counter()
            records = c.log_range(0, count - 1)
            took = time.perf_counter() - t0
        if len(records) < 3.9 * count:
            raise RuntimeError(f"{count} blocks gave only {len(records)} records")
        limits = Limits(count, block)
        label = "window 16" if window == 16 else "same client, window 1"
        print(row(f"{count} log blocks, {label}", took, limits))
        if window == 16:
            ratio = took / limits.ack_s
    return ratio


def main() -> int:
    power = measure_exchange(M.PowerRequest(mac=C1))
    block = measure_exchange(M.LogBlockRequest(mac=C1, log_address=LogAddress.of(0)))
    print(legend({"power 0012/0013": power, "log block 0048/0049": block}))
    print(HEADER)
    ratios, offline_rows = polls(power)
    print("\n".join(offline_rows))
    ratios.append(history(block))
    worst = max(ratios)
    print(
        f"target: polls and history within 1.2× the ack-rate limit → worst {worst:.2f}×: "
        f"{'met' if worst <= 1.2 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
