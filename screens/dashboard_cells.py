"""What a dashboard row shows for a circle, and how wide each column may be.

Kept apart from the screen so the layout rules (names never cut while there is
room, offline said in words, symbols with a legend) are plain functions.
"""

from __future__ import annotations

from rich.text import Text

from pwtui import events as E
from pwtui.text import safe_text

BARS = " ▁▂▃▄▅▆▇█"
ALWAYS_ON, NOT_IN_CONTROL = "⚑", "○"
LEGEND = f"{ALWAYS_ON} always on  {NOT_IN_CONTROL} not in control file  ↑ production  … pending  ! failed"
# (key, label, width): None = grows with the terminal (see `widths`)
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("name", "Circle", None),
    ("location", "Where", None),
    ("online", "Link", 7),
    ("relay", "Relay", 5),
    ("schedule", "Schedule", None),
    ("watts", "Watts", 8),
    ("today", "kWh", 7),
    ("trend", "Trend", 5),
)
MIN_WIDTH = {"name": 10, "location": 5, "schedule": 9}
PADDING = 2  # DataTable cell padding, both sides together
SCROLLBAR = 2


def sparkline(values: tuple[float, ...], width: int = 5) -> str:
    vals = [abs(v) for v in values[-width:]]
    if not vals:
        return ""
    top = max(vals) or 1.0
    return "".join(BARS[min(8, round(v / top * 8))] for v in vals)


def fmt_watts(w: float | None, online: bool) -> Text:
    if w is None or not online:
        return Text("—", justify="right", style="dim")
    style = "bold green" if w < 0 else ""
    return Text(f"{w:7.1f}" if abs(w) < 100_000 else f"{w / 1000:6.0f}k", justify="right", style=style)


def name_text(c: E.CircleStatus) -> str:
    name = safe_text(c.name) or c.mac[-6:]
    marks = (" " + ALWAYS_ON if c.always_on else "") + (" " + NOT_IN_CONTROL if not c.in_control else "")
    return name + marks


def schedule_text(c: E.CircleStatus) -> str:
    if not c.schedule:
        return "—"
    s = f"{safe_text(c.schedule)} {'on' if c.schedule_state else 'off'}"
    if c.schedule_sync == "pending":
        s += " …"
    elif c.schedule_sync == "failed":
        s += " !"
    return s


def relay_text(c: E.CircleStatus, pending: str | None) -> Text:
    if pending:
        return Text(pending[:5], style="yellow")
    if not c.online:
        return Text("—", style="dim")
    if c.relay is None:
        return Text("…", style="dim")
    return Text("on" if c.relay else "off", style="green" if c.relay else "red")


def row_cells(c: E.CircleStatus, pending: str | None) -> dict[str, Text]:
    """The cells of one row; every text from a file goes through `safe_text` (Text never parses markup)."""
    wh = c.today_wh_production if c.production else c.today_wh
    if wh is None:  # never read, or the records since midnight are still being read
        today_text = "…" if c.online else "—"
    else:
        today_text = f"{wh / 1000.0:5.2f}↑" if c.production else f"{wh / 1000.0:6.2f}"
    return {
        "name": Text(name_text(c), style="" if c.configured else "italic"),
        "location": Text(safe_text(c.location)),
        "online": Text("online" if c.online else "offline", style="green" if c.online else "red"),
        "relay": relay_text(c, pending),
        "schedule": Text(schedule_text(c)),
        "watts": fmt_watts(c.watts, c.online),
        "today": Text(today_text, justify="right"),
        "trend": Text(sparkline(c.recent_watts), style="green" if (c.watts or 0) < 0 else "cyan"),
    }


def widths(total: int, circles: tuple[E.CircleStatus, ...]) -> dict[str, int]:
    """Column widths for a table `total` cells wide: fixed columns first, then the growing ones.

    Name gets what its longest entry needs, then location, then schedule (so
    nothing is cut while there is room); the table does not stretch beyond that.
    """
    fixed = {k: w for k, _, w in COLUMNS if w is not None}
    spare = total - SCROLLBAR - PADDING * len(COLUMNS) - sum(fixed.values())
    want = {
        "name": max([len(name_text(c)) for c in circles] + [MIN_WIDTH["name"]]),
        "location": max([len(safe_text(c.location)) for c in circles] + [MIN_WIDTH["location"]]),
        "schedule": max([len(schedule_text(c)) for c in circles] + [MIN_WIDTH["schedule"]]),
    }
    out = dict(MIN_WIDTH)
    spare -= sum(out.values())
    for key in ("name", "location", "schedule"):
        extra = max(0, min(spare, want[key] - out[key]))
        out[key] += extra
        spare -= extra
    return {**fixed, **out}
