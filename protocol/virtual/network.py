"""The virtual Plugwise network: a Stick, a Circle+ and N Circles.

The stick side behaves as PROTOCOL.md describes a real one: every request is
acked `0000 SEQ 00C1` (SEQ grows by one, wraps and skips FFFD–FFFF), node
replies follow with the same SEQ after a node latency, an unreachable node
gets `00E1` seconds later, a bad CRC gets `00C2`, unknown IDs C1 then E1.
Output leaves at the serial line rate.  Faults (drops, corruption,
duplicates, chatter, late replies) are off unless asked for.

Simulated time (`now()`) drives loads, clocks, log buffers and schedules;
line timing is real time.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .. import messages as M
from .. import schedules, units
from ..fields import LogAddress
from ..frames import FrameDecoder, encode_frame
from .devices import VirtualCircle, make_circle
from .loads import load_for

STICK_MAC = "000D6F0000990000"
CIRCLE_PLUS_MAC = "000D6F0001000000"
BYTES_PER_SECOND = 11520.0  # 115200 baud, 8N1
RESERVED_SEQ = (0xFFFD, 0xFFFE, 0xFFFF)


def circle_mac(index: int) -> str:
    return f"000D6F00010000{index:02X}"


@dataclass
class Faults:
    drop: float = 0.0  # node reply lost → 00E1
    corrupt: float = 0.0  # share of outgoing frames with one corrupted byte
    dup: float = 0.0  # node reply sent twice
    late: float = 0.0  # 00E1 first, then the real reply
    chatter: float = 0.0  # 0x83 before node replies, `# APS…` lines
    offline: float = 0.0  # share of 10-minute windows each circle is unreachable (a timetable by seed)
    drift: float = 0.0  # clock drift, seconds per day (± by circle) instead of the default few seconds
    vanish: float = 0.0  # the stick disappears for a second every this many seconds
    e1_delay: float = 3.0  # seconds from ack to 00E1

    @classmethod
    def parse(cls, text: str, latency_ms: float) -> Faults:
        f = cls(e1_delay=3.0 if latency_ms > 0 else 0.05)
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = item.partition("=")
            name = {"drops": "drop", "duplicate": "dup", "duplicates": "dup", "e1": "e1_delay"}.get(
                name, name
            )
            if name not in cls.__dataclass_fields__:
                raise ValueError(
                    f"unknown fault {name!r} (known: drop, corrupt, dup, late, chatter, offline, "
                    f"drift, vanish, e1)"
                )
            try:
                number = float(value) if value else (0.05 if name == "chatter" else 1.0)
            except ValueError:
                raise ValueError(f"fault {name}: {value!r} is not a number") from None
            setattr(f, name, number)
        return f


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
        latency_ms: float = 80.0,
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
        self.seed = seed
        self.latency_ms = latency_ms
        self.speed = speed
        self.faults = Faults.parse(faults, latency_ms)
        self._rng = random.Random(seed)
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
            if self.faults.drift:
                c.drift_per_day = self.faults.drift * (1 if c.index % 2 else -1)
            if c.load.kind == solar_kind:
                c.production_interval = c.log_interval
            c.start_log(t - history_days * 86400.0)
        self.rtc_offset = self._rng.uniform(-30, 30)
        self.advertising: set[str] = set()
        self._next_advert = t + 5.0
        self._seq = self._rng.randrange(0, 0xFFF0)
        self._decoder = FrameDecoder(keep_bad=True)
        self._out: list[_Out] = []
        self._order = 0
        self._buffer = bytearray()
        self._line_free = 0.0
        self._last_ack = 0.0
        self.queue_size = 16  # node requests the stick holds at once
        self._in_flight: list[float] = []  # when each held request's reply leaves
        self._stick_buffer = [0] * schedules.SLOTS
        self.attached = False
        self.vanished = False
        self.requests_seen = 0
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
                        self._frame(M.AdvertiseResponse(seq=self._rng.randrange(0, 0xFFFC), mac=mac)),
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

    def advertise(self, mac: str) -> None:
        """A new circle asks to join (it sends 0006 about every 75 s)."""
        with self._lock:
            self.advertising.add(mac)
            self._next_advert = self.now_ts()

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
                    wait = min(wait, max(0.0, max(self._out[0].due, self._line_free) - now))
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
        while self._out:
            head = self._out[0]
            start = max(head.due, self._line_free)
            if start > now:
                return
            heapq.heappop(self._out)
            self._line_free = start + len(head.data) / BYTES_PER_SECOND
            data = head.data
            if self.faults.corrupt and self._rng.random() < self.faults.corrupt:
                i = self._rng.randrange(len(data))
                data = data[:i] + bytes([data[i] ^ (1 << self._rng.randrange(8))]) + data[i + 1 :]
            self._buffer += data

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

    def _delay(self, low_ms: float, high_ms: float, tail_ms: float = 0.0) -> float:
        if self.latency_ms <= 0:
            return 0.0
        scale = self.latency_ms / 80.0
        ms = self._rng.uniform(low_ms, high_ms)
        if tail_ms and self._rng.random() < 0.05:
            ms = self._rng.uniform(high_ms, tail_ms)
        return ms * scale / 1000.0

    def _handle(self, body: str, crc_ok: bool, arrival: float) -> None:
        self.requests_seen += 1
        ack_at = max(arrival, self._last_ack) + (self._delay(10, 40) if self.latency_ms > 0 else 0.0)
        # a bounded queue: with `queue_size` node requests in flight the stick acks
        # the next one only when the earliest of them has been answered
        self._in_flight = [t for t in self._in_flight if t > ack_at]
        if len(self._in_flight) >= self.queue_size:
            self._in_flight.sort()
            ack_at = max(ack_at, self._in_flight[len(self._in_flight) - self.queue_size])
        self._last_ack = ack_at
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
        reply_at = ack_at + self._delay(30, 200, 500)
        e1_at = ack_at + self.faults.e1_delay
        replies = self._respond(msg, seq)
        if replies is None:  # unknown ID or unreachable node
            self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
            return
        if not replies:
            return
        node_reply = getattr(msg, "mac", None) is not None and not isinstance(msg, (M.JoinAcceptRequest,))
        if node_reply:
            r = self._rng.random()
            f = self.faults
            if r < f.drop:
                self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
                return
            if r < f.drop + f.late:
                self._emit(e1_at, self._frame(M.Ack(seq=seq, status=M.TIMEOUT)))
                reply_at = e1_at + self._delay(50, 400) + 0.01
        if node_reply:
            self._in_flight.append(reply_at)
        prefix = b"\x83" if node_reply and self.faults.chatter else b""
        for reply in replies:
            data = self._frame(reply, prefix)
            self._emit(reply_at, data)
            if node_reply and self._rng.random() < self.faults.dup:
                self._emit(reply_at + 0.002, data)
        if self.faults.chatter and self._rng.random() < self.faults.chatter:
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
                self._stick_buffer[sl] = list(msg.values)
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
        return self._node(c, msg, seq, t)

    def _join(self, mac: str, t: float) -> None:
        self.advertising.discard(mac)
        index = len(self.circles)
        c = make_circle(index, mac, load_for(index, self.seed), self.seed)
        c.clock_set_at = t
        c.start_log(t)
        self.circles[mac] = c
        table = self.circles[self.circle_plus_mac].node_table or []
        for i, entry in enumerate(table):
            if entry == M.EMPTY_MAC:
                table[i] = mac
                break
        self._emit(time.monotonic() + 0.5, self._frame(M.JoinedResponse(seq=0xFFFD, mac=mac)))

    def _node(self, c: VirtualCircle, msg: M.Message, seq: int, t: float) -> list[M.Message] | None:
        mac = c.mac
        if isinstance(msg, M.PingRequest):
            return [
                M.PingResponse(
                    seq=seq,
                    mac=mac,
                    rssi_in_dbm=-self._rng.randrange(60, 90),
                    rssi_out_dbm=-self._rng.randrange(60, 90),
                    ping_ms=self._rng.randrange(10, 60),
                )
            ]
        if isinstance(msg, M.PowerRequest):
            w = c.true_watts(t)
            hour_start = t - t % 3600
            cons_wh = c.energy_wh(hour_start, t)
            prod_wh = c.energy_wh(hour_start, t, production=True)
            p1 = max(-32768, min(32767, c.pulses(w, 1)))
            p8 = max(-32768, min(32767, c.pulses(w, 8)))
            # the hour counters read back as Wh with seconds=3600 (PROTOCOL.md B §4)
            return [
                M.PowerResponse(
                    seq=seq,
                    mac=mac,
                    pulses_1s=p1,
                    pulses_8s=p8,
                    pulses_hour=max(0, c.pulses(cons_wh, 3600)),
                    pulses_hour_production=min(0, c.pulses(-prod_wh, 3600)),
                    offset=self._rng.randrange(0, 16),
                )
            ]
        if isinstance(msg, M.SwitchRequest):
            c.set_relay(msg.relay, t)
            return [M.Ack(seq=seq, status=0x00D8 if msg.relay else 0x00DE, mac=mac)]
        if isinstance(msg, M.InfoRequest):
            ct = c.circle_time(t)
            pos = c.write_position(t)
            return [
                M.InfoResponse(
                    seq=seq,
                    mac=mac,
                    datetime=ct.replace(second=0, microsecond=0),
                    log_address=LogAddress(units.LOG_BASE + 8 * pos),
                    relay=c.relay,
                    hz=0x85,
                    hw_version=c.hw_version,
                    fw_version=datetime.fromtimestamp(c.fw_version, tz=UTC),
                    node_type=c.node_type,
                )
            ]
        if isinstance(msg, M.CalibrationRequest):
            cal = c.calibration
            return [
                M.CalibrationResponse(
                    seq=seq,
                    mac=mac,
                    gain_a=cal.gain_a,
                    gain_b=cal.gain_b,
                    off_tot=cal.off_tot,
                    off_noise=cal.off_noise,
                )
            ]
        if isinstance(msg, M.ClockSetRequest):
            when = msg.datetime or datetime.fromtimestamp(t, tz=UTC)
            when = when.replace(hour=msg.hour, minute=msg.minute, second=msg.second)
            c.set_clock(when, t)
            return [M.Ack(seq=seq, status=0x00D7, mac=mac)]
        if isinstance(msg, M.ClockGetRequest):
            ct = c.circle_time(t)
            return [
                M.ClockResponse(
                    seq=seq,
                    mac=mac,
                    hour=ct.hour,
                    minute=ct.minute,
                    second=ct.second,
                    day_of_week=ct.isoweekday(),
                    unknown=1,
                    schedule_crc=c.schedule_crc,
                )
            ]
        if isinstance(msg, M.LogBlockRequest):
            block = msg.log_address.block
            if block is None:
                return None
            entries = tuple(c.entry_at(block * 4 + s, t) for s in range(4))
            return [M.LogBlockResponse(seq=seq, mac=mac, entries=entries, log_address=LogAddress.of(block))]
        if isinstance(msg, M.LogIntervalRequest):
            c.change_intervals(msg.consumption, msg.production, t)
            return [M.Ack(seq=seq, status=0x00F8, mac=mac)]
        if isinstance(msg, M.ScheduleCommitRequest):
            if 1 <= msg.index <= schedules.COMMITS:
                sl = schedules.commit_slice(msg.index)
                c.schedule_values[sl] = self._stick_buffer[sl]
            return [M.ScheduleCommitResponse(seq=seq, mac=mac, index=msg.index)]
        if isinstance(msg, M.ScheduleEnableRequest):
            c.schedule_enabled = msg.enabled
            c.apply_schedule(t)
            return [M.Ack(seq=seq, status=0x00E4 if msg.enabled else 0x00E5, mac=mac)]
        if isinstance(msg, M.ScheduleValueRequest):
            c.schedule_values = [msg.value] * schedules.SLOTS
            return [M.Ack(seq=seq, status=0x00FA, mac=mac)]
        if isinstance(msg, M.FeaturesRequest):
            return [M.FeaturesResponse(seq=seq, mac=mac, features="FFFFFFFFFFFFFFFE")]
        if isinstance(msg, M.ResetRequest):
            return [M.Ack(seq=seq, status=0x00F2, mac=mac)]
        if isinstance(msg, M.BroadcastIntervalRequest):
            return [M.Ack(seq=seq, status=0x00F1, mac=mac)]
        if isinstance(msg, M.ClearGroupRequest):
            return [M.Ack(seq=seq, status=0x00F9, mac=mac)]
        if isinstance(msg, M.RelayInitRequest):
            return [M.RelayInitResponse(seq=seq, mac=mac, set=msg.set, relay=int(c.relay))]
        if c.node_table is not None:
            return self._circle_plus(c, msg, seq, t)
        return None

    def _circle_plus(self, c: VirtualCircle, msg: M.Message, seq: int, t: float) -> list[M.Message] | None:
        table = c.node_table or []
        if isinstance(msg, M.NodeTableRequest):
            if not 0 <= msg.index < 64:
                return None
            return [M.NodeTableResponse(seq=seq, mac=c.mac, node_mac=table[msg.index], index=msg.index)]
        if isinstance(msg, M.RemoveNodeRequest):
            ok = msg.remove_mac in table
            if ok:
                table[table.index(msg.remove_mac)] = M.EMPTY_MAC
                gone = self.circles.get(msg.remove_mac)
                if gone is not None:
                    gone.joined = False
            return [
                M.RemoveNodeResponse(seq=seq, mac=c.mac, removed_mac=msg.remove_mac, status=1 if ok else 0)
            ]
        if isinstance(msg, M.RtcSetRequest):
            when = msg.datetime
            if when is None:
                return [M.Ack(seq=seq, status=0x00E7, mac=c.mac)]
            self.rtc_offset = when.timestamp() - t
            return [M.Ack(seq=seq, status=0x00DF, mac=c.mac)]
        if isinstance(msg, M.RtcGetRequest):
            rtc = M.RtcResponse.at(c.mac, datetime.fromtimestamp(t + self.rtc_offset, tz=UTC))
            return [dataclasses.replace(rtc, seq=seq)]
        return None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
