"""How long the virtual stick takes to ack and a virtual circle to answer, from a real capture.

The figures come from the portmon captures of the official Plugwise Source talking to a
Stick (sytsereitsma/restwise `doc/data/*.LOG`, PROTOCOL.md B, source tag [RW]): 193 acks and
199 node replies.  Each delay is measured as portmon shows it, from the end of the write to
the read that completed the frame (the sum of the IRP durations in between):

- **ack** = request written → its `0000 … 00C1` ack read.  Median 76.7 ms, p90 98.5 ms,
  max 337 ms.  Left out: 13 zero delays (overlapped I/O completes the wait before the write
  is logged, so the order, not the stick, makes them 0) and 4 acks of 1.6–4.1 s during node
  discovery (the stick retrying unknown nodes; the `offline` and `drop` faults model that).
- **reply** = ack read → node reply read.  Median 33.0 ms, p90 124.9 ms, with a tail to
  991 ms (p95 224 ms, p98 371 ms).  Left out: 7 "replies" of 4.5–54 s that span idle gaps of
  the capture (one equals an 18.7 s wait on the port); a real stick gives up with `00E1`
  after about 10 s.  Issue 16 quotes p90 188 ms: that is the p90 of all 206 values, these
  7 gaps included.

Delays are sampled from these quantile tables by inverse CDF with linear interpolation,
from the network's own seeded random stream, so a seed replays the same timing.

**Acks queue behind each other** (an assumption, stated because the capture cannot show
it: Source never writes before the previous ack).  The stick's firmware takes one request
at a time from the serial line and acks it when the radio has taken it, so a request that
arrives while another still waits for its ack is acked one ack delay after that one.  That
is what makes the ack rate (about n × 65–77 ms: the mean and the median ack) the limit of any
client that pipelines requests.  Node
replies do not queue: they come back over the mesh independently, bounded only by the
stick's queue of held requests (`VirtualNetwork.queue_size`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import random
from dataclasses import dataclass

LATENCY_ENV = "PWTUI_SIM_LATENCY"
"""Default `latency=` for sim:// URLs that give none (tests/conftest.py sets it to a fast one)."""

NOMINAL_LATENCY_MS = 80.0
"""`latency=80` (DESIGN.md's example, `pwtui simulate`'s default) is the capture as measured;
`latency=N` scales every delay by N / 80, `latency=0` answers at once."""


@dataclass(frozen=True)
class Distribution:
    """An empirical distribution given by (cumulative share, milliseconds) points."""

    points: tuple[tuple[float, float], ...]

    def quantile(self, p: float) -> float:
        """The delay in ms below which a share `p` of the samples lies."""
        shares = [s for s, _ in self.points]
        i = bisect.bisect_right(shares, p)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (s0, v0), (s1, v1) = self.points[i - 1], self.points[i]
        return v0 + (v1 - v0) * (p - s0) / (s1 - s0)

    def mean_ms(self) -> float:
        """The mean of the distribution (exact for piecewise-linear quantiles)."""
        pts = self.points
        return sum((s1 - s0) * (v0 + v1) / 2 for (s0, v0), (s1, v1) in itertools.pairwise(pts))

    def sample_ms(self, rng: random.Random) -> float:
        return self.quantile(rng.random())


CAPTURE_ACK = Distribution(
    (
        (0.00, 14.3),
        (0.05, 15.5),
        (0.10, 16.5),
        (0.15, 19.9),
        (0.20, 22.8),
        (0.25, 29.1),
        (0.30, 34.6),
        (0.35, 38.4),
        (0.40, 44.0),
        (0.45, 53.1),
        (0.50, 76.7),
        (0.55, 79.1),
        (0.60, 79.5),
        (0.65, 80.1),
        (0.70, 80.7),
        (0.75, 82.7),
        (0.80, 94.6),
        (0.85, 95.5),
        (0.90, 98.5),
        (0.95, 116.8),
        (0.98, 175.6),
        (1.00, 337.5),
    )
)

CAPTURE_REPLY = Distribution(
    (
        (0.00, 0.0),
        (0.05, 0.0),
        (0.10, 15.3),
        (0.15, 15.9),
        (0.20, 16.1),
        (0.25, 17.1),
        (0.30, 22.7),
        (0.35, 30.0),
        (0.40, 31.3),
        (0.45, 31.9),
        (0.50, 33.0),
        (0.55, 45.2),
        (0.60, 61.9),
        (0.65, 63.5),
        (0.70, 78.4),
        (0.75, 94.2),
        (0.80, 101.2),
        (0.85, 115.0),
        (0.90, 124.9),
        (0.95, 224.0),
        (0.98, 370.8),
        (1.00, 991.4),
    )
)

CAPTURE_ACK_MEDIAN_MS = CAPTURE_ACK.quantile(0.5)
CAPTURE_ACK_MEAN_MS = CAPTURE_ACK.mean_ms()  # 65 ms: most acks come fast, so below the median
CAPTURE_REPLY_MEDIAN_MS = CAPTURE_REPLY.quantile(0.5)
CAPTURE_REPLY_P90_MS = CAPTURE_REPLY.quantile(0.9)


def parse_latency(text: str, source: str) -> float:
    """A `latency=` value in ms (≥ 0, finite), or a ValueError naming `source`."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{source}: latency={text!r} is not a number of milliseconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{source}: latency={text!r} must be a number of milliseconds ≥ 0")
    return value


def default_latency_ms() -> float:
    """The latency for a network that was given none: $PWTUI_SIM_LATENCY, else the capture."""
    text = os.environ.get(LATENCY_ENV, "").strip()
    if not text:
        return NOMINAL_LATENCY_MS
    return parse_latency(text, f"environment variable {LATENCY_ENV}")


@dataclass
class Timing:
    """The stick's ack delay and the nodes' reply delay for one network, in seconds."""

    latency_ms: float
    rng: random.Random

    @property
    def scale(self) -> float:
        return self.latency_ms / NOMINAL_LATENCY_MS

    def ack_s(self) -> float:
        """Request written → ack read, as the capture measures it."""
        if self.latency_ms <= 0:
            return 0.0
        return CAPTURE_ACK.sample_ms(self.rng) * self.scale / 1000.0

    def reply_s(self) -> float:
        """Ack read → node reply read, as the capture measures it."""
        if self.latency_ms <= 0:
            return 0.0
        return CAPTURE_REPLY.sample_ms(self.rng) * self.scale / 1000.0
