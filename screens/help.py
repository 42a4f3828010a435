"""Keys and what each screen does, built from the bindings themselves (never out of date)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

SCREENS = [
    (
        "Dashboard",
        "dashboard",
        "DashboardScreen",
        "Every circle with its live power, relay, schedule and today's energy; rows update each cycle.",
    ),
    (
        "Circle detail",
        "circle_detail",
        "CircleDetailScreen",
        "Type, model, firmware, calibration, log position, clock drift and recent events of one circle.",
    ),
    ("Network", "network", "NetworkScreen", "The Circle+ node table; accept joining circles, remove nodes."),
    (
        "Schedule editor",
        "schedule_editor",
        "ScheduleEditorScreen",
        "A week of quarter hours in local time; mark ranges (shift+arrows or m), set on/off/standby, copy days.",
    ),
    ("Week grid", "widgets.week_grid", "WeekGrid", "Moving and marking inside the schedule grid."),
    (
        "Log browser",
        "log_browser",
        "LogBrowserScreen",
        "Energy per hour/day/month for one circle or all, production apart, a day of power samples.",
    ),
]


class HelpScreen(Screen):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="help_back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            for title, module, cls, text in SCREENS:
                mod = __import__(f"screens.{module}", fromlist=[cls])
                bindings = getattr(mod, cls).BINDINGS
                t = Table(title=f"{title}: {text}", title_justify="left", show_header=False, box=None)
                t.add_column(style="bold cyan", width=16)
                t.add_column()
                for b in bindings:
                    if isinstance(b, Binding):
                        t.add_row(b.key.replace(",", " / "), b.description)
                yield Static(t, classes="detail")
            yield Static(
                "ctrl+p opens the command palette (every action is there); ctrl+q quits.", classes="detail"
            )
        yield Footer()
