"""One client connection of the control socket, on the owner's side.

A reader thread cuts JSON lines and hands them to the server; a writer thread
drains a bounded queue.  Whoever queues (the engine's threads, stick callbacks)
never waits: a full queue means a client that does not read, and it is
disconnected rather than allowed to hold anyone up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from .protocol import HEARTBEAT_S, MAX_LINE, SEND_QUEUE

log = logging.getLogger("pwtui.control")

_CLOSE = object()  # queue marker: send what is queued, then close


class Connection:
    def __init__(
        self,
        conn: socket.socket,
        number: int,
        on_line: Callable[[Connection, bytes], None],
        on_end: Callable[[Connection], None],
    ) -> None:
        self.conn = conn
        self.number = number
        self.subscribed = False  # wants events pushed
        self.in_flight = 0  # raw requests waiting on the stick (guarded by the server's lock)
        self._on_line = on_line
        self._on_end = on_end
        self._queue: queue.Queue[object] = queue.Queue(SEND_QUEUE)
        self._closed = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._write, name=f"control-w{self.number}", daemon=True).start()
        threading.Thread(target=self._read, name=f"control-r{self.number}", daemon=True).start()

    def send(self, obj: dict[str, Any]) -> bool:
        """Queue a message without waiting; a full queue disconnects this client."""
        if self._closed.is_set():
            return False
        try:
            self._queue.put_nowait(obj)
        except queue.Full:
            log.warning("control client %d reads too slowly: disconnected", self.number)
            self.close()
            return False
        return True

    def finish(self) -> None:
        """Send what is queued, then close (after an error reply that ends the connection)."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._queue.put_nowait(_CLOSE)
        except queue.Full:
            self.close()

    def close(self) -> None:
        """Close now; whatever is queued is dropped."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_CLOSE)

    def _write(self) -> None:
        try:
            while True:
                try:
                    item = self._queue.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    if self._closed.is_set():
                        return
                    item = {"ping": True}  # lets a client tell a hung owner from a quiet one
                if item is _CLOSE:
                    return
                self.conn.sendall((json.dumps(item, separators=(",", ":")) + "\n").encode())
        except OSError:
            pass
        finally:
            self.close()
            with contextlib.suppress(OSError):
                self.conn.close()

    def _read(self) -> None:
        buf = bytearray()
        try:
            while not self._closed.is_set():
                try:
                    chunk = self.conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                start = 0
                while (end := buf.find(b"\n", start)) >= 0:
                    line = bytes(buf[start:end])
                    start = end + 1
                    if line.strip():
                        self._on_line(self, line)
                del buf[:start]
                if len(buf) > MAX_LINE:
                    self.send({"id": None, "ok": False, "error": f"line longer than {MAX_LINE} bytes"})
                    return
        finally:
            self._on_end(self)
            self.finish()
