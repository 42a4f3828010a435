"""Plugwise-2-py style text logs (`[logging] legacy_files = true`), so existing scripts keep working.

Layout under `<data>/legacy/`, as PW-logger.py wrote it:
  `<year>/pwact/pwact-<date>-<mac>.log`  one line per 10-s reading: seconds since local midnight, watts
  `<year>/pwlog/pw-<mac>.log`            one line per logged interval (intervals of 60 min)
  `<year>/pwlog/pw-<date>-<mac>.log`     the same, one file per day, for intervals under 60 min
  `pwpower.log`                          the latest reading of every circle, rewritten each cycle
Interval lines: `local end time, average W, Wh` (`%Y-%m-%d %H:%M:%S, %15.4f, %15.4f`).
Only intervals new to the store are appended, so re-reads never duplicate a line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from .atomic import write_atomic
from .store import Interval


class LegacyLogs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def power(self, samples: Iterable[tuple[str, int, float]]) -> None:
        latest: dict[str, float] = {}
        for mac, ts, watts in samples:
            local = datetime.fromtimestamp(ts).astimezone()
            folder = self.root / str(local.year) / "pwact"
            folder.mkdir(parents=True, exist_ok=True)
            seconds = local.hour * 3600 + local.minute * 60 + local.second
            with open(folder / f"pwact-{local.date().isoformat()}-{mac}.log", "a", encoding="ascii") as fh:
                fh.write(f"{seconds:5d}, {watts:8.2f}\n")
            latest[mac] = watts
        if latest:
            write_atomic(self.root / "pwpower.log", "".join(f"{m}, {w:.2f}\n" for m, w in latest.items()))

    def intervals(self, intervals: Iterable[Interval]) -> None:
        for iv in sorted(intervals, key=lambda i: (i.mac, i.end_ts, i.production)):
            end = datetime.fromtimestamp(iv.end_ts).astimezone()
            folder = self.root / str(end.year) / "pwlog"
            folder.mkdir(parents=True, exist_ok=True)
            minutes = (iv.end_ts - iv.start_ts) // 60
            name = f"pw-{iv.mac}.log" if minutes >= 60 else f"pw-{end.date().isoformat()}-{iv.mac}.log"
            sign = -1.0 if iv.production else 1.0
            with open(folder / name, "a", encoding="ascii") as fh:
                fh.write(
                    f"{end.strftime('%Y-%m-%d %H:%M:%S')}, {sign * iv.watts:15.4f}, {sign * iv.wh:15.4f}\n"
                )
