"""Attach to a running headless engine: read its status.json, send commands via the control file.

Offers the Engine's run/submit/snapshot so the console cannot tell the
difference, except that it says "attached to pid N".  Never imports Textual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from . import events as E
from .config import Config
from .controlfile import ControlFileError, update_row
from .status import STATUS_NAME, read_status


class AttachedEngine:
    def __init__(self, config: Config, pid: int, on_event: Callable[[E.Event], None] | None = None) -> None:
        self.config = config
        self.pid = pid
        self.on_event = on_event
        self.status_path = config.paths.data / STATUS_NAME
        self._snapshot = E.Snapshot(
            time=datetime.now(UTC), link=E.LinkStatus(port=config.stick.port, attached_pid=pid)
        )
        self._last_mtime = 0

    def _emit(self, event: E.Event) -> None:
        if self.on_event:
            self.on_event(event)

    def snapshot(self) -> E.Snapshot:
        return self._snapshot

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll()
            stop.wait(1.0)

    def poll(self) -> None:
        try:
            mtime = self.status_path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._last_mtime:
            return
        self._last_mtime = mtime
        try:
            snap, pid = read_status(self.status_path)
        except (OSError, ValueError, KeyError) as exc:
            self._emit(E.EngineLog(datetime.now(UTC), "warning", "attach", f"cannot read status: {exc}"))
            return
        snap = replace(snap, link=replace(snap.link, attached_pid=pid or self.pid))
        self._snapshot = snap
        self._emit(E.CycleUpdate(snap))

    def submit(self, command: E.Command) -> int:
        """Write the wish into the control file; the logger applies it within seconds."""
        mac = getattr(command, "mac", None)
        path = self.config.paths.control
        try:
            if isinstance(command, E.Switch):
                circle = self._snapshot.circle(command.mac)
                if circle and circle.always_on and not command.on:
                    raise ControlFileError(f"{circle.name or mac} is always on: switching it off is refused")
                update_row(path, command.mac, switch_state=command.on)
            elif isinstance(command, E.SetScheduleState):
                update_row(path, command.mac, schedule_state=command.on)
            elif isinstance(command, E.AssignSchedule):
                update_row(path, command.mac, schedule=command.schedule or "")
            elif isinstance(command, E.ReloadFiles):
                pass  # the logger watches the files itself
            else:
                raise ControlFileError(f"not possible while attached to the logger (pid {self.pid})")
        except ControlFileError as exc:
            self._emit(E.CommandResult(command.id, mac, False, str(exc)))
            return command.id
        self._emit(E.CommandResult(command.id, mac, True, f"sent to the logger (pid {self.pid})"))
        return command.id
