"""File control: plugwise_control.csv and schedule.csv, watched and applied within a second.

A file that does not parse leaves the last good configuration in force (with
a warning naming file, line and column).  A circle without a row is left
alone: monitored and logged, never switched, scheduled or reconfigured.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace

from ..controlfile import ControlFileError, ControlRow, read_control, update_row, write_control
from ..schedulefile import ScheduleFileError, read_schedules
from .state import Context

CHECK_EVERY_S = 0.5
# SetControl keys and what each accepts
_BOOLS = ("monitor", "savelog", "production", "always_on")
_TEXTS = ("name", "location")


class Files:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._mtimes: dict[str, int] = {}

    def start(self) -> None:
        paths = self.ctx.config.paths
        if not paths.control.exists():
            rows = [ControlRow(mac=c.mac, name=c.name) for c in self.ctx.config.circles]
            write_control(paths.control, rows)
            self.ctx.note("info", "config", f"created {paths.control}")
        self.check(force=True, initial=True)
        self._tick()

    def _tick(self) -> None:
        self.ctx.owner.call_later(CHECK_EVERY_S, self._tick, "files.check")
        self.check()

    def _mtime(self, path: os.PathLike[str]) -> int:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return -1

    def check(self, force: bool = False, initial: bool = False) -> None:
        ctx = self.ctx
        paths = ctx.config.paths
        changed = []
        for key, path in (("control", paths.control), ("schedules", paths.schedules)):
            m = self._mtime(path)
            if force or self._mtimes.get(key) != m:
                self._mtimes[key] = m
                changed.append(key)
        if not changed:
            return
        old_schedules = ctx.schedules
        if "schedules" in changed:
            try:
                ctx.schedules = read_schedules(paths.schedules)
            except ScheduleFileError as exc:
                ctx.note("warning", "config", f"{exc}; keeping the last good schedules")
        try:
            rows = read_control(paths.control)
        except ControlFileError as exc:
            ctx.note("warning", "config", f"{exc}; keeping the last good control settings")
            return
        new = self._accepted(rows)
        old = ctx.control
        ctx.control = new
        if initial:
            return
        for mac, row in new.items():
            node = ctx.nodes.get(mac)
            if node is None or not node.online or not node.initialised:
                continue  # applied when it is initialised
            before = old.get(mac)
            sched_changed = bool(
                row.schedule
                and row.schedule_state
                and old_schedules.get(row.schedule) != ctx.schedules.get(row.schedule)
            )
            switch_changed = before is None or before.switch_state != row.switch_state
            if switch_changed and not row.schedule_state:
                ctx.switching.apply(node, row.switch_state, "control file")
            if (
                before is None
                or (before.schedule_state, before.schedule) != (row.schedule_state, row.schedule)
                or sched_changed
            ):
                ctx.schedule_svc.apply(node)
            if before is not None and _static(before) != _static(row):
                ctx.discovery.apply_static([node])

    def _accepted(self, rows: list[ControlRow]) -> dict[str, ControlRow]:
        ctx = self.ctx
        path = ctx.config.paths.control
        known = {c.mac for c in ctx.config.circles} | set(ctx.nodes)
        new: dict[str, ControlRow] = {}
        for r in rows:
            if ctx.nodes and r.mac not in known:  # before discovery every row may still match a node
                ctx.note("warning", "config", f"{path}: unknown circle {r.mac}; row skipped", r.mac)
                continue
            if r.schedule and r.schedule not in ctx.schedules:
                ctx.note(
                    "warning",
                    "config",
                    f"{path}: unknown schedule {r.schedule!r} for {r.mac}; row skipped",
                    r.mac,
                )
                continue
            new[r.mac] = r
        return new

    def update(self, mac: str, **changes: object) -> ControlRow:
        """Keep the control file in step with what the engine did (UI and file never disagree)."""
        row = update_row(self.ctx.config.paths.control, mac, **changes)
        self.ctx.control[mac] = row
        self._mtimes["control"] = self._mtime(self.ctx.config.paths.control)
        return row

    def remember(self, mac: str, **changes: object) -> None:
        """`update`, but a control file that does not parse (a row half typed) is left as
        it is: the change is kept in memory and the user is told which line to fix."""
        try:
            self.update(mac, **changes)
        except ControlFileError as exc:
            row = self.ctx.control.get(mac)
            if row is not None:
                self.ctx.control[mac] = replace(row, **changes)  # type: ignore[arg-type]
            self.ctx.note("warning", "config", f"{exc}; the change is kept until the file is fixed", mac)

    def set_control(self, mac: str, changes: tuple[tuple[str, str | int | bool], ...]) -> str | None:
        """The settings dialog: validate, write the row, apply it.  Returns a refusal or None."""
        names = {f.name for f in fields(ControlRow)}
        clean: dict[str, object] = {}
        for key, value in changes:
            if key not in names or key in ("mac", "switch_state", "schedule_state", "schedule"):
                return f"{key!r} cannot be set here"
            if key in _BOOLS and not isinstance(value, bool):
                return f"{key} must be yes or no, not {value!r}"
            if key in _TEXTS and (not isinstance(value, str) or len(value) > 200 or "," in value):
                return f"{key} must be text up to 200 characters without commas"
            if key == "log_interval" and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60
            ):
                return f"log_interval must be 1…60 minutes, not {value!r}"
            clean[key] = value
        node = self.ctx.nodes.get(mac)
        if self.ctx.row(mac) is None and node is not None and node.relay is not None:
            clean["switch_state"] = node.relay  # a new row keeps the relay as it is: no surprise switch
        try:
            self.update(mac, **clean)
        except ControlFileError as exc:
            return str(exc)
        self.check(force=True)
        if node is not None and node.online and node.initialised:
            self.ctx.discovery.apply_static([node])
        return None


def _static(row: ControlRow) -> tuple[object, ...]:
    return tuple(getattr(row, k, None) for k in ("log_interval", "production"))
