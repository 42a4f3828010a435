"""Put the virtual network on a pseudo-terminal or a TCP port, for any serial client."""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Callable

from .network import VirtualNetwork


def _pump_out(net: VirtualNetwork, send: Callable[[bytes], None], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            data = net.read(4096, 0.05)
        except OSError:
            stop.wait(0.2)
            continue
        if data:
            try:
                send(data)
            except OSError:
                return


class PtyBridge:
    """The network behind a pty; `path` is what a client opens."""

    def __init__(self, net: VirtualNetwork) -> None:
        self.net = net
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.stop = threading.Event()
        net.attach()
        self._threads = [
            threading.Thread(target=self._pump_in, daemon=True, name="pty-in"),
            threading.Thread(
                target=_pump_out, args=(net, self._send, self.stop), daemon=True, name="pty-out"
            ),
        ]
        for t in self._threads:
            t.start()

    def _send(self, data: bytes) -> None:
        os.write(self.master, data)

    def _pump_in(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                self.stop.wait(0.1)
                continue
            if data:
                try:
                    self.net.write(data)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(1.0)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.net.detach()


class TcpBridge:
    """The network on a TCP port, one client at a time (like ser2net)."""

    def __init__(self, net: VirtualNetwork, host: str, port: int) -> None:
        self.net = net
        self.server = socket.create_server((host, port))
        self.server.settimeout(0.2)
        self.host, self.port = self.server.getsockname()[:2]
        self.url = f"socket://{host}:{self.port}"
        self.stop = threading.Event()
        self.on_client: Callable[[str], None] | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True, name="tcp")
        self._thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, addr = self.server.accept()
            except (TimeoutError, OSError):
                continue
            if self.on_client:
                self.on_client(f"{addr[0]}:{addr[1]}")
            self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        try:
            self.net.attach()
        except OSError:
            conn.close()
            return
        done = threading.Event()
        out = threading.Thread(target=_pump_out, args=(self.net, conn.sendall, done), daemon=True)
        out.start()
        try:
            while not self.stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    self.net.write(data)
                except OSError:
                    break
        finally:
            done.set()
            out.join(1.0)
            conn.close()
            self.net.detach()

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self._thread.join(1.0)
