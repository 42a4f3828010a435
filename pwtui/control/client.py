"""A client of the stick owner's control socket.

One reader thread per connection hands replies to whoever waits for them (by
request id) and pushed events to `on_event`.  Silence longer than
`DEAD_AFTER_S` counts as a lost owner, because the owner pings every second:
a killed owner is noticed at once (the kernel closes the socket), a hung one
within seconds.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .. import events as E
from .protocol import DEAD_AFTER_S, MAX_LINE, SOCKET_NAME
from .socketfile import address
from .wire import WireError, from_wire

log = logging.getLogger("pwtui.control")


class OwnerGone(ConnectionError):
    """The connection to the owner is closed (or was never made)."""


class ControlError(Exception):
    """The owner answered a request with ``ok: false``; `reply` holds the details."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        super().__init__(str(reply.get("error") or "refused"))


def socket_path(data_dir: Path) -> Path:
    return Path(data_dir) / SOCKET_NAME


class ControlClient:
    def __init__(
        self,
        path: Path,
        on_event: Callable[[E.Event], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.on_event = on_event
        self.on_close = on_close
        self.hello: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._closed = threading.Event()

    # --- connection ------------------------------------------------------------------------

    def connect(self, timeout: float = 2.0) -> dict[str, Any]:
        """Connect and say hello; returns the owner's hello (pid, port, version).
        Raises OwnerGone when nobody answers on the socket."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with address(self.path) as where:
                    sock.connect(where)
                break
            except BlockingIOError:  # the owner's accept backlog is full: it is busy, not gone
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                sock.close()
                raise OwnerGone(f"the pwtui logger on {self.path} is too busy to accept") from None
            except OSError as exc:
                sock.close()
                raise OwnerGone(f"no pwtui logger answers on {self.path}: {exc.strerror or exc}") from None
        sock.settimeout(DEAD_AFTER_S)
        self._sock = sock
        threading.Thread(target=self._read, name="control-client", daemon=True).start()
        try:
            self.hello = self.call("hello", timeout=timeout)
        except (OwnerGone, ControlError, TimeoutError) as exc:
            self.close()
            raise OwnerGone(f"the pwtui logger on {self.path} does not answer: {exc}") from None
        return self.hello

    @property
    def alive(self) -> bool:
        return self._sock is not None and not self._closed.is_set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(OwnerGone("the connection to the pwtui logger was lost"))
        if self.on_close is not None:
            self.on_close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests --------------------------------------------------------------------------

    def send(self, op: str, **fields: Any) -> Future[dict[str, Any]]:
        """Send a request; the future gets the reply object (``ok`` true or false)."""
        fut: Future[dict[str, Any]] = Future()
        rid = next(self._ids)
        with self._lock:
            if self._closed.is_set() or self._sock is None:
                fut.set_exception(OwnerGone("not connected to a pwtui logger"))
                return fut
            self._pending[rid] = fut
        data = (json.dumps({"op": op, "id": rid, **fields}) + "\n").encode()
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError:
            self.close()
        return fut

    def call(self, op: str, timeout: float | None = 10.0, **fields: Any) -> dict[str, Any]:
        """Send and wait for the reply; ControlError when the owner says no."""
        fut = self.send(op, **fields)
        try:
            reply = fut.result(timeout)
        except TimeoutError:
            with self._lock:  # no reply will be waited for any more
                for rid in [k for k, f in self._pending.items() if f is fut]:
                    del self._pending[rid]
            raise
        if not reply.get("ok"):
            raise ControlError(reply)
        return reply

    # --- reader ----------------------------------------------------------------------------

    def _read(self) -> None:
        sock = self._sock
        assert sock is not None
        buf = bytearray()
        try:
            while not self._closed.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    log.debug("the pwtui logger has been silent for %.0f s", DEAD_AFTER_S)
                    return
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                start = 0
                while (end := buf.find(b"\n", start)) >= 0:
                    self._dispatch(bytes(buf[start:end]))
                    start = end + 1
                del buf[:start]
                if len(buf) > MAX_LINE:
                    log.debug("the pwtui logger sent a line longer than %d bytes", MAX_LINE)
                    return
        finally:
            self.close()

    def _dispatch(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            log.debug("the pwtui logger sent something that is not JSON: %.80r", line)
            return
        if not isinstance(obj, dict):
            return
        if "event" in obj:
            try:
                event = from_wire(obj["event"])
            except WireError as exc:  # e.g. an event a newer owner knows and we do not
                log.debug("event ignored: %s", exc)
                return
            if self.on_event is not None:
                try:
                    self.on_event(event)
                except Exception:
                    log.exception("event handler failed")
            return
        rid = obj.get("id")
        if isinstance(rid, int):
            with self._lock:
                fut = self._pending.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(obj)


def find_owner(data_dir: Path, timeout: float = 2.0) -> ControlClient | None:
    """A connected client of the logger serving `data_dir`, or None when none answers."""
    path = socket_path(data_dir)
    if not path.exists():
        return None
    client = ControlClient(path)
    try:
        client.connect(timeout)
    except OwnerGone:
        return None
    return client
