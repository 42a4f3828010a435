"""One circle in detail: what it is, how it is set up, and what happened to it lately.

Redrawn on every engine cycle (so a clock set or a rename shows at once); the
recent events come from the store in a thread worker.  The page scrolls with
the keyboard (up/down, page keys) at 80×24.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from protocol import units
from pwtui import events as E
from pwtui.store import DB_NAME, Store, StoreError
from pwtui.text import safe_text

from .messages import CommandRequested

if TYPE_CHECKING:
    from .app import PwtuiApp


class EventsRead(Message):
    """Recent events of the circle, as lines of plain text."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines


def dbm(value: int | None) -> str:
    return "—" if value is None else f"{value} dBm"


def today_text(c: E.CircleStatus) -> str:
    if c.today_wh is None:
        return "… (reading the records since midnight)"
    return f"{c.today_wh / 1000:.3f} kWh used, {(c.today_wh_production or 0.0) / 1000:.3f} kWh produced"


def info_rows(c: E.CircleStatus) -> list[tuple[str, str]]:
    """The detail page's rows; every value plain text (names from files are made safe)."""
    cal = ", ".join(f"{v:.6g}" for v in c.calibration) if c.calibration else "—"
    relay = "" if not c.online or c.relay is None else (", relay on" if c.relay else ", relay off")
    log = "—" if c.log_address is None else f"block {c.log_address}"
    return [
        ("Name", safe_text(c.name) or "(not in the config)"),
        ("MAC", c.mac),
        ("Location", safe_text(c.location) or "—"),
        ("Control file", "has a row" if c.in_control else "not in control file (p adds it)"),
        ("Category", safe_text(c.category) or "—"),
        ("Type", safe_text(c.node_type) or "—"),
        ("Model", safe_text(c.model) or "—"),
        ("Hardware", safe_text(c.hw_version) or "—"),
        ("Firmware", units.iso(c.fw_version) or "—"),
        ("State", ("online" if c.online else "offline") + relay),
        ("Signal", f"in {dbm(c.rssi_in)}, out {dbm(c.rssi_out)}"),
        ("Power", "—" if c.watts is None else f"{c.watts:.1f} W (1 s: {c.watts_1s or 0:.1f} W)"),
        ("Today", today_text(c)),
        ("Log", f"{log}, every {c.log_interval} min" + (", production logged" if c.production else "")),
        ("History", f"{c.history_done}/{c.history_total} blocks read"),
        (
            "Schedule",
            f"{safe_text(c.schedule) or '—'} ({'on' if c.schedule_state else 'off'}"
            f"{', ' + c.schedule_sync if c.schedule_sync else ''})",
        ),
        ("Always on", "yes" if c.always_on else "no"),
        ("Monitor / savelog", f"{'yes' if c.monitor else 'no'} / {'yes' if c.savelog else 'no'}"),
        ("Calibration", cal),
        ("Clock drift", "—" if c.clock_drift_s is None else f"{c.clock_drift_s:+.0f} s"),
        ("Last seen", units.iso(c.last_seen) or "—"),
    ]


class CircleDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="detail_back"),
        Binding("k", "sync_clock", "Set clock", id="sync_clock"),
        Binding("p", "settings", "Setup", id="detail_settings", tooltip="Name, location, logging, always on"),
    ]

    def __init__(self, mac: str) -> None:
        super().__init__()
        self.mac = mac
        self.shown = 0  # redraws so far (tests wait on it)

    @property
    def papp(self) -> PwtuiApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail_scroll"):
            yield Static(id="info", classes="detail")
            yield Static(id="events", classes="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail_scroll", VerticalScroll).focus()
        self.papp.snapshot_signal.subscribe(self, self.show)
        if self.papp.snapshot:
            self.show(self.papp.snapshot)
        self.read_events()

    def circle(self) -> E.CircleStatus | None:
        snap = self.papp.snapshot
        return snap.circle(self.mac) if snap else None

    def show(self, snap: E.Snapshot) -> None:
        c = snap.circle(self.mac)
        if c is None:
            return
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        for k, v in info_rows(c):
            t.add_row(k, Text(v))
        self.query_one("#info", Static).update(t)
        self.shown += 1
        self.refresh_bindings()
        self.read_events()

    @work(thread=True, exclusive=True, group="detail_events", exit_on_error=False)
    def read_events(self) -> None:
        path = self.papp.config.paths.data / DB_NAME
        lines: list[str] = []
        try:
            store = Store(path, readonly=True)
            try:
                for ev in store.events(self.mac, limit=12):
                    when = datetime.fromtimestamp(ev.ts).strftime("%Y-%m-%d %H:%M:%S")
                    lines.append(f"{when}  {safe_text(ev.kind):9} {safe_text(ev.message)}")
            finally:
                store.close()
        except (StoreError, OSError, sqlite3.Error) as exc:
            lines.append(f"(no events: {safe_text(exc)})")
        self.post_message(EventsRead(lines))

    @on(EventsRead)
    def events_read(self, msg: EventsRead) -> None:
        text = Text("Recent events\n", style="bold")
        text.append("\n".join(msg.lines), style="")
        self.query_one("#events", Static).update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("sync_clock", "settings"):
            c = self.circle()
            return c is not None and self.papp.actions_ok and (action != "sync_clock" or c.online)
        return True

    def action_sync_clock(self) -> None:
        self.post_message(CommandRequested(E.SyncClock(self.mac)))

    def action_settings(self) -> None:
        c = self.circle()
        if c is not None:
            from .settings import open_settings

            open_settings(self, c)
