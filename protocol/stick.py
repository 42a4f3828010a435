"""The Stick driver: the only code that touches a port.

One writer thread sends requests in priority order, each as soon as the
previous one is acked (`00C1`), keeping at most `window` node replies
outstanding; one reader thread feeds the frame decoder and resolves pending
requests by the sequence number the stick assigned in its ack
(PROTOCOL.md A §1–§2, B §9).  Losing the port fails everything pending at
once and reopens with backoff.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import serial

from . import messages as M
from .commlog import IN, OUT, format_line
from .errors import LinkDown, NodeRefused, NodeTimeout, NotAStick, PlugwiseError, PortError
from .frames import FrameDecoder, crc16, encode_frame

log = logging.getLogger("pwtui.stick")

#: Which replies end a request: reply message IDs, and ack status codes (good, bad).
#: A request absent here ends at the stick's own 00C1.
EXPECT: dict[type[M.Request], tuple[frozenset[str], frozenset[int], frozenset[int]]] = {}


def _expect(
    req: type[M.Request], ids: tuple[str, ...] = (), ok: tuple[int, ...] = (), nack: tuple[int, ...] = ()
) -> None:
    EXPECT[req] = (frozenset(ids), frozenset(ok), frozenset(nack))


_expect(M.StickInitRequest, ("0011",))
_expect(M.PingRequest, ("000E",))
_expect(M.PowerRequest, ("0013",))
_expect(M.InfoRequest, ("0024",))
_expect(M.CalibrationRequest, ("0027",))
_expect(M.NodeTableRequest, ("0019",))
_expect(M.RemoveNodeRequest, ("001D",))
_expect(M.RtcGetRequest, ("003A",))
_expect(M.ClockGetRequest, ("003F",))
_expect(M.LogBlockRequest, ("0049",))
_expect(M.FeaturesRequest, ("0060",))
_expect(M.ScheduleCommitRequest, ("003D",))
_expect(M.RelayInitRequest, ("0139",))
_expect(M.SwitchRequest, ok=(0x00D8, 0x00DE), nack=(0x00E2,))
_expect(M.ClockSetRequest, ok=(0x00D7,))
_expect(M.RtcSetRequest, ok=(0x00DF,), nack=(0x00E7,))
_expect(M.ScheduleEnableRequest, ok=(0x00E4, 0x00E5))
_expect(M.LogIntervalRequest, ok=(0x00F8,))
_expect(M.ScheduleValueRequest, ok=(0x00FA,))
_expect(M.JoiningEnableRequest, ok=(0x00D9, 0x00DD))
_expect(M.ResetRequest, ok=(0x00F2,))
_expect(M.BroadcastIntervalRequest, ok=(0x00F1,))
_expect(M.ClearGroupRequest, ok=(0x00F9,))

UNSOLICITED = ("0006", "0061", "004F", "0056", "0105", "000E")
RESERVED_SEQ = (0xFFFD, 0xFFFE, 0xFFFF)


class Priority(enum.IntEnum):
    USER = 0  # a key press: goes ahead of everything queued
    NORMAL = 1
    BACKGROUND = 2  # history catch-up and other bulk reads


@dataclass(frozen=True)
class StickInfo:
    mac: str
    circle_plus_mac: str | None
    network_online: bool


@dataclass
class LinkStats:
    frames_in: int = 0
    frames_out: int = 0
    timeouts: int = 0
    retries: int = 0
    dropped: int = 0  # duplicates and replies nobody waits for
    last_frame: float | None = None  # time.time() of the last frame received

    def errors(self, decoder_bad: int) -> int:
        return self.timeouts + decoder_bad


@dataclass(eq=False)
class _Request:
    msg: M.Request
    priority: int
    future: Future
    timeout: float
    attempts: int = 0
    seqs: list[int] = field(default_factory=list)
    deadline: float = 0.0
    acked: bool = False


class Stick:
    def __init__(
        self,
        port: str,
        *,
        timeout: float = 10.0,
        window: int = 8,
        retries: int = 2,
        comm_log: str | Path | None = None,
        on_unsolicited: Callable[[M.Message], None] | None = None,
        on_link: Callable[[bool], None] | None = None,
        ack_timeout: float = 1.5,
        reconnect: bool = True,
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.window = max(1, window)
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.reconnect = reconnect
        self.on_unsolicited = on_unsolicited
        self.on_link = on_link
        self.info: StickInfo | None = None
        self.stats = LinkStats()
        self._comm_log_path = Path(comm_log) if comm_log else None
        self._comm_log = None
        self._serial: serial.SerialBase | None = None
        self._decoder = FrameDecoder()
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[tuple[int, int, _Request]] = []
        self._counter = itertools.count()
        self._awaiting_ack: _Request | None = None
        self._ack_deadline = 0.0
        self._pending: dict[int, _Request] = {}
        self._stop = threading.Event()
        self._link_up = False
        self._threads: list[threading.Thread] = []
        self.schedule_lock = threading.Lock()  # the stick has one schedule buffer

    # --- opening and closing -------------------------------------------------------

    @property
    def link_up(self) -> bool:
        return self._link_up

    @property
    def bad_frames(self) -> int:
        return self._decoder.stats.bad_crc + self._decoder.stats.malformed

    def open(self, init_timeout: float = 3.0) -> StickInfo:
        """Open the port and initialise the stick; raises PortError or NotAStick."""
        self._serial = self._open_port()
        if self._comm_log_path:
            self._comm_log = open(  # noqa: SIM115 - open for the life of the stick, closed in close()
                self._comm_log_path, "a", buffering=1, encoding="ascii"
            )
        self._stop.clear()
        self._link_up = True
        self._threads = [
            threading.Thread(target=self._reader, name="stick-reader", daemon=True),
            threading.Thread(target=self._writer, name="stick-writer", daemon=True),
        ]
        for t in self._threads:
            t.start()
        try:
            self.info = self._init(init_timeout)
        except PlugwiseError:
            self.close()
            raise
        self._notify_link(True)
        return self.info

    def _open_port(self) -> serial.SerialBase:
        if self.port.startswith("sim:"):
            from . import virtual

            virtual.register()
        try:
            kwargs = {
                "baudrate": 115200,
                "bytesize": 8,
                "parity": "N",
                "stopbits": 1,
                "timeout": 0.1,
                "write_timeout": 2.0,
            }
            if not self.port.startswith(("socket:", "rfc2217:", "loop:")):
                kwargs["exclusive"] = True
            return serial.serial_for_url(self.port, **kwargs)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(_port_error_text(self.port, exc)) from None

    def _init(self, timeout: float) -> StickInfo:
        last: Exception | None = None
        for _ in range(2):
            try:
                resp = self.submit(M.StickInitRequest(), Priority.USER, timeout=timeout).result(timeout + 1)
            except (NodeTimeout, TimeoutError) as exc:
                last = exc
                continue
            except LinkDown as exc:
                raise PortError(f"{self.port}: {exc}") from None
            assert isinstance(resp, M.StickInitResponse)
            cp = resp.circle_plus_mac if resp.network_online else None
            return StickInfo(resp.mac, cp, resp.network_online)
        raise NotAStick(
            f"{self.port}: no Plugwise stick answers there (no reply to the 000A init request)"
        ) from last

    def close(self) -> None:
        """Stop the threads and release the port; returns within about a second."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        ser = self._serial
        self._serial = None
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(0.5)
        self._fail_all(LinkDown("stick closed"))
        if self._comm_log:
            self._comm_log.close()
            self._comm_log = None
        self._link_up = False

    def __enter__(self) -> Stick:
        if self._serial is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------

    def submit(
        self, msg: M.Request, priority: Priority | int = Priority.NORMAL, timeout: float | None = None
    ) -> Future:
        """Queue a request; the future resolves to its reply (or the confirming ack)."""
        fut: Future = Future()
        req = _Request(msg, int(priority), fut, timeout if timeout is not None else self.timeout)
        with self._wake:
            if self._stop.is_set() or not self._link_up:
                fut.set_exception(LinkDown(f"{self.port}: stick is not connected"))
                return fut
            heapq.heappush(self._queue, (req.priority, next(self._counter), req))
            self._wake.notify_all()
        return fut

    def call(
        self, msg: M.Request, priority: Priority | int = Priority.USER, timeout: float | None = None
    ) -> M.Message:
        fut = self.submit(msg, priority, timeout)
        t = (timeout if timeout is not None else self.timeout) * (self.retries + 1) + 5
        try:
            return fut.result(t)
        except TimeoutError:
            raise NodeTimeout(getattr(msg, "mac", None), msg.NAME) from None

    # --- writer ------------------------------------------------------------------------------

    def _writer(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                req = self._next_to_send()
                if req is None:
                    self._wake.wait(0.05)
                    continue
                self._awaiting_ack = req
                self._ack_deadline = time.monotonic() + self.ack_timeout
                req.attempts += 1
            self._send(req.msg)

    def _next_to_send(self) -> _Request | None:
        now = time.monotonic()
        if self._awaiting_ack is not None:
            if now < self._ack_deadline:
                return None
            # no ack: the stick missed the request; send it again or give up
            stale = self._awaiting_ack
            self._awaiting_ack = None
            self._retry_or_fail(stale, NodeTimeout(getattr(stale.msg, "mac", None), "no ack from the stick"))
        if not self._queue or not self._link_up:
            return None
        waiting = sum(1 for r in set(self._pending.values()) if not r.future.done())
        if waiting >= self.window:
            return None
        while self._queue:
            _, _, req = heapq.heappop(self._queue)
            if not req.future.done():
                return req
        return None

    def _send(self, msg: M.Message) -> None:
        body = M.encode(msg)
        ser = self._serial
        if ser is None:
            return
        try:
            ser.write(encode_frame(body))
        except (serial.SerialException, OSError) as exc:
            self._link_lost(exc)
            return
        self.stats.frames_out += 1
        self._log_frame(OUT, body)

    def _retry_or_fail(self, req: _Request, exc: Exception) -> None:
        if req.future.done():
            return
        if req.attempts <= self.retries and not self._stop.is_set():
            self.stats.retries += 1
            req.acked = False
            heapq.heappush(self._queue, (req.priority, next(self._counter), req))
            self._wake.notify_all()
        else:
            self.stats.timeouts += 1
            req.future.set_exception(exc)
            self._forget(req)

    def _forget(self, req: _Request) -> None:
        for s in req.seqs:
            if self._pending.get(s) is req:
                del self._pending[s]

    # --- reader ------------------------------------------------------------------------------

    def _reader(self) -> None:
        while not self._stop.is_set():
            ser = self._serial
            if ser is None or not self._link_up:
                if not self._reopen():
                    return
                continue
            try:
                data = ser.read(ser.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if self._stop.is_set():
                    return
                self._link_lost(exc)
                continue
            if data:
                for frame in self._decoder.feed(data):
                    self._on_frame(frame.body)
            self._expire()

    def _on_frame(self, body: str) -> None:
        self.stats.frames_in += 1
        self.stats.last_frame = time.time()
        self._log_frame(IN, body)
        try:
            msg = M.decode(body)
        except M.DecodeError as exc:
            log.debug("undecodable frame %s: %s", body, exc)
            self.stats.dropped += 1
            return
        with self._wake:
            self._dispatch(msg)
            self._wake.notify_all()

    def _dispatch(self, msg: M.Message) -> None:
        seq = msg.seq
        if (
            isinstance(msg, M.Ack)
            and msg.mac is None
            and msg.status in (M.ACCEPTED, M.CRC_ERROR)
            and self._awaiting_ack is not None
            and seq not in self._pending
        ):
            req = self._awaiting_ack
            self._awaiting_ack = None
            if msg.status == M.CRC_ERROR:
                req.attempts -= 1  # the line garbled it: resend, not a node failure
                heapq.heappush(self._queue, (req.priority, next(self._counter), req))
                return
            assert seq is not None
            req.seqs.append(seq)
            req.acked = True
            req.deadline = time.monotonic() + req.timeout
            ids, ok, nack = EXPECT.get(type(req.msg), (frozenset(), frozenset(), frozenset()))
            if not ids and not ok and not nack:
                req.future.set_result(msg)
                return
            self._pending[seq] = req
            return
        req = self._pending.get(seq) if seq is not None else None
        if req is None or req.future.done():
            if (
                isinstance(msg, M.Message)
                and (msg.ID in UNSOLICITED or (seq in RESERVED_SEQ))
                and self.on_unsolicited is not None
            ):
                try:
                    self.on_unsolicited(msg)
                except Exception:
                    log.exception("unsolicited-message handler failed")
                return
            self.stats.dropped += 1
            log.debug("dropped %s seq %s: nobody waits for it", msg.NAME, seq)
            return
        ids, ok, nack = EXPECT.get(type(req.msg), (frozenset(), frozenset(), frozenset()))
        mac = getattr(req.msg, "mac", None)
        if isinstance(msg, M.Ack):
            if msg.status == M.TIMEOUT:
                self._retry_or_fail(req, NodeTimeout(mac, req.msg.NAME))
                return
            if msg.status in ok:
                req.future.set_result(msg)
                self._forget(req)
            elif msg.status in nack:
                req.future.set_exception(NodeRefused(mac, msg.status, req.msg.NAME))
                self._forget(req)
            else:
                self.stats.dropped += 1
            return
        if msg.ID in ids and (mac is None or getattr(msg, "mac", mac) == mac):
            req.future.set_result(msg)
            self._forget(req)
        else:
            self.stats.dropped += 1
            log.debug("dropped %s for seq %04X: not a reply to %s", msg.NAME, seq, req.msg.NAME)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._wake:
            for seq, req in list(self._pending.items()):
                if req.future.done():
                    self._pending.pop(seq, None)
                elif req.acked and now > req.deadline and req.seqs and req.seqs[-1] == seq:
                    self._pending.pop(seq, None)
                    self._retry_or_fail(
                        req, NodeTimeout(getattr(req.msg, "mac", None), f"{req.msg.NAME}, no reply")
                    )
            # entries of earlier attempts linger while the request is alive: a late reply counts

    # --- link loss -------------------------------------------------------------------------

    def _link_lost(self, exc: BaseException) -> None:
        with self._wake:
            if not self._link_up:
                return
            self._link_up = False
            ser, self._serial = self._serial, None
        log.warning("%s: link lost: %s", self.port, exc)
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass
        self._fail_all(LinkDown(f"{self.port}: link lost ({exc})"))
        self._notify_link(False)

    def _fail_all(self, exc: Exception) -> None:
        with self._wake:
            reqs = {id(r): r for _, _, r in self._queue}
            reqs.update({id(r): r for r in self._pending.values()})
            if self._awaiting_ack is not None:
                reqs[id(self._awaiting_ack)] = self._awaiting_ack
            self._queue.clear()
            self._pending.clear()
            self._awaiting_ack = None
        for r in reqs.values():
            if not r.future.done():
                r.future.set_exception(exc)

    def _reopen(self) -> bool:
        if not self.reconnect:
            self._stop.wait(0.2)
            return not self._stop.is_set()
        delay = 0.25
        while not self._stop.is_set():
            try:
                ser = self._open_port()
            except PortError:
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            with self._wake:
                self._serial = ser
                self._decoder = FrameDecoder()
                self._link_up = True
                self._wake.notify_all()
            log.info("%s: link restored", self.port)
            self._notify_link(True)
            return True
        return False

    def _notify_link(self, up: bool) -> None:
        if self.on_link is not None:
            try:
                self.on_link(up)
            except Exception:
                log.exception("link handler failed")

    def _log_frame(self, direction: str, body: str) -> None:
        if self._comm_log is not None:
            try:
                self._comm_log.write(format_line(direction, body + crc16(body)) + "\n")
            except (OSError, ValueError):
                pass


def _port_error_text(port: str, exc: BaseException) -> str:
    """One line saying what is wrong with the port and how to fix it."""
    text = str(exc)
    low = text.lower()
    errnos = {int(n) for n in re.findall(r"errno (\d+)", low)}
    if "permission denied" in low or 13 in errnos:
        return (
            f"{port}: permission denied. Add yourself to the group that owns the device "
            f"(usually: sudo adduser $USER dialout, then log in again)"
        )
    if "busy" in low or errnos & {11, 16} or "resource temporarily unavailable" in low:
        return f"{port}: the port is busy: another program (another pwtui?) has it open"
    if "connection refused" in low or 111 in errnos:
        return f"{port}: connection refused: is ser2net (or pwtui simulate --tcp) running there?"
    if "no such file" in low or 2 in errnos:
        return f"{port}: no such port. Is the stick plugged in? (ls /dev/ttyUSB*; or use sim:// to try the simulator)"
    return f"{port}: cannot open: {text}"
