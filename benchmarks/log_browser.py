"""Log-browser benchmark: a year of 10-second samples and hourly intervals for 8 circles.

Prints the time to open the browser and to render a day, a month and a year
(target: every view under 200 ms).  `--days N` makes a smaller store for a
quick look; the store is kept in a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App

from pwtui.store import DB_NAME, Interval, Store
from screens.log_browser import LogBrowserScreen, period_at

MACS = [f"000D6F00010000{i:02X}" for i in range(1, 9)]


POWER_DAY = """
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 8639)
INSERT OR REPLACE INTO power (mac, ts, watts)
SELECT m.column1, :base + k.i * 10, 50.0 + k.i % 90 FROM (VALUES {macs}) AS m CROSS JOIN k
"""


def fill(path: Path, days: int) -> tuple[int, int]:
    """Hourly intervals and a 10-s sample per circle for `days` days, ending 2026-11-01.

    The samples are the rows the engine writes (`INSERT OR REPLACE INTO power`), one
    transaction a day, in the engine's order (circle by circle, then time), so the tables and
    indexes grow as a logger's do; SQLite generates them, as Python issuing 25 million
    inserts one by one would take two minutes of set-up and measure nothing."""
    st = Store(path)
    end = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    start = end - days * 86400
    with st.batch():
        for mac_i, mac in enumerate(MACS):
            st.add_intervals(
                Interval(mac, t - 3600, t, 20.0 + (t // 3600) % 24 + mac_i, False)
                for t in range(start + 3600, end + 1, 3600)
            )
    st.close()
    db = sqlite3.connect(path)  # in WAL mode, as the store left it
    # no syncs and a large cache: a faster fill of the same pages (a scratch file; the
    # B-trees depend on what is inserted in which order, not on these)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    sql = POWER_DAY.format(macs=", ".join(f"('{m}')" for m in MACS))
    for day in range(days):
        with db:
            db.execute(sql, {"base": start + day * 86400})
    db.close()
    return start, end


class Host(App[None]):
    def __init__(self, path: Path, now: datetime) -> None:
        super().__init__()
        self.path, self.now = path, now

    def open_browser(self) -> None:
        self.push_screen(LogBrowserScreen(self.path, circles=[(m, m[-2:]) for m in MACS], now=self.now))


async def until_shown(pilot: Any, scr: LogBrowserScreen, n: int) -> None:
    while scr.loaded < n:
        await pilot.pause(0.005)


async def measure(path: Path, now: datetime) -> dict[str, float]:
    times: dict[str, float] = {}
    app = Host(path, now)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        app.open_browser()
        scr = app.screen
        assert isinstance(scr, LogBrowserScreen)
        await until_shown(pilot, scr, 1)
        times["open (day, all circles)"] = time.perf_counter() - t0
        for zoom in ("day", "month", "year"):
            shown = scr.loaded
            t0 = time.perf_counter()
            scr._go(period_at(zoom, now))  # the query runs in a worker; time until it is drawn
            await until_shown(pilot, scr, shown + 1)
            times[f"render {zoom}"] = time.perf_counter() - t0
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / DB_NAME
        t0 = time.perf_counter()
        _start, end = fill(path, args.days)
        print(
            f"filled {args.days} days × {len(MACS)} circles "
            f"({args.days * 8640 * len(MACS):,} samples) in {time.perf_counter() - t0:.0f} s, "
            f"{path.stat().st_size / 1e6:.0f} MB"
        )
        now = datetime.fromtimestamp(end, UTC) - timedelta(days=15)
        times = asyncio.run(measure(path, now))
        worst = max(times.values())
        for k, v in times.items():
            print(f"{k:28} {v * 1000:7.1f} ms   {v / 0.2:.2f}× the 200 ms target")
        print(f"worst view {worst * 1000:.0f} ms: {'met' if worst < 0.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
