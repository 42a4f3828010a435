"""The virtual Plugwise network: a Stick, a Circle+ and N Circles.

The stick side behaves as PROTOCOL.md describes a real one: every request is
acked `0000 SEQ 00C1` (SEQ grows by one, wraps and skips FFFD–FFFF), node
replies follow with the same SEQ, an unreachable node gets `00E1` seconds
later, a bad CRC gets `00C2`, unknown IDs C1 then E1.  Ack and reply delays
come from a real capture (timing.py; acks queue behind each other); what a
circle answers is in replies.py.  Output leaves at the serial line rate and
a frame is readable once its last byte has arrived.  Faults (faults.py) are
off unless asked for.

Simulated time (`now()`) drives loads, clocks, log buffers and schedules;
line timing is real time.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .. import messages as M
from .. import schedules
from ..fields import LogAddress
from ..frames import FrameDecoder, encode_frame
from .devices import VirtualCircle, make_circle
from .faults import Faults
from .loads import load_for
from .replies import node_replies
from .timing import Timing, default_latency_ms

STICK_MAC = "000D6F0000990000"
CIRCLE_PLUS_MAC = "000D6F0001000000"
BYTES_PER_SECOND = 11520.0  # 115200 baud, 8N1
RESERVED_SEQ = (0xFFFD, 0xFFFE, 0xFFFF)
_ACK_BYTES = len(encode_frame("0000000100C1"))  # 22: header, 12 characters, CRC, CRLF


def circle_mac(index: int) -> str:
    return f"000D6F00010000{index:02X}"


@dataclass(order=True)
class _Out:
    due: float
    order: int
    data: bytes = field(compare=False)


class VirtualNetwork:
    def __init__(
        self,
        circles: int = 8,
        seed: int = 1,
        latency_ms: float | None = None,
        history_days: float = 0.0,
        speed: float = 1.0,
        faults: str = "",
        start: datetime | None = None,
        state_file: str | None = None,
    ) -> None:
        if not 0 <= circles <= 63:
            raise ValueError(f"circles must be 0…63, got {circles}")
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if latency_ms is None:
            latency_ms = default_latency_ms()
        if not latency_ms >= 0:
            raise ValueError(f"latency must be ≥ 0 ms, got {latency_ms}")
        self.seed = seed
        self.latency_ms = latency_ms
        self.speed = speed
        self.faults = Faults.parse(faults, latency_ms)
        self.rng = random.Random(seed)
        # a stream of its own, so faults and pings do not shift the timing a seed replays
        self.timing = Timing(latency_ms, random.Random(seed * 1_000_003 + 17))
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._t0_real = time.monotonic()
        self._t0_sim = (start or datetime.now(UTC)).timestamp()
        self.stick_mac = STICK_MAC
        self.circle_plus_mac = CIRCLE_PLUS_MAC
        self.circles: dict[str, VirtualCircle] = {}
        for i in range(circles + 1):
            mac = CIRCLE_PLUS_MAC if i == 0 else circle_mac(i)
            c = make_circle(i, mac, load_for(i if i else 4, seed), seed)
            if i == 0:
                c.load = load_for(len(("fridge",)) + 3, seed)  # the Circle+ powers a NAS
            self.circles[mac] = c
        t = self.now_ts()
        cp = self.circles[CIRCLE_PLUS_MAC]
        cp.node_table = [circle_mac(i) for i in range(1, circles + 1)] + [M.EMPTY_MAC] * (64 - circles)
        solar_kind = "solar"
        for c in self.circles.values():
            c.clock_set_at = t
            c.powered_at = t
            if self.faults.drift:
                c.drift_per_day = self.faults.drift * (1 if c.index % 2 else -1)
            if c.load.kind == solar_kind:
                c.production_interval = c.log_interval
            c.start_log(t - history_days * 86400.0)
        self.rtc_offset = self.rng.uniform(-30, 30)
        self.advertising: set[str] = set()
        self._next_advert = t + 5.0
        self._seq = self.rng.randrange(0, 0xFFF0)
        self._decoder = FrameDecoder(keep_bad=True)
        self._out: list[_Out] = []
        self._order = 0
        self._buffer = bytearray()
        self._line_free = 0.0
        self._last_ack = 0.0
        self.queue_size = 16  # node requests the stick holds at once
        self._in_flight: list[float] = []  # when each held request's reply leaves
        self.stick_buffer = [0] * schedules.SLOTS
        self.attached = False
        self.vanished = False
        self.requests_seen = 0
        self.requests_by_id: Counter[str] = Counter()  # what the stick was asked, by message id
        self.state_file = state_file
        self.on_change: Callable[[], None] | None = None
        if state_file:
            from .state import load_state

            load_state(self, state_file)

    # --- time --------------------------------------------------------------------

    def now_ts(self) -> float:
        return self._t0_sim + (time.monotonic() - self._t0_real) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), tz=UTC)

    def advance(self) -> None:
        """Bring time-driven state up to now: schedules, advertisements."""
        t = self.now_ts()
        with self._lock:
            for c in self.circles.values():
                c.apply_schedule(t)
            if self.advertising and t >= self._next_advert:
                self._next_advert = t + 75.0
                for mac in sorted(self.advertising):
                    self._emit(
                        time.monotonic(),
                        self._frame(M.AdvertiseResponse(seq=self.rng.randrange(0, 0xFFFC), mac=mac)),
                    )

    # --- test-facing API ---------------------------------------------------------

    def offline_now(self, c: VirtualCircle, t: float) -> bool:
        """The `offline` fault's timetable: whole 10-minute windows, the same for a seed."""
        if not self.faults.offline:
            return False
        window = int(t // 600)
        return random.Random(self.seed * 1_000_003 + c.index * 7919 + window).random() < self.faults.offline

    def _gone(self) -> bool:
        """Unplugged by hand, or inside a `vanish` fault window."""
        if self.vanished:
            return True
        period = self.faults.vanish
        if period and (time.monotonic() - self._t0_real) % period > period - 1.0:
            self._out.clear()
            self._buffer.clear()
            return True
        return False

    def true_energy_wh(self, mac: str, start: datetime, end: datetime, production: bool = False) -> float:
        return self.circles[mac].energy_wh(start.timestamp(), end.timestamp(), production)

    def set_online(self, mac: str, online: bool) -> None:
        with self._lock:
            self.circles[mac].online = online

    def vanish(self) -> None:
        """The stick is unplugged: the open port fails, reopening fails."""
        with self._cond:
            self.vanished = True
            self._out.clear()
            self._buffer.clear()
            self._cond.notify_all()

    def restore(self) -> None:
        with self._cond:
            self.vanished = False
            self.attached = False
            self._cond.notify_all()

    def advertise(self, mac: str, after: float = 0.0) -> None:
        """A new circle asks to join (it sends 0006 about every 75 s), the first time `after` s from now."""
        with self._lock:
            self.advertising.add(mac)
            self._next_advert = self.now_ts() + after

    # --- the line -------------------------------------------------------------------

    def attach(self) -> None:
        with self._lock:
            if self._gone():
                raise OSError("could not open port: no such device (stick unplugged)")
            self.attached = True
            self._decoder = FrameDecoder(keep_bad=True)
            self._out.clear()
            self._buffer.clear()

    def detach(self) -> None:
        with self._cond:
            self.attached = False
            self._cond.notify_all()
        self._changed()

    def write(self, data: bytes) -> None:
        with self._cond:
            if self._gone():
                raise OSError("write failed: device disconnected")
            arrival = time.monotonic() + len(data) / BYTES_PER_SECOND
            for frame in self._decoder.feed(data):
                self._handle(frame.body, frame.crc_ok, arrival)
            self._cond.notify_all()
        self.advance()

    def read(self, size: int, timeout: float | None) -> bytes:
        """Up to `size` bytes that have arrived by now, waiting up to `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._gone():
                    raise OSError("read failed: device disconnected")
                self._deliver(time.monotonic())
                if self._buffer:
                    out = bytes(self._buffer[:size])
                    del self._buffer[:size]
                    return out
                now = time.monotonic()
                wait = 0.05
                if self._out:
                    wait = min(wait, max(0.0, self._done_at(self._out[0]) - now))
                if deadline is not None:
                    if now >= deadline:
                        return b""
                    wait = min(wait, deadline - now)
                self._cond.wait(wait)
                self.advance()

    def in_waiting(self) -> int:
        with self._lock:
            self._deliver(time.monotonic())
            return len(self._buffer)

    def _deliver(self, now: float) -> None:
        """Move frames that have crossed the line in full by `now` to the read buffer."""
        while self._out:
            head = self._out[0]
            done = self._done_at(head)
            if done > now:
                return
            heapq.heappop(self._out)
            self._line_free = done
            data = head.data
            if self.faults.corrupt and self.rng.random() < self.faults.corrupt:
                i = self.rng.randrange(len(data))
                data = data[:i] + bytes([data[i] ^ (1 << self.rng.randrange(8))]) + data[i + 1 :]
            self._buffer += data

    def _done_at(self, out: _Out) -> float:
        """When the last byte of `out` arrives: it starts when due and the line is free."""
        return max(out.due, self._line_free) + len(out.data) / BYTES_PER_SECOND

    def _emit(self, due: float, data: bytes) -> None:
        self._order += 1
        heapq.heappush(self._out, _Out(due, self._order, data))

    def _frame(self, msg: M.Message, prefix: bytes = b"") -> bytes:
        return prefix + encode_frame(M.encode(msg))

    # --- the stick ----------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        while self._seq in RESERVED_SEQ:
            self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def _handle(self, body: str, crc_ok: bool, arrival: float) -> None:
        """Ack a request (acks queue, see timing.py) and schedule the node's reply."""
        self.requests_seen += 1
        self.requests_by_id[body[:4]] += 1
        ack_wire = _ACK_BYTES / BYTES_PER_SECOND
        # the capture's delays run from the end of the write to the frame read in full,
        # so the wire time of the request and of the ack are part of them
        request_wire = (len(body) + 10) / BYTES_PER_SECOND
        ack_at = max(arrival, self._last_ack) + max(0.0, self.timing.ack_s() - request_wire - ack_wire)
        # a bounded queue: with `queue_size` node requests in flight the stick acks
        # the next one only when the earliest of them has been answered
        self._in_flight = [t for t in self._in_flight if t > ack_at]
        if len(self._in_flight) >= self.queue_size:
            self._in_flight.sort()
            ack_at = max(ack_at, self._in_flight[len(self._in_flight) - self.queue_size])
        self._last_ack = ack_at + ack_wire
        seq = self._next_seq()
        if not crc_ok:
            self._emit(ack_at, self._frame(M.Ack(seq=seq, status=M.CRC_ERROR)))
            return
        try:
            msg = M.decode(body)
        except M.DecodeError:
            self._emit(ack_at, self._frame(M.Ack(seq=seq, status=M.CRC_ERROR)))
            return
        self._emit(ack_at, self._frame(M.Ack(seq=seq, status=M.ACCEPTED)))
        replies = self._respond(msg, seq)
        reply_wire = len(self._frame(replies[0])) / BYTES_PER_SECOND if replies else 0.0
        reply_at = ack_at + ack_wire + max(0.0, self.timing.reply_s() - reply_wire)
        e1_at = ack_at + self.faults.e1_delay
        if replies is None:  # unknown ID or unreachable node
            self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
            return
        if not replies:
            return
        node_reply = getattr(msg, "mac", None) is not None and not isinstance(msg, (M.JoinAcceptRequest,))
        if node_reply:
            r = self.rng.random()
            f = self.faults
            if r < f.drop:
                self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
                return
            if r < f.drop + f.late:
                self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
                reply_at = e1_at + self.timing.reply_s() + 0.01
        if node_reply:
            self._in_flight.append(reply_at)
        prefix = b"\x83" if node_reply and self.faults.chatter else b""
        for reply in replies:
            data = self._frame(reply, prefix)
            self._emit(reply_at, data)
            if node_reply and self.rng.random() < self.faults.dup:
                self._emit(reply_at + 0.002, data)
        if self.faults.chatter and self.rng.random() < self.faults.chatter:
            mac = getattr(msg, "mac", None) or self.circle_plus_mac
            self._emit(
                reply_at + 0.001,
                f"# APSRequestNodeInfo: Source MAC: {self.stick_mac}# APSRequestNodeInfo: "
                f"Destination MAC: \r\n{mac}\r\n".encode(),
            )

    def _respond(self, msg: M.Message, seq: int) -> list[M.Message] | None:
        """The replies a request gets, [] for a stick-only ack, None for 00E1."""
        t = self.now_ts()
        if isinstance(msg, M.StickInitRequest):
            cp = self.circle_plus_mac
            return [
                M.StickInitResponse(
                    seq=seq,
                    mac=self.stick_mac,
                    unknown=1,
                    network_online=True,
                    network_id="FD" + cp[2:],
                    short_network_id="34FD",
                    trailer="FF",
                )
            ]
        if isinstance(msg, M.ScheduleBufferRequest):
            sl = schedules.buffer_slice(msg.offset)
            if sl.stop <= schedules.SLOTS:
                self.stick_buffer[sl] = list(msg.values)
            return []
        if isinstance(msg, (M.NetworkUnknownRequest, M.ConnectRequest, M.NetworkQueryRequest)):
            return []
        if isinstance(msg, M.JoiningEnableRequest):
            status = 0x00D9 if msg.enable else 0x00DD
            return [M.Ack(seq=seq, status=status, mac=self.circle_plus_mac)]
        if isinstance(msg, M.JoinAcceptRequest):
            if msg.accept and msg.mac in self.advertising:
                self._join(msg.mac, t)
            return []
        if isinstance(msg, M.UnknownMessage) or msg.RESPONSE:
            return None
        mac = getattr(msg, "mac", None)
        if mac == self.stick_mac and isinstance(msg, M.InfoRequest):
            return [
                M.InfoResponse(
                    seq=seq,
                    mac=mac,
                    datetime=None,
                    log_address=LogAddress(0),
                    relay=False,
                    hz=0x80,
                    hw_version="653907008511",
                    fw_version=datetime.fromtimestamp(0x4E0842BB, tz=UTC),
                    node_type=0,
                )
            ]
        c = self.circles.get(mac or "")
        if c is None or not c.online or not c.joined or self.offline_now(c, t):
            return None
        self._changed()
        return node_replies(self, c, msg, seq, t)

    def _join(self, mac: str, t: float) -> None:
        self.advertising.discard(mac)
        known = self.circles.get(mac)
        if known is not None:  # a removed circle joins again with its own load and log
            known.joined = True
        else:
            index = len(self.circles)
            c = make_circle(index, mac, load_for(index, self.seed), self.seed)
            c.clock_set_at = t
            c.powered_at = t
            c.start_log(t)
            self.circles[mac] = c
        table = self.circles[self.circle_plus_mac].node_table or []
        for i, entry in enumerate(table):
            if entry == M.EMPTY_MAC:
                table[i] = mac
                break
        self._emit(time.monotonic() + 0.5, self._frame(M.JoinedResponse(seq=0xFFFD, mac=mac)))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
