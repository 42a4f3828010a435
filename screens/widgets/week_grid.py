"""A week schedule as one line-API widget: 7 days × 96 quarter hours, Monday first.

One `render_line` per visible line (a grid of 672 widgets starts ~15× slower,
TEXTUAL-NOTES §2.10).  The widget holds the slots being edited, a cursor and an
optional marked rectangle; editing operations keep an undo history.

Marking works as in an editor: `m` starts a mark and the arrows extend it
(shift+arrows extend without `m`); an edit applies to the marked range and ends
the mark; a plain move ends a shift-made mark.  The day labels stay put while
the hours scroll sideways, so at 80 columns every quarter hour is reachable
with its day in view.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from protocol.schedules import DAYS, SLOTS_PER_DAY, WeekSchedule

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LABEL = 5  # "Mon  "
WEEKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Cell:
    day: int
    quarter: int

    @property
    def index(self) -> int:
        return self.day * SLOTS_PER_DAY + self.quarter


class WeekGrid(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    WeekGrid { height: 11; }
    """
    BINDINGS = [
        Binding("left,h", "move(0,-1)", "←", show=False, id="grid_left", tooltip="Move a quarter hour back"),
        Binding("right,l", "move(0,1)", "→", show=False, id="grid_right", tooltip="Move a quarter hour on"),
        Binding("up,k", "move(-1,0)", "↑", show=False, id="grid_up", tooltip="Move a day up"),
        Binding("down,j", "move(1,0)", "↓", show=False, id="grid_down", tooltip="Move a day down"),
        Binding("shift+left", "extend(0,-1)", "Mark ←", show=False, id="grid_mark_left"),
        Binding("shift+right", "extend(0,1)", "Mark →", show=False, id="grid_mark_right"),
        Binding("shift+up", "extend(-1,0)", "Mark ↑", show=False, id="grid_mark_up"),
        Binding("shift+down", "extend(1,0)", "Mark ↓", show=False, id="grid_mark_down"),
        Binding("pageup", "move(0,-8)", "−2 h", show=False, id="grid_page_left", tooltip="Move 2 hours back"),
        Binding("pagedown", "move(0,8)", "+2 h", show=False, id="grid_page_right", tooltip="Move 2 hours on"),
        Binding("home", "edge(0)", "00:00", show=False, id="grid_home", tooltip="To 00:00 (ends a mark)"),
        Binding("end", "edge(1)", "23:45", show=False, id="grid_end", tooltip="To 23:45 (ends a mark)"),
        Binding("shift+home", "edge(0,1)", "Mark to 00:00", show=False, id="grid_mark_home"),
        Binding("shift+end", "edge(1,1)", "Mark to 23:45", show=False, id="grid_mark_end"),
        Binding(
            "m",
            "mark",
            "Mark",
            id="grid_mark",
            tooltip="Start a marked range at the cursor (m again ends it)",
        ),
        Binding("escape", "unmark", "Unmark", id="grid_unmark", show=False, tooltip="End the marked range"),
    ]

    cursor: reactive[Cell] = reactive(Cell(0, 0), repaint=False)
    mark_start: reactive[Cell | None] = reactive(None, repaint=False)
    marking: reactive[bool] = reactive(False, repaint=False)
    """True after `m`: plain arrows extend the range instead of moving alone."""

    class Changed(Message):
        """The slots changed (an edit, undo or redo)."""

    def __init__(self, week: WeekSchedule, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.slots: list[int] = list(week.slots)
        self._undo: list[list[int]] = []
        self._redo: list[list[int]] = []
        self.virtual_size = Size(LABEL + SLOTS_PER_DAY, DAYS + 2)

    # --- data ----------------------------------------------------------------------

    @property
    def week(self) -> WeekSchedule:
        return WeekSchedule(tuple(self.slots))

    def load(self, week: WeekSchedule) -> None:
        self.slots = list(week.slots)
        self._undo.clear()
        self._redo.clear()
        self.unmark()

    def selection(self) -> list[Cell]:
        """The marked rectangle, or just the cursor."""
        a, c = self.mark_start or self.cursor, self.cursor
        d0, d1 = sorted((a.day, c.day))
        q0, q1 = sorted((a.quarter, c.quarter))
        return [Cell(d, q) for d in range(d0, d1 + 1) for q in range(q0, q1 + 1)]

    def unmark(self) -> None:
        self.mark_start = None
        self.marking = False
        self.refresh()

    def _edit(self, changes: dict[int, int]) -> bool:
        """Apply `changes` (slot index → value) as one undo step; an edit ends the mark."""
        self.unmark()
        changes = {i: v for i, v in changes.items() if self.slots[i] != v}
        if not changes:
            return False
        self._undo.append(list(self.slots))
        self._redo.clear()
        for i, v in changes.items():
            self.slots[i] = v
        self.refresh()
        self.post_message(self.Changed())
        return True

    def set_value(self, value: int) -> bool:
        """Set every selected slot (on −1, off 0, standby watts > 0)."""
        return self._edit({c.index: value for c in self.selection()})

    def copy_day(self, source: int, targets: list[int]) -> bool:
        src = self.slots[source * SLOTS_PER_DAY : (source + 1) * SLOTS_PER_DAY]
        return self._edit(
            {t * SLOTS_PER_DAY + q: v for t in targets if t != source for q, v in enumerate(src)}
        )

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(list(self.slots))
        self.slots = self._undo.pop()
        self.refresh()
        self.post_message(self.Changed())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(list(self.slots))
        self.slots = self._redo.pop()
        self.refresh()
        self.post_message(self.Changed())
        return True

    # --- movement ------------------------------------------------------------------

    def _clamp(self, day: int, quarter: int) -> Cell:
        return Cell(max(0, min(DAYS - 1, day)), max(0, min(SLOTS_PER_DAY - 1, quarter)))

    def _go(self, cell: Cell, extend: bool) -> None:
        """Move the cursor; extend the mark when asked or while marking, else end it."""
        if extend or self.marking:
            if self.mark_start is None:
                self.mark_start = self.cursor
        else:
            self.mark_start = None
        self.cursor = cell
        self._follow()

    def action_move(self, dd: int, dq: int) -> None:
        self._go(self._clamp(self.cursor.day + dd, self.cursor.quarter + dq), extend=False)

    def action_extend(self, dd: int, dq: int) -> None:
        self._go(self._clamp(self.cursor.day + dd, self.cursor.quarter + dq), extend=True)

    def action_edge(self, end: int, extend: int = 0) -> None:
        self._go(Cell(self.cursor.day, SLOTS_PER_DAY - 1 if end else 0), extend=bool(extend))

    def action_mark(self) -> None:
        if self.marking:
            self.unmark()
            return
        self.mark_start = self.cursor
        self.marking = True
        self.refresh()

    def action_unmark(self) -> None:
        self.unmark()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "unmark":
            return self.mark_start is not None  # otherwise escape goes on to the screen (leave)
        return True

    @property
    def grid_width(self) -> int:
        """Columns for quarter hours (the day labels take the rest)."""
        return max(1, self.scrollable_content_region.width - LABEL)

    def _follow(self) -> None:
        """Scroll sideways so the cursor's quarter stays in view with two quarters to spare."""
        x, q, w = int(self.scroll_offset.x), self.cursor.quarter, self.grid_width
        if q < x + 2:
            self.scroll_to(x=max(0, q - 2), animate=False)
        elif q > x + w - 3:
            self.scroll_to(x=min(SLOTS_PER_DAY - w, q - w + 3), animate=False)
        self.refresh()

    # --- drawing -------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Day labels fixed at the left; the quarter-hour columns scrolled by scroll_x."""
        scroll_x, scroll_y = self.scroll_offset
        line = y + scroll_y
        width = self.size.width
        if line == 0:
            text = "".join(f"{h:<4d}" for h in range(24))
            label = Strip([Segment(" " * LABEL)])
            return self._join(label, Strip([Segment(text, Style(dim=True))]), scroll_x, width)
        if 1 <= line <= DAYS:
            day = line - 1
            label = Strip([Segment(f"{DAY_NAMES[day]}  ", Style(bold=True))])
            return self._join(label, Strip(self._day_segments(day)), scroll_x, width)
        if line == DAYS + 1:
            segs = [
                Segment(" " * LABEL),
                Segment("█", Style(color="green")),
                Segment(" on  "),
                Segment("·", Style(color="red")),
                Segment(" off  "),
                Segment("▒", Style(color="yellow")),
                Segment(" standby killer  "),
                Segment(
                    f"cursor {DAY_NAMES[self.cursor.day]} "
                    f"{self.cursor.quarter // 4:02d}:{self.cursor.quarter % 4 * 15:02d}"
                    f" = {self._describe(self.slots[self.cursor.index])}"
                ),
            ]
            return Strip(segs).crop(0, width).extend_cell_length(width)
        return Strip([]).extend_cell_length(width)

    @staticmethod
    def _join(label: Strip, grid: Strip, scroll_x: int, width: int) -> Strip:
        body = grid.crop(scroll_x, scroll_x + max(0, width - LABEL))
        return (
            Strip.join([label.crop(0, LABEL).extend_cell_length(LABEL), body])
            .crop(0, width)
            .extend_cell_length(width)
        )

    def _describe(self, v: int) -> str:
        return "on" if v < 0 else "off" if v == 0 else f"off below {v} W"

    def _day_segments(self, day: int) -> list[Segment]:
        """The 96 cells of a day; a marked cell gets a blue background and a shaded glyph,
        so the mark shows on "on" cells (a full block hides any background) too."""
        sel = {c.index for c in self.selection()} if self.mark_start is not None else set()
        segs: list[Segment] = []
        base = day * SLOTS_PER_DAY
        for q in range(SLOTS_PER_DAY):
            i = base + q
            v = self.slots[i]
            ch, style = (
                ("█", Style(color="green"))
                if v < 0
                else ("·", Style(color="red"))
                if v == 0
                else ("▒", Style(color="yellow"))
            )
            if q % 4 == 0 and v == 0:
                ch = "┆"
            if i in sel:
                ch = {"█": "▓", "▒": "░"}.get(ch, ch)
                style = style + Style(bgcolor="blue")
            if i == self.cursor.index and self.has_focus:
                style = Style(reverse=True, bold=True) + style
            elif i == self.cursor.index:
                style = style + Style(underline=True)
            segs.append(Segment(ch, style))
        return segs

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
