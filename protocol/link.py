"""The link core: request/reply bookkeeping of the Plugwise stick as a pure state machine.

In the spirit of h11 (EXAMPLES.md §1) the `Link` holds state and buffers but no port, thread,
Future or clock.  The I/O shell (`protocol/stick.py`) hands it requests (`submit`), bytes
(`receive_data`) and the time (`tick`), writes what `data_to_send` returns and acts on the
events `next_event` returns.  That makes every rule below testable by feeding frames:

- One request at a time waits for the stick's own `0000` ack; the next goes as soon as it
  arrives (PROTOCOL.md A §2, B §9.4).  The ack's SEQ ties every later message to the request.
- At most `window` acked requests wait for a node's answer; the queue is served by priority,
  first come first served within a priority.
- How a request ends is declared next to it (`REPLY`, `ACK_OK`, `ACK_REFUSED` in
  `messages.py`); a request with none of them ends at the stick's `00C1`.
- `00E1`, no answer within `timeout` or no stick ack within `ack_timeout`: resent up to
  `retries` times, then `Failed(NodeTimeout)`.  A late answer to an earlier attempt still counts.
- `00C2` (the stick saw a bad CRC): resent at once, at most `crc_resends` times in a row.
- The stick has one schedule buffer: schedule requests go in one `submit_all` batch, and one
  batch at a time uses the buffer; when a request of the batch fails, the rest are abandoned.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import messages as M
from .errors import (
    BatchAbandoned,
    LocalProtocolError,
    NodeRefused,
    NodeTimeout,
    PlugwiseError,
    RemoteProtocolError,
)
from .fields import FieldError
from .frames import FrameDecoder, crc16, encode_frame
from .link_events import (
    Acked,
    Dropped,
    Event,
    Failed,
    FrameReceived,
    FrameSent,
    Handle,
    LinkCounters,
    Priority,
    Reply,
    Unsolicited,
)

__all__ = [
    "Acked",
    "Dropped",
    "Event",
    "Failed",
    "FrameReceived",
    "FrameSent",
    "Handle",
    "Link",
    "LinkCounters",
    "Priority",
    "Reply",
    "Unsolicited",
    "check_request",
    "ends_at_stick_ack",
]

#: Messages that arrive without a request: advertisements, joins, SED traffic, stray pings.
UNSOLICITED = frozenset({"0006", "0061", "004F", "0056", "0105", "000E"})
#: Sequence numbers the stick never assigns to a request (B §1).
RESERVED_SEQ = frozenset({0xFFFD, 0xFFFE, 0xFFFF})
#: Requests that use the stick's single schedule buffer.
SCHEDULE_REQUESTS = (M.ScheduleBufferRequest, M.ScheduleCommitRequest)


# --- bookkeeping ----------------------------------------------------------------------


@dataclass(eq=False)
class _Batch:
    """Requests submitted together; a schedule batch owns the stick's buffer while it lives."""

    entries: list[_Entry] = field(default_factory=list)
    schedule: bool = False
    abandoned: bool = False

    @property
    def live(self) -> bool:
        return any(not e.done for e in self.entries)


@dataclass(eq=False)
class _Entry:
    handle: Handle
    body: str
    priority: int
    order: int
    timeout: float
    batch: _Batch | None = None
    attempts: int = 0
    crc_errors: int = 0
    seqs: list[int] = field(default_factory=list)
    deadline: float = 0.0  # when the node's answer is due (while in `_awaiting`)
    done: bool = False

    @property
    def mac(self) -> str | None:
        mac = getattr(self.handle.request, "mac", None)
        return mac if isinstance(mac, str) else None

    @property
    def name(self) -> str:
        return self.handle.request.NAME


def ends_at_stick_ack(request: M.Request) -> bool:
    """True for requests no node answers (e.g. `003B`): the stick's `00C1` ends them."""
    return request.REPLY is None and not request.ACK_OK and not request.ACK_REFUSED


