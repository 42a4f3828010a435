"""Read-only aggregations for the log browser: SQLite does the summing, nothing loads all rows.

Buckets are in local time (SQLite's 'localtime', i.e. the process's TZ).  An
interval belongs to the bucket its last second falls in (end_ts − 1), so an
hour logged as ending at 01:00 counts for 00:00–01:00.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .store import Interval

FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True)
class Bucket:
    label: str  # local time, e.g. "2026-11-24 13:00", "2026-11-24", "2026-11"
    consumption_wh: float
    production_wh: float
    seconds: int  # time the bucket's intervals span, first start to last end (for average watts)

    @property
    def watts(self) -> float:
        """Average power over the logged span; for several circles the total, not a mean per circle."""
        return self.consumption_wh * 3600.0 / self.seconds if self.seconds else 0.0


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _mac_filter(macs: list[str] | None) -> tuple[str, list[str]]:
    if not macs:
        return "", []
    return f" AND mac IN ({','.join('?' * len(macs))})", list(macs)


def energy_buckets(
    db: sqlite3.Connection, start_ts: int, end_ts: int, bucket: str, macs: list[str] | None = None
) -> list[Bucket]:
    fmt = FORMATS[bucket]
    where, args = _mac_filter(macs)
    rows = db.execute(
        f"SELECT strftime('{fmt}', end_ts - 1, 'unixepoch', 'localtime') AS b, "
        "COALESCE(SUM(CASE WHEN production = 0 THEN wh END), 0), "
        "COALESCE(SUM(CASE WHEN production = 1 THEN wh END), 0), "
        "COALESCE(MAX(CASE WHEN production = 0 THEN end_ts END) - MIN(CASE WHEN production = 0 THEN start_ts END), 0) "
        f"FROM energy WHERE end_ts > ? AND end_ts <= ?{where} GROUP BY b ORDER BY b",
        [start_ts, end_ts, *args],
    ).fetchall()
    return [Bucket(r[0], r[1], r[2], r[3]) for r in rows]


def power_series(
    db: sqlite3.Connection, start_ts: int, end_ts: int, points: int, macs: list[str] | None = None
) -> list[tuple[int, float]]:
    """Average power in `points` equal steps (sum over circles when several)."""
    step = max(10, (end_ts - start_ts) // max(1, points))
    where, args = _mac_filter(macs)
    rows = db.execute(
        "SELECT k, SUM(w) FROM (SELECT mac, (ts - ?) / ? AS k, AVG(watts) AS w FROM power "
        f"WHERE ts >= ? AND ts < ?{where} GROUP BY mac, k) GROUP BY k ORDER BY k",
        [start_ts, step, start_ts, end_ts, *args],
    ).fetchall()
    return [(start_ts + int(k) * step, float(w)) for k, w in rows]


def intervals(
    db: sqlite3.Connection, start_ts: int, end_ts: int, macs: list[str] | None = None
) -> Iterator[Interval]:
    """The logged intervals ending in (start_ts, end_ts], in time order (what an export holds)."""
    where, args = _mac_filter(macs)
    for r in db.execute(
        f"SELECT mac, start_ts, end_ts, wh, production FROM energy WHERE end_ts > ? AND end_ts <= ?{where} "
        "ORDER BY end_ts, mac, production",
        [start_ts, end_ts, *args],
    ):
        yield Interval(r[0], r[1], r[2], r[3], bool(r[4]))
