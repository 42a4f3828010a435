"""Periods of the log browser (hour … year, in local time) and where a bucket sits in one.

No Textual here: the arithmetic is tested on its own and shared by the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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

    @property
    def span(self) -> tuple[int, int]:
        return int(self.start.timestamp()), int(self.end.timestamp())


def local_midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day).astimezone()


def period_at(zoom: str, moment: datetime) -> Period:
    """The period of `zoom` that holds `moment` (local calendar: weeks start on Monday)."""
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


def label_moment(label: str) -> datetime:
    """The local start of a bucket from its label ("2026-06", "2026-06-11", "2026-06-11 13:00")."""
    if len(label) == 7:
        label += "-01"
    return datetime.fromisoformat(label).astimezone()


def unit_of(period: Period) -> tuple[float, str]:
    """Seconds per x unit of the period's charts and the unit's name."""
    return {
        "hour": (60.0, "minute"),
        "day": (3600.0, "hour"),
        "week": (86400.0, "day"),
        "month": (86400.0, "day"),
        "year": (86400.0 * 365.25 / 12, "month"),
    }[period.zoom]


def x_of(period: Period, ts: float) -> float:
    """Position of a moment on the period's x axis (true spacing: equal time, equal distance)."""
    if period.zoom == "year":
        m = datetime.fromtimestamp(ts).astimezone()
        first = local_midnight(m.date().replace(day=1))
        nxt = local_midnight((m.date().replace(day=28) + timedelta(days=4)).replace(day=1))
        frac = (ts - first.timestamp()) / (nxt.timestamp() - first.timestamp())
        return m.month - 1 + frac
    per, _ = unit_of(period)
    return (ts - period.start.timestamp()) / per


def ticks(period: Period) -> tuple[list[float], list[str]]:
    """Tick positions and labels for the period's x axis."""
    if period.zoom == "hour":
        return [0, 15, 30, 45, 60], [f"{period.start:%H}:{m:02d}" for m in (0, 15, 30, 45, 0)]
    if period.zoom == "day":
        hours = list(range(0, 25, 3))
        return [float(h) for h in hours], [f"{h % 24:02d}" for h in hours]
    if period.zoom == "week":
        return [d + 0.5 for d in range(7)], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    if period.zoom == "month":
        days = round((period.end - period.start).total_seconds() / 86400)
        return [d - 0.5 for d in range(1, days + 1, 5)], [str(d) for d in range(1, days + 1, 5)]
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return [m + 0.5 for m in range(12)], names


def x_range(period: Period) -> tuple[float, float]:
    if period.zoom == "year":
        return 0.0, 12.0
    return 0.0, x_of(period, period.end.timestamp())
