"""Poll-cycle benchmark against the simulator at its realistic default latency.

Prints, from one run: one power poll of 8, 32 and 64 circles pipelined and one
request at a time (Plugwise-2-py's way), the limit set by the line rate and the
stick's ack time, and reading 1000 log blocks both ways.  Targets: 64 circles
within 1.5× the limit and at least 4× faster than one at a time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol import messages as M
from protocol import virtual
from protocol.circle import Circle, poll_power
from protocol.fields import LogAddress
from protocol.frames import encode_frame
from protocol.stick import Stick
from protocol.virtual.network import BYTES_PER_SECOND

ACK_MS = 25.0  # mean of the simulator's 10–40 ms stick ack


def limit_seconds(n: int, req: M.Request, reply_len: int) -> float:
    """What the line and the stick allow at best: requests go out one ack apart,
    and every byte in and out crosses 115200 baud."""
    out = len(encode_frame(M.encode(req)))
    ack = len(encode_frame("0000000100C1"))
    return n * max(ACK_MS / 1000.0, (out + ack + reply_len) / BYTES_PER_SECOND)


def one_by_one(stick: Stick, reqs: list[M.Request]) -> float:
    t0 = time.perf_counter()
    for r in reqs:
        stick.call(r)
    return time.perf_counter() - t0


def main() -> int:
    print(f"{'case':34} {'pipelined':>10} {'serial':>10} {'limit':>8} {'pipe/limit':>10} {'speed-up':>9}")
    worst_ratio, worst_speedup = 0.0, 1e9
    power_len = len(encode_frame("0013" + "0000" + "0" * 16 + "0" * 28))
    for n in (8, 32, 63):
        url = f"sim://?circles={n}&seed={100 + n}"  # a distinct network per size
        virtual.forget(url)
        with Stick(url, timeout=10.0, window=16) as stick:
            circles = [Circle(stick, virtual.circle_mac(i)) for i in range(1, n + 1)]
            circles.append(Circle(stick, virtual.CIRCLE_PLUS_MAC))
            poll_power(circles)  # calibrations, once
            t0 = time.perf_counter()
            res = poll_power(circles)
            pipelined = time.perf_counter() - t0
            assert not any(isinstance(v, Exception) for v in res.values())
            serial_t = one_by_one(stick, [M.PowerRequest(mac=c.mac) for c in circles])
        count = len(circles)
        limit = limit_seconds(count, M.PowerRequest(mac=circles[0].mac), power_len)
        ratio, speedup = pipelined / limit, serial_t / pipelined
        if count == 64:
            worst_ratio, worst_speedup = ratio, speedup
        print(
            f"power poll, {count:2d} circles{'':16} {pipelined:9.3f}s {serial_t:9.3f}s {limit:7.3f}s "
            f"{ratio:9.2f}x {speedup:8.1f}x"
        )
    url = "sim://?circles=1&seed=9&history=200"
    virtual.forget(url)
    with Stick(url, timeout=10.0, window=16) as stick:
        c = Circle(stick, virtual.circle_mac(1))
        c.calibration()
        t0 = time.perf_counter()
        recs = c.log_range(0, 999)
        pipelined = time.perf_counter() - t0
        serial_t = one_by_one(
            stick, [M.LogBlockRequest(mac=c.mac, log_address=LogAddress.of(b)) for b in range(1000)]
        )
        block_len = len(encode_frame("0049" + "0000" + "0" * 96))
        limit = limit_seconds(1000, M.LogBlockRequest(mac=c.mac, log_address=LogAddress.of(0)), block_len)
        print(
            f"1000 log blocks ({len(recs)} records){'':5} {pipelined:9.3f}s {serial_t:9.3f}s {limit:7.3f}s "
            f"{pipelined / limit:9.2f}x {serial_t / pipelined:8.1f}x"
        )
    ok = worst_ratio <= 1.5 and worst_speedup >= 4.0
    print(
        f"target 64 circles: ≤ 1.5x the limit and ≥ 4x one-at-a-time → "
        f"{worst_ratio:.2f}x, {worst_speedup:.1f}x: {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
