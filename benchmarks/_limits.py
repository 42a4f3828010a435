"""What no client can beat, for the benchmarks: the wire and the stick's ack rate.

- **wire**: a client that sends the next request when the previous one is acked (as pwtui
  and Plugwise Source do) puts every request, its ack and its node reply through the
  115200-baud line one after another; the byte counts are those of a real exchange with the
  simulator, not estimates.
- **ack rate**: the stick acks one request at a time, so n requests take at least n × the
  capture's median ack (protocol/virtual/timing.py).

A benchmark prints its measured time next to both, with the ratio to each.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serial

from protocol import messages as M
from protocol import virtual
from protocol.frames import FrameDecoder, encode_frame
from protocol.virtual.network import BYTES_PER_SECOND
from protocol.virtual.timing import CAPTURE_ACK_MEAN_MS, CAPTURE_ACK_MEDIAN_MS

CAPTURE = "latency=80"  # the capture's timing, whatever $PWTUI_SIM_LATENCY says


@dataclass(frozen=True)
class Exchange:
    """Bytes on the line for one request: host → stick, the ack, the node's reply."""

    request: int
    ack: int
    reply: int

    @property
    def total(self) -> int:
        return self.request + self.ack + self.reply


def measure_exchange(request: M.Request) -> Exchange:
    """Send `request` (addressed to circle 1) to an instant simulator and count the frames."""
    url = "sim://?circles=1&seed=1&latency=0&history=30"
    virtual.forget(url)
    virtual.register()
    ser = serial.serial_for_url(url, timeout=0.2)
    try:
        out = encode_frame(M.encode(request))
        ser.write(out)
        dec = FrameDecoder()
        sizes: list[int] = []
        deadline = time.monotonic() + 5
        while len(sizes) < 2 and time.monotonic() < deadline:
            sizes += [len(encode_frame(f.body)) for f in dec.feed(ser.read(512))]
    finally:
        ser.close()
        virtual.forget(url)
    if len(sizes) < 2:
        raise RuntimeError(f"no ack and reply for {type(request).__name__}")
    return Exchange(len(out), sizes[0], sizes[1])


@dataclass(frozen=True)
class Limits:
    """The two limits for `n` requests, of which `answered` get a node reply."""

    n: int
    exchange: Exchange
    answered: int | None = None

    @property
    def wire_s(self) -> float:
        answered = self.n if self.answered is None else self.answered
        ex = self.exchange
        return (self.n * (ex.request + ex.ack) + answered * ex.reply) / BYTES_PER_SECOND

    @property
    def ack_s(self) -> float:
        return self.n * CAPTURE_ACK_MEDIAN_MS / 1000.0


HEADER = f"{'case':48} {'measured':>9} {'wire limit':>17} {'ack-rate limit':>18}"


def row(label: str, measured_s: float, limits: Limits) -> str:
    """One line: the measured time, each limit and the ratio to it."""
    return (
        f"{label:48} {measured_s:8.2f}s {limits.wire_s:7.2f}s ({measured_s / limits.wire_s:5.2f}×) "
        f"{limits.ack_s:8.2f}s ({measured_s / limits.ack_s:5.2f}×)"
    )


def legend(exchanges: dict[str, Exchange]) -> str:
    sizes = "; ".join(
        f"{name}: {ex.request}+{ex.ack}+{ex.reply} = {ex.total} bytes" for name, ex in exchanges.items()
    )
    return (
        f"wire limit: request+ack+reply at 115200 baud ({sizes}).\n"
        f"ack-rate limit: n × the capture's median ack, {CAPTURE_ACK_MEDIAN_MS:.1f} ms; its mean is "
        f"{CAPTURE_ACK_MEAN_MS:.1f} ms (most acks are fast), so a pipelined run can finish under it."
    )
