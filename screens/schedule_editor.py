"""The schedule editor: one schedule of schedule.csv as a week grid, in local time.

`ScheduleEditorScreen(schedules_path, *, engine=None, name=None)`.  Saving
writes schedule.csv atomically (Plugwise-2-py format) and tells the engine
(the one given, else the app through `CommandRequested`),
which uploads to the circles that use the schedule; their upload state shows
below the grid.  Unsaved changes are never dropped without asking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.validation import Number
from textual.widgets import Footer, Header, Static

from protocol.schedules import WeekSchedule
from pwtui import events as E
from pwtui.schedulefile import NamedSchedule, ScheduleFileError, read_schedules, rename, write_schedules
from pwtui.text import safe_markup

from .confirm import ConfirmScreen
from .dialogs import AskText, ChooseDays
from .messages import CommandRequested
from .widgets.week_grid import WeekGrid


class ScheduleEditorScreen(Screen[None]):
    DEFAULT_CSS = """
    #sched_title { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [
        Binding("o", "set_on", "On", id="sched_on", tooltip="Marked range (or cursor) on"),
        Binding("x", "set_off", "Off", id="sched_off", tooltip="Marked range (or cursor) off"),
        Binding(
            "w", "set_standby", "Standby", id="sched_standby", tooltip="Standby killer: off below N watts"
        ),
        Binding("d", "copy_day", "Copy day", id="sched_copy_day", tooltip="Copy this day to other days"),
        Binding("u,ctrl+z", "undo", "Undo", id="sched_undo"),
        Binding("r,ctrl+y", "redo", "Redo", id="sched_redo", show=False),
        Binding("ctrl+s", "save", "Save", id="sched_save", tooltip="Save and upload to its circles"),
        Binding(
            "left_square_bracket",
            "other(-1)",
            "Prev",
            id="sched_prev",
            show=False,
            tooltip="Previous schedule",
        ),
        Binding(
            "right_square_bracket", "other(1)", "Next", id="sched_next", show=False, tooltip="Next schedule"
        ),
        Binding("ctrl+n", "new", "New", id="sched_new", show=False, tooltip="New schedule"),
        Binding("f2", "rename", "Rename", id="sched_rename", show=False, tooltip="Rename this schedule"),
        Binding(
            "ctrl+d", "duplicate", "Duplicate", id="sched_duplicate", show=False, tooltip="Copy this schedule"
        ),
        Binding("delete", "delete", "Delete", id="sched_delete", show=False, tooltip="Delete this schedule"),
        Binding("escape", "leave", "Back", id="sched_back", show=False),
    ]

    def __init__(self, schedules_path: Path, *, engine: Any = None, name: str | None = None) -> None:
        super().__init__()
        self.path = Path(schedules_path)
        self.engine = engine
        try:
            self.schedules = read_schedules(self.path)
        except ScheduleFileError as exc:
            self.schedules = {}
            self._load_error = str(exc)
        else:
            self._load_error = ""
        if not self.schedules:
            self.schedules = {"new schedule": NamedSchedule("new schedule", WeekSchedule.constant(-1))}
        self.current = name if name in self.schedules else next(iter(self.schedules))
        self.dirty = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="sched_title", classes="detail")
        yield WeekGrid(self.schedules[self.current].week, id="grid")
        yield Static(id="sched_users", classes="detail")
        yield Footer(compact=True)

    @property
    def grid(self) -> WeekGrid:
        return self.query_one("#grid", WeekGrid)

    def on_mount(self) -> None:
        self.grid.focus()
        self._title()
        app = self.app
        signal = getattr(app, "snapshot_signal", None)
        if signal is not None:
            signal.subscribe(self, lambda _s: self._users())
        self._users()
        if self._load_error:
            self.notify(safe_markup(self._load_error), severity="error", timeout=15)

    def _title(self) -> None:
        """One line, most important first (what is shown, unsaved?); the rest may be cut, never wrapped."""
        star = " [yellow](unsaved)[/]" if self.dirty else ""
        names = list(self.schedules)
        self.query_one("#sched_title", Static).update(
            f"[b]{safe_markup(self.current)}[/b]{star}  {names.index(self.current) + 1}/{len(names)} "
            f"in {safe_markup(self.path.name)}  (local time, Monday first)"
        )

    def users(self, name: str | None = None) -> list[E.CircleStatus]:
        snap = getattr(self.app, "snapshot", None)
        name = name or self.current
        return [c for c in (snap.circles if snap else ()) if c.schedule == name]

    def _users(self) -> None:
        users = self.users()
        if not users:
            text = "No circle uses this schedule."
        else:
            parts = [
                f"{safe_markup(c.name or c.mac)} ({'on' if c.schedule_state else 'off'}"
                f"{', upload ' + c.schedule_sync if c.schedule_sync else ''})"
                for c in users
            ]
            text = "Used by: " + ", ".join(parts)
        self.query_one("#sched_users", Static).update(text)

    def on_week_grid_changed(self, _msg: WeekGrid.Changed) -> None:
        self.dirty = self.grid.week != self.schedules[self.current].week
        self._title()

    # --- editing -----------------------------------------------------------------------

    def action_set_on(self) -> None:
        self.grid.set_value(-1)

    def action_set_off(self) -> None:
        self.grid.set_value(0)

    def action_set_standby(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.grid.set_value(int(text))

        self.app.push_screen(
            AskText(
                "Standby killer: switch off while the load stays below how many watts? (1–3000)",
                "10",
                [Number(minimum=1, maximum=3000)],
            ),
            done,
        )

    def action_copy_day(self) -> None:
        source = self.grid.cursor.day

        def done(days: list[int] | None) -> None:
            if days:
                self.grid.copy_day(source, days)

        self.app.push_screen(ChooseDays(source), done)

    def action_undo(self) -> None:
        if not self.grid.undo():
            self.notify("nothing to undo")

    def action_redo(self) -> None:
        if not self.grid.redo():
            self.notify("nothing to redo")

    # --- files --------------------------------------------------------------------------

    def _submit(self, command: E.Command) -> None:
        """To the engine given (a standalone editor), else up to the app as `CommandRequested`."""
        if self.engine is not None:
            self.engine.submit(command)
        else:
            self.post_message(CommandRequested(command))

    def _write(self) -> bool:
        try:
            write_schedules(self.path, self.schedules)
        except OSError as exc:
            self.notify(
                f"cannot save {safe_markup(self.path)}: {safe_markup(exc.strerror or exc)}", severity="error"
            )
            return False
        except ScheduleFileError as exc:  # the file on disk was broken meanwhile: never overwritten
            self.notify(f"not saved: {safe_markup(exc)}", severity="error", timeout=15)
            return False
        self._submit(E.ReloadFiles())
        return True

    def action_save(self) -> None:
        old = self.schedules[self.current]
        self.schedules[self.current] = NamedSchedule(old.name, self.grid.week, old.extra)
        if self._write():
            self.dirty = False
            self._title()
            n = len(self.users())
            self.notify(f"saved {safe_markup(self.current)}" + (f"; uploading to {n} circle(s)" if n else ""))

    def _unsaved_then(self, then: Any) -> None:
        if not self.dirty:
            then()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.dirty = False
                then()

        self.app.push_screen(
            ConfirmScreen(f"{safe_markup(self.current)} has unsaved changes. Discard them?"), answer
        )

    def _open(self, name: str) -> None:
        self.current = name
        self.grid.load(self.schedules[name].week)
        self.dirty = False
        self._title()
        self._users()

    def action_other(self, step: int) -> None:
        names = list(self.schedules)
        target = names[(names.index(self.current) + step) % len(names)]
        self._unsaved_then(lambda: self._open(target))

    def action_leave(self) -> None:
        self._unsaved_then(self.app.pop_screen)

    def _ask_name(self, question: str, value: str, then: Any) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            if text in self.schedules:
                self.notify(f"a schedule named {safe_markup(text)!r} exists already", severity="error")
                return
            if "," in text or '"' in text:
                self.notify("a schedule name cannot contain commas or quotes", severity="error")
                return
            then(text)

        self.app.push_screen(AskText(question, value), done)

    def action_new(self) -> None:
        def make(name: str) -> None:
            self.schedules[name] = NamedSchedule(name, WeekSchedule.constant(-1))
            if self._write():
                self._open(name)

        self._unsaved_then(lambda: self._ask_name("Name of the new schedule (all on):", "", make))

    def action_duplicate(self) -> None:
        def make(name: str) -> None:
            self.schedules[name] = NamedSchedule(name, self.grid.week)
            if self._write():
                self._open(name)

        self._ask_name("Name of the copy:", f"{self.current} copy", make)

    def action_rename(self) -> None:
        users = self.users()
        if users:
            self.notify("renaming a schedule in use: its circles are switched to the new name")

        def make(name: str) -> None:
            old = self.current
            self.schedules = rename(self.schedules, old, name)
            if self._write():
                for c in users:
                    self._submit(E.AssignSchedule(c.mac, name))
                self._open(name)

        self._ask_name(f"New name for {safe_markup(self.current)}:", self.current, make)

    def action_delete(self) -> None:
        users = self.users()
        if users:
            self.notify(
                f"{safe_markup(self.current)} is used by "
                + ", ".join(safe_markup(c.name or c.mac) for c in users)
                + ": assign them another schedule first",
                severity="error",
                timeout=10,
            )
            return
        if len(self.schedules) == 1:
            self.notify("the last schedule cannot be deleted", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                del self.schedules[self.current]
                if self._write():
                    self._open(next(iter(self.schedules)))

        self.app.push_screen(ConfirmScreen(f"Delete schedule {safe_markup(self.current)}?"), answer)
