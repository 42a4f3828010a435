"""The stick owner's control socket: `<data>/pwtui.sock`, mode 0600, JSON lines.

Whoever owns the stick (headless logger, console owner, `pwtui web`) serves it so
that other `pwtui` processes can use the stick without opening the port.  One
thread accepts; each client gets a reader thread (answers its requests) and a
writer thread draining a bounded queue.  The engine only ever puts into those
queues without waiting, so a slow or stuck client can never hold up logging: a
client whose queue overflows is disconnected with a log line (an attached
console then re-attaches and gets a fresh snapshot).  Operations and replies: see `protocol.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import socket
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from protocol import messages as M
from protocol.errors import NodeRefused, NodeTimeout, PlugwiseError
from protocol.stick import Priority

from .. import __version__
from .. import events as E
from ..status import to_json as status_json
from .connection import Connection
from .protocol import MAX_CLIENTS, MAX_IN_FLIGHT, SOCKET_NAME
from .socketfile import listen_private
from .wire import WireError, from_wire, to_wire

log = logging.getLogger("pwtui.control")


class OwnerEngine(Protocol):
    """What the server needs of the engine (the WAVE2-SEAMS.md engine methods)."""

    def submit(self, command: E.Command) -> int: ...
    def snapshot(self) -> E.Snapshot: ...
    def add_listener(self, callback: Any) -> Any: ...
    def request(self, msg: M.Request, priority: int = ...) -> Future[Any]: ...


class ControlServer:
    """Serve `engine` on the Unix socket `path` until `stop()`."""

    def __init__(self, engine: OwnerEngine, path: Path) -> None:
        self.engine = engine
        self.path = Path(path)
        self._sock: socket.socket | None = None
        self._ino: int | None = None
        self._clients: dict[int, Connection] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        # server-side command id -> (client, the client's own command id)
        self._commands: dict[int, tuple[Connection, int]] = {}
        self._remove_listener: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Bind (mode 0600), listen and accept; raises OSError (SocketInUse) when impossible."""
        self._sock = listen_private(self.path, MAX_CLIENTS)
        self._ino = self.path.stat().st_ino
        self._remove_listener = self.engine.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._accept, name="control-accept", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close every connection and remove the socket file (only if it is still ours)."""
        self._stopping.set()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for c in clients:
            c.close()
        with contextlib.suppress(OSError):
            if self._ino is not None and self.path.stat().st_ino == self._ino:
                self.path.unlink()
        if self._thread is not None:
            self._thread.join(2.0)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, _ = sock.accept()
            except OSError as exc:
                if self._stopping.is_set():
                    return
                log.warning("control socket: accept failed: %s", exc)
                self._stopping.wait(0.5)  # e.g. out of file descriptors: do not spin
                continue
            client = Connection(conn, next(self._numbers), self.handle_line, self.forget)
            with self._lock:
                full = len(self._clients) >= MAX_CLIENTS
                if not full:
                    self._clients[client.number] = client
            if full:
                log.warning("control socket: more than %d clients; one refused", MAX_CLIENTS)
                with contextlib.suppress(OSError):
                    conn.sendall(b'{"id":null,"ok":false,"error":"too many clients"}\n')
                conn.close()
                continue
            client.start()

    def forget(self, client: Connection) -> None:
        with self._lock:
            self._clients.pop(client.number, None)
            for cid in [k for k, (c, _) in self._commands.items() if c is client]:
                del self._commands[cid]

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    # --- events from the engine (any thread; never blocks) -------------------------------

    def _on_event(self, event: E.Event) -> None:
        if isinstance(event, E.CommandResult):
            # a result goes only to the client whose command it answers, under its own id
            with self._lock:
                owner = self._commands.pop(event.command_id, None)
            if owner is not None:
                client, their_id = owner
                client.send({"event": to_wire(dataclasses.replace(event, command_id=their_id))})
            return
        with self._lock:
            targets = [c for c in self._clients.values() if c.subscribed]
        if not targets:
            return
        msg = {"event": to_wire(event)}
        for c in targets:
            c.send(msg)

    # --- requests from clients (their reader threads) ------------------------------------

    def handle_line(self, client: Connection, line: bytes) -> None:
        """Answer one request line; malformed input gets an error reply, nothing else."""
        rid: Any = None
        try:
            try:
                req = json.loads(line)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise WireError(f"not JSON: {exc}") from None
            if not isinstance(req, dict):
                raise WireError("a request is a JSON object")
            rid = req.get("id")
            if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))):
                rid = None
                raise WireError("'id' must be a number or a text")
            op = req.get("op")
            handler = _OPS.get(op) if isinstance(op, str) else None
            if handler is None:
                raise WireError(f"unknown op {str(op)[:40]!r}; known: {', '.join(sorted(_OPS))}")
            reply = handler(self, client, req, rid)
        except WireError as exc:
            client.send({"id": rid, "ok": False, "error": str(exc)})
            return
        except Exception as exc:  # a bug here must never take the owner down
            log.exception("control request failed")
            client.send({"id": rid, "ok": False, "error": f"internal error: {exc}"})
            return
        if reply is not None:
            client.send({"id": rid, "ok": True, **reply})

    def _hello(self, client: Connection, req: dict[str, Any], rid: Any) -> dict[str, Any]:
        return {"pid": os.getpid(), "port": self.engine.snapshot().link.port, "version": __version__}

    def _snapshot(self, client: Connection, req: dict[str, Any], rid: Any) -> dict[str, Any]:
        return {"snapshot": to_wire(self.engine.snapshot())}

    def _subscribe(self, client: Connection, req: dict[str, Any], rid: Any) -> None:
        # under the lock that _on_event takes to pick its targets: the reply with the
        # snapshot is queued before any event pushed to this client, and none is missed
        with self._lock:
            client.subscribed = True
            snap = to_wire(self.engine.snapshot())
            client.send({"id": rid, "ok": True, "pid": os.getpid(), "snapshot": snap})

    def _status(self, client: Connection, req: dict[str, Any], rid: Any) -> dict[str, Any]:
        snap = self.engine.snapshot()
        status = status_json(snap, os.getpid())
        status["clients"] = self.clients
        status["version"] = __version__
        return {"status": status}

    def _command(self, client: Connection, req: dict[str, Any], rid: Any) -> None:
        data = req.get("command")
        if not isinstance(data, dict):
            raise WireError("'command' must be an object (a pwtui.events command)")
        # ids are per process: the engine gets a fresh one of ours, the client hears its own
        ours = from_wire({k: v for k, v in data.items() if k != "id"}, E.Command)
        their_id = data.get("id")
        if isinstance(their_id, bool) or not isinstance(their_id, int):
            raise WireError("the command needs its integer 'id'")
        with self._lock:
            self._commands[ours.id] = (client, their_id)
        # "accepted" goes out before the engine can answer with the result
        client.send({"id": rid, "ok": True, "accepted": True, "command_id": their_id})
        self.engine.submit(ours)
        return None

    def _request(self, client: Connection, req: dict[str, Any], rid: Any) -> None:
        body = req.get("body")
        if not isinstance(body, str):
            raise WireError("'body' must be the request's hex body")
        try:
            msg = M.decode(body.upper())
        except M.DecodeError as exc:
            raise WireError(f"body: {exc}") from None
        if not isinstance(msg, M.Request):
            raise WireError(f"body: {msg.NAME or type(msg).__name__} is not a request")
        prio = req.get("priority", Priority.USER)
        if prio not in tuple(Priority):
            raise WireError(f"'priority' must be one of {[int(p) for p in Priority]}")
        with self._lock:
            if client.in_flight >= MAX_IN_FLIGHT:
                raise WireError(f"more than {MAX_IN_FLIGHT} requests in flight; wait for answers")
            client.in_flight += 1

        def answer(f: Future[Any]) -> None:
            with self._lock:
                client.in_flight -= 1
            client.send(_reply_to_request(rid, f))

        try:
            fut = self.engine.request(msg, priority=int(prio))
        except Exception:
            with self._lock:
                client.in_flight -= 1
            raise
        fut.add_done_callback(answer)
        return None  # answered when the stick has the reply


def _reply_to_request(rid: Any, fut: Future[Any]) -> dict[str, Any]:
    exc = fut.exception()
    if exc is None:
        try:
            return {"id": rid, "ok": True, "body": M.encode(fut.result())}
        except Exception as err:
            return {"id": rid, "ok": False, "error": f"cannot encode the reply: {err}", "kind": "error"}
    reply: dict[str, Any] = {"id": rid, "ok": False, "error": str(exc), "kind": type(exc).__name__}
    if isinstance(exc, (NodeTimeout, NodeRefused)):
        reply["mac"] = exc.mac
    if isinstance(exc, NodeRefused):
        reply["status"] = exc.status
    if not isinstance(exc, PlugwiseError):
        reply["kind"] = "error"
    return reply


_OPS: dict[str, Any] = {
    "hello": ControlServer._hello,
    "snapshot": ControlServer._snapshot,
    "subscribe": ControlServer._subscribe,
    "status": ControlServer._status,
    "command": ControlServer._command,
    "request": ControlServer._request,
}


def serve_owner(engine: OwnerEngine, data_dir: Path) -> ControlServer | None:
    """Start the control socket of a stick owner; a socket that cannot be served is a
    warning, never a reason to stop logging."""
    server = ControlServer(engine, Path(data_dir) / SOCKET_NAME)
    try:
        server.start()
    except OSError as exc:
        log.warning("no control socket (other pwtui commands will not reach this one): %s", exc)
        return None
    log.info("control socket %s", server.path)
    return server
