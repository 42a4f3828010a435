"""The Stick driver: the only code that touches a port.

A thin I/O shell around the sans-I/O `Link` (protocol/link.py), which holds every rule of
the conversation.  One loop thread owns the port and the link: it takes requests from a
queue, ticks the link, writes what it wants sent, reads, feeds the link and resolves each
request's `concurrent.futures.Future` from the link's events.  Callers on any thread only
put commands on that queue, so nothing here is shared under a lock.  Losing the port fails
everything pending at once and reopens with backoff; the communication log is written here,
from the link's frame events, and nowhere else.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import serial

from . import messages as M
from .commlog import IN, OUT, format_line
from .errors import (
    LinkDown,
    LocalProtocolError,
    NodeTimeout,
    NotAStick,
    PlugwiseError,
    PortError,
    port_error_text,
)
from .link import (
    Acked,
    Dropped,
    Event,
    Failed,
    FrameReceived,
    FrameSent,
    Handle,
    Link,
    Priority,
    Reply,
    Unsolicited,
    check_request,
)

__all__ = ["LinkStats", "Priority", "Stick", "StickInfo"]

log = logging.getLogger("pwtui.stick")

#: How long `close()` waits for the loop thread.
CLOSE_WAIT = 0.8
#: How long one read waits for bytes where a new request can cut the wait short
#: (`cancel_read`: serial ports, loop://), and where it cannot (socket://, sim://).
READ_TIMEOUT = 0.1
POLL_TIMEOUT = 0.02


@dataclass(frozen=True)
class StickInfo:
    mac: str
    circle_plus_mac: str | None
    network_online: bool


@dataclass(frozen=True)
class LinkStats:
    """A snapshot of the link counters; `last_frame` is wall-clock time (time.time())."""

    frames_in: int = 0
    frames_out: int = 0
    timeouts: int = 0
    retries: int = 0
    crc_resends: int = 0
    refused: int = 0
    cancelled: int = 0
    dropped: int = 0  # duplicates, replies nobody waits for, undecodable frames
    bad_frames: int = 0  # bad CRC or broken framing
    last_frame: float | None = None


@dataclass(frozen=True)
class _Submit:
    futures: tuple[Future[M.Message], ...]
    requests: tuple[M.Request, ...]
    priority: int
    timeout: float | None
    batch: bool


@dataclass(frozen=True)
class _Cancel:
    future: Future[M.Message]


_Command = _Submit | _Cancel


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
        crc_resends: int = 3,
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.window = max(1, window)
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.crc_resends = crc_resends
        self.reconnect = reconnect
        self.on_unsolicited = on_unsolicited
        self.on_link = on_link
        self.info: StickInfo | None = None
        self._comm_log_path = Path(comm_log) if comm_log else None
        self._comm_log: IO[str] | None = None
        self._serial: serial.SerialBase | None = None
        self._link = self._new_link()
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._link_up = False
        self._thread: threading.Thread | None = None
        self._last_frame: float | None = None
        # owned by the loop thread
        self._futures: dict[Handle, Future[M.Message]] = {}
        self._handles: dict[Future[M.Message], Handle] = {}

    def _new_link(self) -> Link:
        return Link(
            window=self.window,
            retries=self.retries,
            timeout=self.timeout,
            ack_timeout=self.ack_timeout,
            crc_resends=self.crc_resends,
            now=time.monotonic(),
        )

    # --- state seen from any thread --------------------------------------------------------

    @property
    def link_up(self) -> bool:
        return self._link_up

    @property
    def bad_frames(self) -> int:
        return self._link.bad_frames

    @property
    def stats(self) -> LinkStats:
        c = self._link.counters
        return LinkStats(
            frames_in=c.frames_in,
            frames_out=c.frames_out,
            timeouts=c.timeouts,
            retries=c.retries,
            crc_resends=c.crc_resends,
            refused=c.refused,
            cancelled=c.cancelled,
            dropped=c.dropped,
            bad_frames=self._link.bad_frames,
            last_frame=self._last_frame,
        )

    # --- opening and closing ---------------------------------------------------------------

    def open(self, init_timeout: float = 3.0) -> StickInfo:
        """Open the port and initialise the stick; raises PortError or NotAStick.

        When it raises, no thread is left running and the port is closed."""
        if self._thread is not None and self._thread.is_alive():
            raise PortError(f"{self.port}: already open")
        ser = _open_port(self.port)
        try:
            if self._comm_log_path:
                self._comm_log = open(  # noqa: SIM115 - open for the life of the stick, closed by the loop
                    self._comm_log_path, "a", buffering=1, encoding="ascii"
                )
        except OSError as exc:
            ser.close()
            raise PortError(f"{self.port}: cannot write the communication log: {exc}") from None
        self._serial = ser
        self._link = self._new_link()
        self._commands = queue.SimpleQueue()
        self._stop.clear()
        self._link_up = True
        self._thread = threading.Thread(target=self._run, name="stick-loop", daemon=True)
        self._thread.start()
        try:
            self.info = self._init(init_timeout)
        except BaseException:
            self.close()
            raise
        self._notify_link(True)
        return self.info

    def _init(self, timeout: float) -> StickInfo:
        last: Exception | None = None
        for _ in range(2):
            fut = self.submit(M.StickInitRequest(), Priority.USER, timeout=timeout)
            try:
                resp = fut.result(timeout + 1)
            except (NodeTimeout, TimeoutError) as exc:
                self.cancel(fut)
                last = exc
                continue
            except LinkDown as exc:
                raise PortError(f"{self.port}: {exc}") from None
            if not isinstance(resp, M.StickInitResponse):
                raise NotAStick(f"{self.port}: the 000A init request got {resp.NAME}, not 0011")
            cp = resp.circle_plus_mac if resp.network_online else None
            return StickInfo(resp.mac, cp, resp.network_online)
        raise NotAStick(
            f"{self.port}: no Plugwise stick answers there (no reply to the 000A init request)"
        ) from last

    def close(self) -> None:
        """Stop the loop, fail what is pending and release the port; returns within a second."""
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_WAIT)
            if thread.is_alive():  # stuck in a write or a reopen: pull the port from under it
                log.warning("%s: the stick loop does not stop; closing the port under it", self.port)
                self._close_port()
        if thread is None:  # never started: nothing else will release these
            self._close_port()
            self._close_comm_log()
        self._link_up = False
        self._fail_commands(LinkDown("stick closed"))

    def __enter__(self) -> Stick:
        if self._thread is None or not self._thread.is_alive():
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests (any thread) -------------------------------------------------------------

    def submit(
        self, msg: M.Request, priority: Priority | int = Priority.NORMAL, timeout: float | None = None
    ) -> Future[M.Message]:
        """Queue a request; the future resolves to its reply (or the confirming ack)."""
        check_request(msg)
        fut: Future[M.Message] = Future()
        self._put(_Submit((fut,), (msg,), int(priority), timeout, batch=False))
        return fut

    def submit_all(
        self,
        msgs: Iterable[M.Request],
        priority: Priority | int = Priority.NORMAL,
        timeout: float | None = None,
    ) -> list[Future[M.Message]]:
        """Queue requests to go in this order as one batch (schedule uploads must: the stick
        has one schedule buffer, and one batch at a time uses it)."""
        reqs = tuple(check_request(m, in_batch=True) for m in msgs)
        futs: tuple[Future[M.Message], ...] = tuple(Future() for _ in reqs)
        if reqs:
            self._put(_Submit(futs, reqs, int(priority), timeout, batch=True))
        return list(futs)

    def call(
        self, msg: M.Request, priority: Priority | int = Priority.USER, timeout: float | None = None
    ) -> M.Message:
        """Send and wait; a call that times out is cancelled in the link."""
        fut = self.submit(msg, priority, timeout)
        t = (timeout if timeout is not None else self.timeout) * (self.retries + 1) + 5
        try:
            return fut.result(t)
        except TimeoutError:
            self.cancel(fut)
            raise NodeTimeout(getattr(msg, "mac", None), msg.NAME) from None

    def cancel(self, fut: Future[M.Message]) -> None:
        """Give up a request: the future is cancelled and the link forgets the request
        (`fut.cancel()` does the same)."""
        fut.cancel()

    def _on_done(self, fut: Future[M.Message]) -> None:
        if fut.cancelled():  # runs in the cancelling thread: tell the loop
            self._commands.put(_Cancel(fut))
            self._wake()

    def _put(self, cmd: _Submit) -> None:
        if self._stop.is_set() or not self._link_up:
            self._fail(cmd.futures, LinkDown(f"{self.port}: stick is not connected"))
            return
        for fut in cmd.futures:
            fut.add_done_callback(self._on_done)
        self._commands.put(cmd)
        self._wake()
        if self._stop.is_set():  # closed meanwhile: the loop may be gone
            self._fail_commands(LinkDown("stick closed"))

    def _wake(self) -> None:
        """Cut a waiting read short so a new request goes out at once (where the port can)."""
        _wake_read(self._serial)

    # --- the loop thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ser = self._serial
                if ser is None:
                    if not self._reopen():
                        return
                    continue
                try:
                    self._turn(ser)
                except Exception as exc:  # a bug of ours: start afresh rather than stop logging
                    log.exception("%s: the stick loop failed; reopening the port", self.port)
                    self._link_lost(exc)
        finally:
            self._link_up = False
            self._link.abort(LinkDown("stick closed"))
            self._deliver()
            self._close_port()
            self._close_comm_log()
            self._fail_commands(LinkDown("stick closed"))

    def _turn(self, ser: serial.SerialBase) -> None:
        """One turn of the loop: commands in, time, write, read, events out."""
        self._take_commands()
        self._link.tick(time.monotonic())
        data = self._link.data_to_send()
        if data and not self._write(ser, data):
            return
        self._deliver()
        try:
            got = ser.read(ser.in_waiting or 1)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            if not self._stop.is_set():
                self._link_lost(exc)
            return
        if got:
            self._link.receive_data(got)
        self._link.tick(time.monotonic())
        self._deliver()

    def _take_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(cmd, _Cancel):
                handle = self._handles.pop(cmd.future, None)
                if handle is not None:
                    self._futures.pop(handle, None)
                    self._link.cancel(handle)
                continue
            live = [(f, r) for f, r in zip(cmd.futures, cmd.requests, strict=True) if not f.done()]
            if not live:
                continue
            try:
                if cmd.batch:
                    handles = self._link.submit_all([r for _, r in live], cmd.priority, timeout=cmd.timeout)
                else:
                    handles = [self._link.submit(live[0][1], cmd.priority, timeout=cmd.timeout)]
            except LocalProtocolError as exc:  # e.g. a timeout ≤ 0: the caller's mistake
                for fut, _ in live:
                    _settle(fut, exc)
                continue
            for (fut, _), handle in zip(live, handles, strict=True):
                self._futures[handle] = fut
                self._handles[fut] = handle

    def _write(self, ser: serial.SerialBase, data: bytes) -> bool:
        try:
            ser.write(data)
        except (serial.SerialException, OSError) as exc:
            self._link_lost(exc)
            return False
        return True

    def _deliver(self) -> None:
        while (ev := self._link.next_event()) is not None:
            self._on_event(ev)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, FrameSent):
            self._log_frame(OUT, ev.body)
        elif isinstance(ev, FrameReceived):
            self._last_frame = time.time()
            self._log_frame(IN, ev.body)
        elif isinstance(ev, Reply | Failed):
            fut = self._futures.pop(ev.handle, None)
            if fut is None:
                return
            self._handles.pop(fut, None)
            _settle(fut, ev.message if isinstance(ev, Reply) else ev.error)
        elif isinstance(ev, Unsolicited):
            if self.on_unsolicited is not None:
                try:
                    self.on_unsolicited(ev.message)
                except Exception:
                    log.exception("unsolicited-message handler failed")
        elif isinstance(ev, Dropped):
            log.debug("%s: dropped %s: %s", self.port, ev.body, ev.reason)
        elif isinstance(ev, Acked):
            pass

    # --- link loss -------------------------------------------------------------------------

    def _link_lost(self, exc: BaseException) -> None:
        log.warning("%s: link lost: %s", self.port, exc)
        self._link_up = False
        self._close_port()
        self._notify_link(False)  # before the failures, so a waiter sees the link down
        error = LinkDown(f"{self.port}: link lost ({exc})")
        self._link.abort(error)
        self._deliver()
        self._fail_commands(error)

    def _reopen(self) -> bool:
        """Wait for the port to come back (with backoff); False when the stick is closed."""
        delay = 0.25
        while not self._stop.is_set():
            self._fail_commands(LinkDown(f"{self.port}: stick is not connected"))
            if not self.reconnect:
                self._stop.wait(0.2)
                continue
            try:
                ser = _open_port(self.port)
            except PortError:
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self._stop.is_set():  # closed while the port was opening
                ser.close()
                return False
            self._serial = ser
            self._link_up = True
            log.info("%s: link restored", self.port)
            self._notify_link(True)
            return True
        return False

    def _fail_commands(self, exc: PlugwiseError) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(cmd, _Submit):
                self._fail(cmd.futures, exc)

    @staticmethod
    def _fail(futures: Sequence[Future[M.Message]], exc: PlugwiseError) -> None:
        for fut in futures:
            _settle(fut, exc)

    def _close_port(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass

    def _close_comm_log(self) -> None:
        f, self._comm_log = self._comm_log, None
        if f is not None:
            f.close()

    def _notify_link(self, up: bool) -> None:
        if self.on_link is not None:
            try:
                self.on_link(up)
            except Exception:
                log.exception("link handler failed")

    def _log_frame(self, direction: str, body_with_crc: str) -> None:
        if self._comm_log is not None:
            try:
                self._comm_log.write(format_line(direction, body_with_crc) + "\n")
            except (OSError, ValueError):
                pass


def _settle(fut: Future[M.Message], outcome: M.Message | BaseException) -> None:
    """Resolve a future unless its caller cancelled it meanwhile."""
    try:
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)
    except InvalidStateError:
        pass


def _open_port(url: str) -> serial.SerialBase:
    """A serial port, `socket://` (ser2net), `loop://` or `sim://`; raises PortError."""
    if url.startswith("sim:"):
        from . import virtual

        virtual.register()
    kwargs: dict[str, Any] = {
        "baudrate": 115200,
        "bytesize": 8,
        "parity": "N",
        "stopbits": 1,
        "timeout": READ_TIMEOUT,
        "write_timeout": 2.0,
    }
    if not url.startswith(("socket:", "rfc2217:", "loop:")):
        kwargs["exclusive"] = True
    try:
        ser: serial.SerialBase = serial.serial_for_url(url, **kwargs)
        if not hasattr(ser, "cancel_read"):
            ser.timeout = POLL_TIMEOUT  # nothing wakes its reads: look more often
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortError(port_error_text(url, exc)) from None
    return ser


def _wake_read(ser: serial.SerialBase | None) -> None:
    """Cut a read that waits on `ser` short, where the port can (`cancel_read`)."""
    cancel_read = getattr(ser, "cancel_read", None)
    if cancel_read is not None:
        try:
            cancel_read()
        except (OSError, serial.SerialException, ValueError, TypeError):
            pass
