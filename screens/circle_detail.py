"""One circle in detail: what it is, how it is set up, and what happened to it lately."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from protocol import units
from pwtui import events as E
from pwtui.store import DB_NAME, Store, StoreError

if TYPE_CHECKING:
    from .app import PwtuiApp


class CircleDetailScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="detail_back"),
        Binding("k", "sync_clock", "Set clock", id="sync_clock"),
    ]

    def __init__(self, mac: str) -> None:
        super().__init__()
        self.mac = mac

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="info", classes="detail")
        yield Static(id="events", classes="detail")
        yield Footer()

    def on_mount(self) -> None:
        app: PwtuiApp = self.app  # type: ignore[assignment]
        app.snapshot_signal.subscribe(self, lambda s: self.show(s))
        if app.snapshot:
            self.show(app.snapshot)
        self.show_events()

    def show(self, snap: E.Snapshot) -> None:
        c = snap.circle(self.mac)
        if c is None:
            return
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        cal = ", ".join(f"{v:.6g}" for v in c.calibration) if c.calibration else "—"
        rows = [
            ("Name", c.name or "(not in the config)"),
            ("MAC", c.mac),
            ("Location", c.location or "—"),
            ("Category", c.category or "—"),
            ("Type", c.node_type or "—"),
            ("Model", c.model or "—"),
            ("Hardware", c.hw_version or "—"),
            ("Firmware", units.iso(c.fw_version) or "—"),
            ("State", ("online" if c.online else "offline") + (", relay on" if c.relay else ", relay off")),
            ("Power", "—" if c.watts is None else f"{c.watts:.1f} W (1 s: {c.watts_1s or 0:.1f} W)"),
            ("Today", f"{c.today_wh / 1000:.3f} kWh used, {c.today_wh_production / 1000:.3f} kWh produced"),
            (
                "Log",
                f"block {c.log_address}, every {c.log_interval} min"
                + (", production logged" if c.production else ""),
            ),
            ("History", f"{c.history_done}/{c.history_total} blocks read"),
            (
                "Schedule",
                f"{c.schedule or '—'} ({'on' if c.schedule_state else 'off'}"
                f"{', ' + c.schedule_sync if c.schedule_sync else ''})",
            ),
            ("Always on", "yes" if c.always_on else "no"),
            ("Calibration", cal),
            ("Clock drift", "—" if c.clock_drift_s is None else f"{c.clock_drift_s:+.0f} s"),
            ("Last seen", units.iso(c.last_seen) or "—"),
        ]
        for k, v in rows:
            t.add_row(k, v)
        self.query_one("#info", Static).update(t)

    def show_events(self) -> None:
        app: PwtuiApp = self.app  # type: ignore[assignment]
        path = app.config.paths.data / DB_NAME
        lines = ["[b]Recent events[/b]"]
        try:
            store = Store(path, readonly=True)
            for ev in store.events(self.mac, limit=12):
                from datetime import datetime

                when = datetime.fromtimestamp(ev.ts).strftime("%Y-%m-%d %H:%M:%S")
                lines.append(f"{when}  {ev.kind:9} {ev.message}")
            store.close()
        except (StoreError, Exception) as exc:
            lines.append(f"(no events: {exc})")
        self.query_one("#events", Static).update("\n".join(lines))

    def action_sync_clock(self) -> None:
        app: PwtuiApp = self.app  # type: ignore[assignment]
        app.send(E.SyncClock(self.mac))
