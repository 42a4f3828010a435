"""What the log browser's workers read and write, as messages and plain functions.

`export_text` is the shown range in `pwtui export`'s format (pwtui/export.py
writes both); `history_progress` is the share of the first history read done.
"""

from __future__ import annotations

import io
from pathlib import Path

from textual.message import Message

from pwtui import events as E
from pwtui import queries
from pwtui.export import write_energy

from .log_periods import Period


class LogData(Message):
    """What a loader read for one view (`token` says which request it answers)."""

    def __init__(
        self,
        token: int,
        period: Period,
        buckets: list[queries.Bucket] | None = None,
        series: list[tuple[int, float]] | None = None,
        step: int = 0,
        error: str = "",
    ) -> None:
        super().__init__()
        self.token, self.period, self.step, self.error = token, period, step, error
        self.buckets = buckets or []
        self.series = series or []


class ExportDone(Message):
    """An export finished (rows written) or failed (error)."""

    def __init__(self, path: Path, rows: int, error: str = "") -> None:
        super().__init__()
        self.path, self.rows, self.error = path, rows, error


def export_text(
    store_path: Path, period: Period, macs: list[str] | None, names: dict[str, str]
) -> tuple[str, int]:
    """The shown range as `pwtui export` writes it (same columns, units, UTC times)."""
    db = queries.connect(store_path)
    try:
        out = io.StringIO()
        s, e = period.span
        rows = write_energy(out, queries.intervals(db, s, e, macs), names)
        return out.getvalue(), rows
    finally:
        db.close()


def history_progress(snap: E.Snapshot | None) -> int | None:
    """Percent of the first history read done, None when nothing is being read."""
    if snap is None:
        return None
    done = sum(c.history_done for c in snap.circles)
    total = sum(c.history_total for c in snap.circles)
    if not total or done >= total:
        return None
    return int(100 * done / total)
