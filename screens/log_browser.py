"""The log browser: energy per hour/day/month, production apart, and a day of power samples.

`LogBrowserScreen(store_path, *, circles=[(mac, name), …], mac=None)`; mac None
shows all circles together.  Every view is one or two aggregate queries
(pwtui/queries.py) run in a thread worker that posts `LogData`; a result for a
view the user has already left is dropped.  While the engine runs, each cycle
reloads a view that is still filling (history being read, or the current period).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from pwtui import events as E
from pwtui import queries
from pwtui.export import save_file
from pwtui.text import safe_markup

from .dialogs import AskText
from .log_data import ExportDone, LogData, export_text, history_progress
from .log_periods import ZOOMS, Period, label_moment, local_midnight, period_at
from .widgets.plots import EnergyPlot, PowerPlot

__all__ = ["LogBrowserScreen", "Period", "export_text", "history_progress", "period_at"]


class LogBrowserScreen(Screen[None]):
    DEFAULT_CSS = """
    LogBrowserScreen { overflow-y: hidden; }
    #log_title { height: auto; }
    #log_chart { height: 2fr; min-height: 8; }
    #log_power { height: 1fr; min-height: 6; }
    #log_table { height: 2fr; min-height: 4; }
    """
    BINDINGS = [
        Binding("left,h", "step(-1)", "Prev", id="log_prev", tooltip="The previous period"),
        Binding("right,l", "step(1)", "Next", id="log_next", tooltip="The next period"),
        Binding(
            "plus,equals_sign,i",
            "zoom(-1)",
            "In",
            id="log_zoom_in",
            tooltip="Zoom in to the row under the cursor",
        ),
        Binding(
            "minus,o", "zoom(1)", "Out", id="log_zoom_out", tooltip="Zoom out (hour, day, week, month, year)"
        ),
        Binding("tab,c", "circle(1)", "Circle", id="log_circle", tooltip="Next circle (or all circles)"),
        Binding("g", "goto", "Date", id="log_goto", tooltip="Go to a date"),
        Binding("t", "today", "Today", id="log_today", tooltip="Back to today"),
        Binding("e", "export", "Export", id="log_export", tooltip="Export the shown range as CSV"),
        Binding("escape,q", "app.pop_screen", "Back", id="log_back"),
    ]

    def __init__(
        self,
        store_path: Path,
        *,
        circles: list[tuple[str, str]] | None = None,
        mac: str | None = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__()
        self.store_path = Path(store_path)
        self.circles = list(circles or [])
        self.choices: list[tuple[str | None, str]] = [(None, "all circles"), *self.circles]
        self.choice = next((i for i, (m, _) in enumerate(self.choices) if m == mac), 0)
        self.period = period_at("day", now or datetime.now(UTC))
        self.buckets: list[queries.Bucket] = []
        self.loaded = 0  # views shown so far (tests wait on it)
        self.exported: Path | None = None
        self._token = 0
        self._progress: int | None = None
        self._error = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="log_title", classes="detail")
        yield EnergyPlot(id="log_chart")
        yield PowerPlot(id="log_power")
        t: DataTable[Any] = DataTable(id="log_table", cursor_type="row", zebra_stripes=True)
        t.add_column("Period (local)", key="label", width=17)
        t.add_column("Used kWh", key="used", width=10)
        t.add_column("Produced kWh", key="produced", width=13)
        t.add_column("Avg W", key="watts", width=9)
        yield t
        yield Footer(compact=True)

    @property
    def macs(self) -> list[str] | None:
        mac = self.choices[self.choice][0]
        return [mac] if mac else None

    def on_mount(self) -> None:
        signal = getattr(self.app, "snapshot_signal", None)
        if signal is not None:
            signal.subscribe(self, self._on_snapshot)
            self._progress = history_progress(getattr(self.app, "snapshot", None))
        self.query_one("#log_table", DataTable).focus()
        self.reload()

    def _on_snapshot(self, snap: E.Snapshot) -> None:
        """Reload while the view can still change: history being read, or the period not over."""
        was = self._progress
        self._progress = history_progress(snap)
        if (
            self._progress is not None
            or was is not None
            or self.period.end >= datetime.now(UTC) - timedelta(minutes=90)
        ):
            self.reload()

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        self._token += 1
        width = max(40, self.size.width or 80)
        self.load(self._token, self.period, self.macs, width)

    @work(thread=True, exclusive=True, group="log_query", exit_on_error=False)
    def load(self, token: int, period: Period, macs: list[str] | None, points: int) -> None:
        s, e = period.span
        try:
            db = queries.connect(self.store_path)
        except sqlite3.Error as exc:
            self.post_message(LogData(token, period, error=f"no logged data yet ({exc})"))
            return
        try:
            buckets = queries.energy_buckets(db, s, e, period.bucket, macs)
            series: list[tuple[int, float]] = []
            step = max(10, (e - s) // max(1, points))
            if period.zoom in ("day", "hour"):
                series = queries.power_series(db, s, e, points, macs)
        except sqlite3.Error as exc:
            self.post_message(LogData(token, period, error=f"no logged data yet ({exc})"))
            return
        finally:
            db.close()
        self.post_message(LogData(token, period, buckets, series, step))

    @on(LogData)
    def show_data(self, msg: LogData) -> None:
        if msg.token != self._token:
            return  # the user has moved on: a stale answer
        self._error = msg.error
        self.buckets = msg.buckets
        p = msg.period
        self._title()
        self.query_one(EnergyPlot).show(p, msg.buckets)
        power = self.query_one(PowerPlot)
        power.display = p.zoom in ("day", "hour")
        if power.display:
            power.show(p, msg.series, msg.step, f"{self.choices[self.choice][1]} W")
        t: DataTable[Any] = self.query_one("#log_table", DataTable)
        row = t.cursor_row
        with self.app.batch_update():
            t.clear()
            for b in msg.buckets:
                t.add_row(
                    b.label,
                    Text(f"{b.consumption_wh / 1000:.3f}", justify="right"),
                    Text(f"{b.production_wh / 1000:.3f}", justify="right"),
                    Text(f"{b.watts:.1f}", justify="right"),
                    key=b.label,
                )
            if t.row_count:
                t.move_cursor(row=min(max(row, 0), t.row_count - 1))
        self.loaded += 1
        self.refresh_bindings()

    def _title(self) -> None:
        p = self.period
        who = safe_markup(self.choices[self.choice][1])
        used = sum(b.consumption_wh for b in self.buckets) / 1000
        prod = sum(b.production_wh for b in self.buckets) / 1000
        text = f"[b]{who}[/b] — {p.title}   used [b]{used:.3f} kWh[/b]   produced [b green]{prod:.3f} kWh[/]"
        if self._progress is not None:
            text += f"   [yellow]reading history: {self._progress} %[/]"
        if self._error:
            text += f"\n[dim]{safe_markup(self._error)}[/]"
        self.query_one("#log_title", Static).update(Text.from_markup(text))

    # --- navigation -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No zooming past hour or year, no export of an empty view."""
        if action == "zoom" and parameters:
            i = ZOOMS.index(self.period.zoom) + int(str(parameters[0]))
            return 0 <= i < len(ZOOMS)
        if action == "export":
            return bool(self.buckets)
        if action == "circle":
            return len(self.choices) > 1
        return True

    def _go(self, period: Period) -> None:
        self.period = period
        self.buckets = []
        self.refresh_bindings()
        self.reload()

    def action_step(self, direction: int) -> None:
        p = self.period
        moment = p.start - timedelta(seconds=1) if direction < 0 else p.end + timedelta(seconds=1)
        self._go(period_at(p.zoom, moment))

    def action_zoom(self, direction: int) -> None:
        """Zoom out around the period; zoom in to the bucket under the cursor."""
        i = ZOOMS.index(self.period.zoom) + direction
        if not 0 <= i < len(ZOOMS):
            return
        moment = self.period.start
        t: DataTable[Any] = self.query_one("#log_table", DataTable)
        if direction < 0 and t.row_count and 0 <= t.cursor_row < len(self.buckets):
            moment = label_moment(self.buckets[t.cursor_row].label)
        self._go(period_at(ZOOMS[i], moment))

    def action_circle(self, step: int) -> None:
        self.choice = (self.choice + step) % len(self.choices)
        self._go(self.period)

    def action_today(self) -> None:
        self._go(period_at(self.period.zoom, datetime.now(UTC)))

    def action_goto(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            try:
                d = date.fromisoformat(text)
            except ValueError:
                self.notify(f"{safe_markup(text)!r} is not a date like 2026-11-24", severity="error")
                return
            self._go(period_at(self.period.zoom, local_midnight(d)))

        self.app.push_screen(AskText("Go to date (YYYY-MM-DD):", self.period.start.date().isoformat()), done)

    # --- export ---------------------------------------------------------------------------

    def export_path(self) -> Path:
        who = (self.macs or ["all"])[0]
        p = self.period
        return self.store_path.parent / f"export-{who}-{p.zoom}-{p.start.strftime('%Y%m%d%H')}.csv"

    def action_export(self) -> None:
        self.export(self.export_path(), self.period, self.macs, dict(self.circles))

    @work(thread=True, exclusive=True, group="log_export", exit_on_error=False)
    def export(self, path: Path, period: Period, macs: list[str] | None, names: dict[str, str]) -> None:
        try:
            text, rows = export_text(self.store_path, period, macs, names)
            save_file(path, text)
        except (OSError, sqlite3.Error) as exc:
            self.post_message(ExportDone(path, 0, str(exc)))
            return
        self.post_message(ExportDone(path, rows))

    @on(ExportDone)
    def export_done(self, msg: ExportDone) -> None:
        if msg.error:
            self.notify(
                f"cannot export to {safe_markup(msg.path)}: {safe_markup(msg.error)}", severity="error"
            )
            return
        self.exported = msg.path
        self.notify(f"exported {msg.rows} intervals to {safe_markup(msg.path)}")
