"""Attach to the stick owner (a running logger) through its control socket.

`AttachedEngine` offers the Engine's run/submit/snapshot/on_event so the console
cannot tell the difference, except that it says "attached to pid N": events are
pushed by the owner as they happen, commands are answered by the owner.  When
the owner goes away it says so at once (`OwnerStatus(alive=False)` and a
LinkChanged with the link down), keeps trying, and re-attaches when a logger is
back (`OwnerStatus(alive=True)` and a fresh snapshot).  Never imports Textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from . import events as E
from .config import Config
from .control.client import ControlClient, ControlError, OwnerGone, socket_path
from .control.wire import WireError, from_wire, to_wire
from .lock import holder

RETRY_S = 1.0  # how often a lost owner is looked for again


class AttachedEngine:
    def __init__(
        self, config: Config, pid: int | None, on_event: Callable[[E.Event], None] | None = None
    ) -> None:
        self.config = config
        self.pid = pid
        self.on_event = on_event
        self.path = socket_path(config.paths.data)
        self._client: ControlClient | None = None
        self._lost = threading.Event()
        self._alive = False
        self.attempts = 0  # connection attempts so far (each one bounded to about 2 s)
        self._open_commands: dict[int, str | None] = {}  # sent, not yet answered: id -> mac
        self._accepted: set[int] = set()  # of those, the ones the owner has accepted
        self._commands_lock = threading.Lock()
        self._snapshot = E.Snapshot(
            time=datetime.now(UTC), link=E.LinkStatus(port=config.stick.port, attached_pid=pid), pid=pid
        )

    @property
    def alive(self) -> bool:
        """Attached to a live owner right now (actions make sense)."""
        return self._alive

    def _emit(self, event: E.Event) -> None:
        if self.on_event:
            self.on_event(event)

    def snapshot(self) -> E.Snapshot:
        return self._snapshot

    # --- the connection ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Attach, follow the owner's events, and re-attach after losing it, until `stop`."""
        first = True
        try:
            while not stop.is_set():
                if self._attach():
                    first = False
                    while not stop.is_set() and not self._lost.wait(0.2):
                        pass
                    if stop.is_set():
                        break
                    self._gone(f"the logger (pid {self.pid}) stopped; looking for it again")
                elif first:
                    first = False
                    self._gone(f"no logger answers on {self.path}; looking for one")
                stop.wait(RETRY_S)
        finally:
            client, self._client = self._client, None
            if client is not None:
                client.on_close = None
                client.close()

    def _attach(self) -> bool:
        self.attempts += 1
        self._lost.clear()
        client = ControlClient(self.path, on_event=self._on_owner_event, on_close=self._lost.set)
        try:
            # short waits: run() must return soon after stop even while an owner hangs
            client.connect(timeout=1.0)
            reply = client.call("subscribe", timeout=1.0)
            snap = from_wire(reply["snapshot"], E.Snapshot)
        except (OwnerGone, ControlError, TimeoutError, WireError, KeyError):
            client.on_close = None
            client.close()
            return False
        self._client = client
        pid = reply.get("pid") if isinstance(reply.get("pid"), int) else client.hello.get("pid")
        self.pid = pid
        self._alive = True
        self._snapshot = self._mark(snap)
        self._emit(E.OwnerStatus(pid, True, f"attached to the logger (pid {pid})"))
        self._emit(E.LinkChanged(self._snapshot.link))
        self._emit(E.CycleUpdate(self._snapshot))
        return True

    def _gone(self, message: str) -> None:
        """Say once that the owner is away: actions off, link down."""
        self._alive = False
        client, self._client = self._client, None
        if client is not None:
            client.on_close = None
            client.close()
        pid = self.pid or holder(self.config.paths.data)
        link = replace(self._snapshot.link, up=False, attached_pid=pid)
        self._snapshot = replace(self._snapshot, link=link)
        self._emit(E.OwnerStatus(pid, False, message))
        self._emit(E.LinkChanged(link))
        self._fail_open_commands(
            f"the logger (pid {pid}) went away before answering: the command may be lost"
        )

    def _mark(self, snap: E.Snapshot) -> E.Snapshot:
        pid = snap.pid or self.pid
        return replace(snap, pid=pid, link=replace(snap.link, attached_pid=pid))

    def _on_owner_event(self, event: E.Event) -> None:
        """Events pushed by the owner (its reader thread)."""
        if isinstance(event, E.CycleUpdate):
            self._snapshot = self._mark(event.snapshot)
            event = E.CycleUpdate(self._snapshot)
        elif isinstance(event, E.LinkChanged):
            link = replace(event.link, attached_pid=self.pid)
            self._snapshot = replace(self._snapshot, link=link)
            event = E.LinkChanged(link)
        elif isinstance(event, E.CommandResult):
            with self._commands_lock:
                if self._open_commands.pop(event.command_id, False) is False:
                    return  # not ours, or already failed here
                self._accepted.discard(event.command_id)
        self._emit(event)

    # --- commands ------------------------------------------------------------------------

    def submit(self, command: E.Command) -> int:
        """Send the command to the owner; its CommandResult arrives as an event.

        Every command gets exactly one result: the owner's, or a failure here when no
        owner runs, when it refuses the request, or when it goes away first."""
        mac = getattr(command, "mac", None)
        client = self._client
        if client is None or not self._alive:
            self._emit(
                E.CommandResult(command.id, mac, False, "no logger is running: the command was not sent")
            )
            return command.id
        with self._commands_lock:
            self._open_commands[command.id] = mac

        def answered(fut: Future[dict[str, Any]]) -> None:
            try:
                result = fut.result()
            except OwnerGone:
                self._fail_command(command.id, "the logger went away: the command may be lost")
                return
            if not result.get("ok"):
                self._fail_command(command.id, str(result.get("error") or "refused"))
                return
            with self._commands_lock:
                if command.id in self._open_commands:
                    self._accepted.add(command.id)

        client.send("command", command=to_wire(command)).add_done_callback(answered)
        return command.id

    def awaiting_results(self) -> list[int]:
        """Commands the owner accepted and has not answered yet (e.g. a slow clock sync)."""
        with self._commands_lock:
            return sorted(self._accepted)

    def _fail_command(self, command_id: int, message: str) -> None:
        with self._commands_lock:
            if command_id not in self._open_commands:
                return  # already answered
            mac = self._open_commands.pop(command_id)
            self._accepted.discard(command_id)
        self._emit(E.CommandResult(command_id, mac, False, message))

    def _fail_open_commands(self, message: str) -> None:
        with self._commands_lock:
            ids = list(self._open_commands)
        for command_id in ids:
            self._fail_command(command_id, message)
