"""The log browser: energy per hour/day/month, production apart, and a day of power samples.

`LogBrowserScreen(store_path, *, circles=[(mac, name), …], mac=None)`; mac None
shows all circles together.  Every view is one or two aggregate queries
(pwtui/queries.py), so a year of data opens at once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from pwtui import queries
from pwtui.atomic import write_atomic

from .schedule_editor import AskText
from .widgets.charts import bar_chart, line_chart

ZOOMS = ("hour", "day", "week", "month", "year")


@dataclass(frozen=True)
class Period:
    zoom: str
    start: datetime  # local, aware
    end: datetime

    @property
    def bucket(self) -> str:
        return {"hour": "hour", "day": "hour", "week": "day", "month": "day", "year": "month"}[self.zoom]

    @property
    def title(self) -> str:
        s = self.start
        return {
            "hour": s.strftime("%a %d %b %Y %H:00"),
            "day": s.strftime("%a %d %b %Y"),
            "week": f"week of {s.strftime('%d %b %Y')}",
            "month": s.strftime("%B %Y"),
            "year": s.strftime("%Y"),
        }[self.zoom]


def local_midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day).astimezone()


def period_at(zoom: str, moment: datetime) -> Period:
    m = moment.astimezone()
    if zoom == "hour":
        s = m.replace(minute=0, second=0, microsecond=0)
        return Period(zoom, s, (s + timedelta(hours=1)).astimezone())
    d = m.date()
    if zoom == "day":
        s = local_midnight(d)
        return Period(zoom, s, local_midnight(d + timedelta(days=1)))
    if zoom == "week":
        s = local_midnight(d - timedelta(days=d.weekday()))
        return Period(zoom, s, local_midnight(s.date() + timedelta(days=7)))
    if zoom == "month":
        s = local_midnight(d.replace(day=1))
        nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        return Period(zoom, s, local_midnight(nxt))
    s = local_midnight(d.replace(month=1, day=1))
    return Period(zoom, s, local_midnight(d.replace(year=d.year + 1, month=1, day=1)))


class LogBrowserScreen(Screen):
    DEFAULT_CSS = """
    LogBrowserScreen { overflow-y: hidden; }
    #log_chart, #log_power, #log_title { height: auto; }
    #log_table { height: 1fr; min-height: 4; }
    """
    BINDINGS = [
        Binding("left,h", "step(-1)", "Previous", id="log_prev"),
        Binding("right,l", "step(1)", "Next", id="log_next"),
        Binding("plus,equals_sign,i", "zoom(-1)", "Zoom in", id="log_zoom_in"),
        Binding("minus,o", "zoom(1)", "Zoom out", id="log_zoom_out"),
        Binding("tab,c", "circle(1)", "Circle", id="log_circle"),
        Binding("g", "goto", "Go to date", id="log_goto"),
        Binding("t", "today", "Today", id="log_today"),
        Binding("e", "export", "Export CSV", id="log_export"),
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
        self._db = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="log_title", classes="detail")
        yield Static(id="log_chart")
        yield Static(id="log_power")
        t: DataTable = DataTable(id="log_table", cursor_type="row", zebra_stripes=True)
        t.add_column("Period (local)", key="label", width=17)
        t.add_column("Used kWh", key="used", width=10)
        t.add_column("Produced kWh", key="produced", width=13)
        t.add_column("Avg W", key="watts", width=9)
        yield t
        yield Footer()

    @property
    def macs(self) -> list[str] | None:
        mac = self.choices[self.choice][0]
        return [mac] if mac else None

    def on_mount(self) -> None:
        try:
            self._db = queries.connect(self.store_path)
            self._db.execute("SELECT 1 FROM energy LIMIT 1")
        except Exception as exc:
            self._db = None
            self.query_one("#log_title", Static).update(f"No logged data yet ({exc}).")
            return
        self.refresh_view()

    def on_unmount(self) -> None:
        if self._db is not None:
            self._db.close()

    def refresh_view(self) -> None:
        if self._db is None:
            return
        p = self.period
        s, e = int(p.start.timestamp()), int(p.end.timestamp())
        self.buckets = queries.energy_buckets(self._db, s, e, p.bucket, self.macs)
        used = sum(b.consumption_wh for b in self.buckets) / 1000
        prod = sum(b.production_wh for b in self.buckets) / 1000
        who = self.choices[self.choice][1]
        self.query_one("#log_title", Static).update(
            Text.from_markup(
                f"[b]{who}[/b] — {p.title}   used [b]{used:.3f} kWh[/b]   produced [b green]{prod:.3f} kWh[/]   "
                f"[dim]({p.zoom} view, bars per {p.bucket})[/]"
            )
        )
        width = max(40, self.size.width or 80)
        labels = [b.label[-5:-3] if p.bucket == "hour" else b.label[-2:] for b in self.buckets]
        chart = bar_chart(
            [b.consumption_wh for b in self.buckets],
            [b.production_wh for b in self.buckets],
            labels,
            width,
            height=6 if p.zoom in ("day", "hour") else 8,
        )
        self.query_one("#log_chart", Static).update(chart)
        power = self.query_one("#log_power", Static)
        if p.zoom in ("day", "hour"):
            series = queries.power_series(self._db, s, e, min(288, width), self.macs)
            power.update(
                line_chart(
                    [w for _, w in series], width, 5, p.start.strftime("%H:%M"), p.end.strftime("%H:%M")
                )
                if series
                else Text("no power samples", style="dim")
            )
            power.display = True
        else:
            power.display = False
        t = self.query_one("#log_table", DataTable)
        t.clear()
        for b in self.buckets:
            t.add_row(
                b.label,
                Text(f"{b.consumption_wh / 1000:.3f}", justify="right"),
                Text(f"{b.production_wh / 1000:.3f}", justify="right"),
                Text(f"{b.watts:.1f}", justify="right"),
                key=b.label,
            )

    # --- navigation ---------------------------------------------------------------------

    def action_step(self, direction: int) -> None:
        p = self.period
        moment = p.start - timedelta(seconds=1) if direction < 0 else p.end + timedelta(seconds=1)
        self.period = period_at(p.zoom, moment)
        self.refresh_view()

    def action_zoom(self, direction: int) -> None:
        i = ZOOMS.index(self.period.zoom) + direction
        if 0 <= i < len(ZOOMS):
            self.period = period_at(ZOOMS[i], self.period.start)
            self.refresh_view()

    def action_circle(self, step: int) -> None:
        self.choice = (self.choice + step) % len(self.choices)
        self.refresh_view()

    def action_today(self) -> None:
        self.period = period_at(self.period.zoom, datetime.now(UTC))
        self.refresh_view()

    def action_goto(self) -> None:
        def done(text: str | None) -> None:
            if not text:
                return
            try:
                d = date.fromisoformat(text)
            except ValueError:
                self.notify(f"{text!r} is not a date like 2026-11-24", severity="error")
                return
            self.period = period_at(self.period.zoom, local_midnight(d))
            self.refresh_view()

        self.app.push_screen(AskText("Go to date (YYYY-MM-DD):", self.period.start.date().isoformat()), done)

    def export_csv(self) -> str:
        """The shown range, one row per logged interval, local and UTC times."""
        assert self._db is not None
        p = self.period
        names = dict(self.circles)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(
            ["mac", "circle", "start_local", "end_local", "start_utc", "end_utc", "wh", "watts", "production"]
        )
        for mac, s, e, wh, prod in queries.intervals(
            self._db, int(p.start.timestamp()), int(p.end.timestamp()), self.macs
        ):
            sl, el = datetime.fromtimestamp(s).astimezone(), datetime.fromtimestamp(e).astimezone()
            w.writerow(
                [
                    mac,
                    names.get(mac, ""),
                    sl.isoformat(timespec="seconds"),
                    el.isoformat(timespec="seconds"),
                    datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    datetime.fromtimestamp(e, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    f"{wh:.4f}",
                    f"{wh * 3600 / (e - s):.3f}" if e > s else "0",
                    "yes" if prod else "no",
                ]
            )
        return out.getvalue()

    def action_export(self) -> None:
        if self._db is None:
            return
        who = (self.macs or ["all"])[0]
        path = (
            self.store_path.parent
            / f"export-{who}-{self.period.zoom}-{self.period.start.strftime('%Y%m%d%H')}.csv"
        )
        write_atomic(path, self.export_csv())
        self.notify(f"exported to {path}")
