"""The circle settings dialog: name, location, log interval, production, always on, monitor, savelog.

Values are checked here and refused with the reason before anything is sent;
what changed goes to the engine as one `E.SetControl(mac, changes)` (the engine,
or the logger when attached, rewrites plugwise_control.csv keeping comments and
order).  A circle without a row gets one with all the shown values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, Input, Label, Static

from pwtui import events as E
from pwtui.text import safe_markup, safe_text

from .messages import CommandRequested

Changes = tuple[tuple[str, str | int | bool], ...]
FLAGS = (
    ("production", "production (logs what it delivers)"),
    ("always_on", "always on (never switched off)"),
    ("monitor", "monitor (read its power)"),
    ("savelog", "savelog (store its history)"),
)
MAX_TEXT = 40


@dataclass(frozen=True)
class SettingsForm:
    """What the dialog's fields hold, as typed."""

    name: str
    location: str
    log_interval: str
    production: bool
    always_on: bool
    monitor: bool
    savelog: bool


def check(form: SettingsForm) -> tuple[dict[str, str | int | bool], list[str]]:
    """The form's values, and a reason for each one that is refused."""
    problems: list[str] = []
    values: dict[str, str | int | bool] = {}
    for key in ("name", "location"):
        text = getattr(form, key).strip()
        if safe_text(text) != text:
            problems.append(f"{key}: control characters are not allowed")
        elif len(text) > MAX_TEXT:
            problems.append(f"{key}: at most {MAX_TEXT} characters, not {len(text)}")
        values[key] = text
    try:
        minutes = int(form.log_interval.strip())
    except ValueError:
        problems.append(f"log interval: {form.log_interval.strip()!r} is not a whole number of minutes")
    else:
        if not 1 <= minutes <= 60:
            problems.append(f"log interval: must be 1…60 minutes, not {minutes}")
        values["log_interval"] = minutes
    for key, _ in FLAGS:
        values[key] = bool(getattr(form, key))
    return values, problems


def changes_for(c: E.CircleStatus, values: dict[str, str | int | bool]) -> Changes:
    """Only what differs from the circle now; everything when it has no control row yet."""
    current: dict[str, str | int | bool] = {
        "name": c.name,
        "location": c.location,
        "log_interval": c.log_interval,
        "production": c.production,
        "always_on": c.always_on,
        "monitor": c.monitor,
        "savelog": c.savelog,
    }
    keys = [k for k in current if not c.in_control or values.get(k, current[k]) != current[k]]
    return tuple((k, values[k]) for k in keys if k in values)


class CircleSettings(ModalScreen[Changes | None]):
    """Edit one circle's settings; ctrl+s saves, escape cancels."""

    DEFAULT_CSS = """
    CircleSettings { align: center middle; }
    CircleSettings #settings { width: 64; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    CircleSettings Grid { grid-size: 2; grid-columns: 16 1fr; height: auto; grid-gutter: 0 1; }
    CircleSettings #problem { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="settings_save"),
        Binding("escape", "cancel", "Cancel", id="settings_cancel"),
    ]

    def __init__(self, circle: E.CircleStatus) -> None:
        super().__init__()
        self.circle = circle

    def compose(self) -> ComposeResult:
        c = self.circle
        name = safe_text(c.name)
        with Vertical(id="settings"):
            yield Static(f"Settings of [b]{safe_markup(f'{name} ({c.mac})' if name else c.mac)}[/b]")
            if not c.in_control:
                yield Static("[yellow]not in control file: saving adds its row[/]")
            with Grid():
                yield Label("Name")
                yield Input(name, id="name", compact=True, max_length=0)
                yield Label("Location")
                yield Input(safe_text(c.location), id="location", compact=True)
                yield Label("Log every (min)")
                yield Input(str(c.log_interval), id="log_interval", compact=True, placeholder="minutes, 1…60")
            for key, label in FLAGS:
                yield Checkbox(label, bool(getattr(c, key)), id=key, compact=True)
            yield Static("", id="problem")
            yield Static("[b]ctrl+s[/b] save   [b]esc[/b] cancel   [b]tab[/b] next field", classes="hint")

    def form(self) -> SettingsForm:
        def text(key: str) -> str:
            return self.query_one(f"#{key}", Input).value

        def flag(key: str) -> bool:
            return self.query_one(f"#{key}", Checkbox).value

        return SettingsForm(
            text("name"),
            text("location"),
            text("log_interval"),
            flag("production"),
            flag("always_on"),
            flag("monitor"),
            flag("savelog"),
        )

    def action_save(self) -> None:
        values, problems = check(self.form())
        if problems:
            self.query_one("#problem", Static).update(safe_markup("; ".join(problems)))
            return
        self.dismiss(changes_for(self.circle, values))

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_settings(screen: Screen[Any], circle: E.CircleStatus) -> None:
    """Show the dialog over `screen`; a saved change is posted as `SetControl`."""

    def done(changes: Changes | None) -> None:
        if changes is None:
            return
        if not changes:
            screen.notify("nothing changed")
            return
        screen.post_message(CommandRequested(E.SetControl(circle.mac, changes)))

    screen.app.push_screen(CircleSettings(circle), done)
