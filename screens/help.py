"""Keys and what each screen does, built from the bindings themselves (never out of date).

Keys are shown as users type them (`?`, `[`, `ctrl+s`).  `markdown()` renders the
same table for README.md, and a test keeps the two equal.
"""

from __future__ import annotations

from importlib import import_module

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from .dashboard_cells import LEGEND
from .keys import keys_of

SCREENS = [
    (
        "Dashboard",
        "dashboard",
        "DashboardScreen",
        "Every circle with its live power, relay, schedule and today's energy; rows update each cycle.",
    ),
    (
        "Circle settings",
        "settings",
        "CircleSettings",
        "Name, location, log interval, production, always on, monitor, savelog of one circle.",
    ),
    (
        "Circle detail",
        "circle_detail",
        "CircleDetailScreen",
        "Type, firmware, signal, calibration, log position, clock drift and recent events of one circle.",
    ),
    ("Network", "network", "NetworkScreen", "The Circle+ node table; accept joining circles, remove nodes."),
    (
        "Schedule editor",
        "schedule_editor",
        "ScheduleEditorScreen",
        "A week of quarter hours in local time; mark ranges, set on/off/standby, copy days.",
    ),
    ("Week grid", "widgets.week_grid", "WeekGrid", "Moving and marking inside the schedule grid."),
    (
        "Log browser",
        "log_browser",
        "LogBrowserScreen",
        "Energy per hour/day/month for one circle or all, production below zero, a day of power.",
    ),
]
EVERYWHERE = [("ctrl+p", "Command palette: every action by name"), ("ctrl+q", "Quit")]


def key_table() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(screen, what it does, [(keys as typed, what they do)]) for every screen."""
    out = []
    for title, module, cls, text in SCREENS:
        bindings = getattr(import_module(f"screens.{module}"), cls).BINDINGS
        rows = [
            (keys_of(b), b.tooltip or b.description)
            for b in bindings
            if isinstance(b, Binding) and b.description
        ]
        out.append((title, text, rows))
    out.append(("Everywhere", "", list(EVERYWHERE)))
    return out


def markdown() -> str:
    """The key list as README.md holds it."""
    lines = []
    for title, text, rows in key_table():
        lines.append(f"**{title}**" + (f" — {text}" if text else ""))
        lines.append("")
        lines.append("| Keys | Action |")
        lines.append("|---|---|")
        lines += [f"| `{k.replace(' / ', '` / `')}` | {d} |" for k, d in rows]
        lines.append("")
    lines.append(f"Symbols: {LEGEND}")
    return "\n".join(lines) + "\n"


class HelpScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="help_back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(Text("Symbols: " + LEGEND), classes="detail")
            for title, text, rows in key_table():
                t = Table(
                    title=f"{title}: {text}" if text else title,
                    title_justify="left",
                    show_header=False,
                    box=None,
                )
                t.add_column(style="bold cyan", width=22)
                t.add_column()
                for keys, what in rows:
                    t.add_row(Text(keys), Text(what))
                yield Static(t, classes="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
