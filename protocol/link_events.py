"""The link's vocabulary: priorities, the handles `Link.submit` gives back, the events
`Link.next_event` returns (frozen dataclasses, in the spirit of h11's events) and the
counters the shell shows as link stats."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from . import messages as M
from .errors import PlugwiseError


class Priority(enum.IntEnum):
    USER = 0  # a key press: goes ahead of everything queued
    NORMAL = 1
    BACKGROUND = 2  # history catch-up and other bulk reads


@dataclass(frozen=True)
class Handle:
    """What `submit` gives back; events name their request by it."""

    number: int
    request: M.Request = field(compare=False)


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The request ended well: `message` is the node's reply or its confirming ack."""

    handle: Handle
    message: M.Message


@dataclass(frozen=True)
class Failed:
    """The request ended badly; `error` says why (a `PlugwiseError`, one line)."""

    handle: Handle
    error: PlugwiseError


@dataclass(frozen=True)
class Acked:
    """The stick took the request and numbered it `seq`; the node's answer is still due."""

    handle: Handle
    seq: int


@dataclass(frozen=True)
class Unsolicited:
    """A message no request asked for (advertisement, join, stray ping reply …)."""

    message: M.Message


@dataclass(frozen=True)
class Dropped:
    """A frame with a good CRC that nobody waits for or that does not decode."""

    body: str
    reason: str


@dataclass(frozen=True)
class FrameSent:
    """A frame went out (body with CRC): what the communication log records."""

    body: str


@dataclass(frozen=True)
class FrameReceived:
    """A frame with a good CRC came in (body with CRC)."""

    body: str


Event = Reply | Failed | Acked | Unsolicited | Dropped | FrameSent | FrameReceived


@dataclass
class LinkCounters:
    """What the link has seen since it was made; the shell shows them as link stats."""

    frames_in: int = 0
    frames_out: int = 0
    retries: int = 0  # resends after 00E1 or a missing answer
    timeouts: int = 0  # requests that failed for want of an answer
    crc_resends: int = 0  # resends after the stick reported 00C2
    refused: int = 0
    cancelled: int = 0
    dropped: int = 0  # duplicates, answers nobody waits for, undecodable frames
    unsolicited: int = 0
    last_frame_at: float | None = None  # link time (`tick`) of the last frame received