def check_request(request: object, *, in_batch: bool = False) -> M.Request:
    """Raise LocalProtocolError for what the link refuses to send; the shell checks early."""
    if not isinstance(request, M.Request):
        raise LocalProtocolError(f"not a request: {request!r}")
    if isinstance(request, SCHEDULE_REQUESTS) and not in_batch:
        raise LocalProtocolError(
            f"{request.NAME}: schedule requests go in one submit_all batch (the stick has one buffer)"
        )
    _body(request)
    return request


def _body(request: M.Request) -> str:
    try:
        return M.encode(request)
    except FieldError as exc:
        raise LocalProtocolError(f"cannot encode {request.NAME}: {exc}") from None


class Link:
    """The stick link's state; see the module docstring for its rules."""

    def __init__(
        self,
        *,
        window: int = 8,
        retries: int = 2,
        timeout: float = 10.0,
        ack_timeout: float = 1.5,
        crc_resends: int = 3,
        now: float = 0.0,
    ) -> None:
        if window < 1 or retries < 0 or crc_resends < 0 or timeout <= 0 or ack_timeout <= 0:
            raise LocalProtocolError(
                f"bad link settings: window={window} retries={retries} crc_resends={crc_resends} "
                f"timeout={timeout} ack_timeout={ack_timeout}"
            )
        self.window = window
        self.retries = retries
        self.timeout = timeout
        self.ack_timeout = ack_timeout
        self.crc_resends = crc_resends
        self.counters = LinkCounters()
        self._now = now
        self._decoder = FrameDecoder()
        self._numbers = itertools.count(1)
        self._order = itertools.count()
        self._queue: list[tuple[int, int, _Entry]] = []
        self._live: dict[int, _Entry] = {}
        self._in_flight: _Entry | None = None
        self._ack_deadline = 0.0
        self._pending: dict[int, _Entry] = {}  # seq → request, earlier attempts included
        self._awaiting: set[_Entry] = set()  # acked, the node's answer due
        self._recent: deque[int] = deque(maxlen=32)  # seqs the stick gave lately (B §9.6)
        self._schedule_owner: _Batch | None = None
        self._events: deque[Event] = deque()

    # --- what the shell asks ----------------------------------------------------------

    @property
    def bad_frames(self) -> int:
        """Frames dropped for a bad CRC or a broken layout, since the link was made."""
        return self._decoder.stats.bad_crc + self._decoder.stats.malformed

    @property
    def waiting_replies(self) -> int:
        """Acked requests whose node answer is still due (bounded by `window`)."""
        return len(self._awaiting)

    @property
    def outstanding(self) -> int:
        """Requests not yet ended: queued, in flight or awaiting an answer."""
        return len(self._live)

    def submit(
        self, request: M.Request, priority: int = Priority.NORMAL, *, timeout: float | None = None
    ) -> Handle:
        """Queue one request; its end comes as a `Reply` or `Failed` event."""
        return self._add(check_request(request), int(priority), timeout, None)

    def submit_all(
        self, requests: Iterable[M.Request], priority: int = Priority.NORMAL, *, timeout: float | None = None
    ) -> list[Handle]:
        """Queue requests to be sent in this order.  A batch with schedule requests holds the
        stick's schedule buffer until its last request ends; if one fails, the rest fail too."""
        reqs = [check_request(r, in_batch=True) for r in requests]
        if not reqs:
            raise LocalProtocolError("submit_all: no requests")
        batch = _Batch(schedule=any(isinstance(r, SCHEDULE_REQUESTS) for r in reqs))
        return [self._add(r, int(priority), timeout, batch) for r in reqs]

    def cancel(self, handle: Handle) -> bool:
        """Forget a request (its caller gave up); False if it had already ended.

        A stick ack or answer that still comes for it is dropped.  Cancelling part of a
        schedule batch abandons the rest of it."""
        entry = self._live.get(handle.number)
        if entry is None:
            return False
        self.counters.cancelled += 1
        self._end(entry, None)
        return True

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the port, cut anywhere; events follow from `next_event`."""
        for frame in self._decoder.feed(data):
            self._on_frame(frame.body, frame.crc)

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """The next frame to write, or b"" when the link must wait (for an ack or the window)."""
        entry = self._next_to_send()
        if entry is None:
            return b""
        entry.attempts += 1
        self._in_flight = entry
        self._ack_deadline = self._now + self.ack_timeout
        if entry.batch is not None and entry.batch.schedule:
            self._schedule_owner = entry.batch
        self.counters.frames_out += 1
        self._events.append(FrameSent(entry.body + crc16(entry.body)))
        return encode_frame(entry.body)

    def tick(self, now: float) -> None:
        """Tell the link the time (seconds, monotonic): ack and reply timeouts happen here."""
        if now < self._now:
            raise LocalProtocolError(f"time went backwards: {now} < {self._now}")
        self._now = now
        entry = self._in_flight
        if entry is not None and now >= self._ack_deadline:
            self._in_flight = None
            self._recent.clear()  # the stick may have restarted its numbering
            if not entry.done:
                self._retry_or_fail(entry, NodeTimeout(entry.mac, f"{entry.name}, no ack from the stick"))
        for entry in sorted((e for e in self._awaiting if now >= e.deadline), key=lambda e: e.order):
            self._retry_or_fail(entry, NodeTimeout(entry.mac, f"{entry.name}, no reply"))

    def abort(self, error: PlugwiseError) -> None:
        """The port is gone: every request fails with `error`; the link starts afresh (the
        counters stay), ready for a reopened port."""
        entries = sorted(self._live.values(), key=lambda e: e.order)
        for entry in entries:
            if entry.batch is not None:
                entry.batch.abandoned = True  # each gets the real reason, not "abandoned"
        for entry in entries:
            self._end(entry, Failed(entry.handle, error))
        self._queue.clear()
        self._pending.clear()
        self._awaiting.clear()
        self._recent.clear()
        self._in_flight = None
        self._schedule_owner = None
        self._decoder = FrameDecoder(stats=self._decoder.stats)

    # --- sending -----------------------------------------------------------------------

    def _add(self, request: M.Request, priority: int, timeout: float | None, batch: _Batch | None) -> Handle:
        body = _body(request)
        handle = Handle(next(self._numbers), request)
        t = self.timeout if timeout is None else timeout
        if t <= 0:
            raise LocalProtocolError(f"{request.NAME}: timeout must be positive, not {t}")
        entry = _Entry(handle, body, priority, next(self._order), t, batch)
        if batch is not None:
            batch.entries.append(entry)
        self._live[handle.number] = entry
        heapq.heappush(self._queue, (priority, entry.order, entry))
        return handle

    def _next_to_send(self) -> _Entry | None:
        if self._in_flight is not None or len(self._awaiting) >= self.window:
            return None
        held: list[tuple[int, int, _Entry]] = []
        found: _Entry | None = None
        while self._queue:
            item = heapq.heappop(self._queue)
            entry = item[2]
            if entry.done:
                continue
            batch = entry.batch
            if batch is not None and batch.schedule and self._schedule_owner not in (None, batch):
                held.append(item)  # another upload holds the stick's buffer
                continue
            found = entry
            break
        for item in held:
            heapq.heappush(self._queue, item)
        return found

    def _requeue(self, entry: _Entry) -> None:
        # the original order: a resend goes before later requests of its priority
        heapq.heappush(self._queue, (entry.priority, entry.order, entry))

    # --- receiving ---------------------------------------------------------------------

    def _on_frame(self, body: str, crc: str) -> None:
        self.counters.frames_in += 1
        self.counters.last_frame_at = self._now
        self._events.append(FrameReceived(body + crc))
        try:
            msg = M.decode(body)
        except M.DecodeError as exc:
            self._drop(body, f"undecodable: {exc}")
            return
        if self._stick_ack(msg):
            return
        seq = msg.seq
        entry = self._pending.get(seq) if seq is not None else None
        if entry is not None and not entry.done and self._answer(entry, msg, body):
            return
        if msg.ID in UNSOLICITED or seq in RESERVED_SEQ:
            self.counters.unsolicited += 1
            self._events.append(Unsolicited(msg))
            return
        what = f"seq {seq:04X}" if seq is not None else "no seq"
        self._drop(body, f"{msg.NAME} ({what}): nobody waits for it")

    def _stick_ack(self, msg: M.Message) -> bool:
        """The stick's own 00C1/00C2 for the request in flight; True if it was one."""
        entry = self._in_flight
        if not (
            isinstance(msg, M.Ack)
            and msg.mac is None
            and msg.status in (M.ACCEPTED, M.CRC_ERROR)
            and entry is not None
            and msg.seq is not None
            and msg.seq not in self._pending
            and msg.seq not in self._recent  # a duplicate of an earlier ack
        ):
            return False
        self._in_flight = None
        if entry.done:
            return True  # cancelled while in flight: its answer will be dropped
        if msg.status == M.CRC_ERROR:
            self._crc_error(entry)
            return True
        self._recent.append(msg.seq)
        self._events.append(Acked(entry.handle, msg.seq))
        if ends_at_stick_ack(entry.handle.request):
            self._end(entry, Reply(entry.handle, msg))
            return True
        entry.seqs.append(msg.seq)
        self._pending[msg.seq] = entry
        entry.deadline = self._now + entry.timeout
        self._awaiting.add(entry)
        return True

    def _crc_error(self, entry: _Entry) -> None:
        entry.attempts -= 1  # the line garbled it: not the node's failure
        entry.crc_errors += 1
        if entry.crc_errors > self.crc_resends:
            self._end(
                entry,
                Failed(
                    entry.handle,
                    RemoteProtocolError(
                        f"the stick reported a CRC error for {entry.name} {entry.crc_errors} times; "
                        f"giving up (is the line noisy?)"
                    ),
                ),
            )
            return
        self.counters.crc_resends += 1
        self._requeue(entry)

    def _answer(self, entry: _Entry, msg: M.Message, body: str) -> bool:
        """A message with a pending request's seq; True if it ended or concerned the request."""
        request = entry.handle.request
        if isinstance(msg, M.Ack):
            if msg.status == M.TIMEOUT:
                if entry in self._awaiting and msg.seq == entry.seqs[-1]:
                    self._retry_or_fail(entry, NodeTimeout(entry.mac, request.NAME))
                else:
                    self._drop(body, f"00E1 for an earlier attempt of {request.NAME}")
                return True
            if msg.status in request.ACK_OK:
                self._end(entry, Reply(entry.handle, msg))
                return True
            if msg.status in request.ACK_REFUSED:
                self.counters.refused += 1
                self._end(entry, Failed(entry.handle, NodeRefused(entry.mac, msg.status, request.NAME)))
                return True
            self._drop(body, f"ack {msg.status:04X} is no answer to {request.NAME}")
            return True
        reply_mac = getattr(msg, "mac", None)
        if msg.ID == request.REPLY and (entry.mac is None or reply_mac in (None, entry.mac)):
            self._end(entry, Reply(entry.handle, msg))
            return True
        return False

    # --- ending --------------------------------------------------------------------------

    def _retry_or_fail(self, entry: _Entry, error: PlugwiseError) -> None:
        self._awaiting.discard(entry)
        if entry.attempts <= self.retries:
            self.counters.retries += 1
            self._requeue(entry)
            return  # entries of earlier attempts stay in _pending: a late answer counts
        self.counters.timeouts += 1
        self._end(entry, Failed(entry.handle, error))

    def _end(self, entry: _Entry, event: Reply | Failed | None) -> None:
        """Finish a request with `event` (None: cancelled, no event)."""
        entry.done = True
        self._awaiting.discard(entry)
        self._live.pop(entry.handle.number, None)
        for seq in entry.seqs:
            if self._pending.get(seq) is entry:
                del self._pending[seq]
        if event is not None:
            self._events.append(event)
        batch = entry.batch
        if batch is None or not batch.schedule:
            return
        if not isinstance(event, Reply) and not batch.abandoned:
            batch.abandoned = True
            why = "cancelled" if event is None else str(event.error)
            for other in batch.entries:
                if not other.done:
                    self._end(
                        other,
                        Failed(
                            other.handle, BatchAbandoned(f"schedule upload abandoned: {entry.name} {why}")
                        ),
                    )
        if self._schedule_owner is batch and not batch.live:
            self._schedule_owner = None

    def _drop(self, body: str, reason: str) -> None:
        self.counters.dropped += 1
        self._events.append(Dropped(body, reason))
