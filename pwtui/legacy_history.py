"""Plugwise-2-py's logged history, read into pwtui's store (`pwtui import-legacy`).

Plugwise-2-py (its v2 logger) wrote, under its `permanent_path` (`datalog/`):
- `<year>/pwact/pwact-<date>-<MAC>.log`: 10-second power, `ts, W` per line
  (`ts, ` when a read failed);
- `<year>/pwlog/pw-<MAC>.log` (yearly) and `pw-<date>-<MAC>.log` (daily):
  interval energy, `end, W, Wh` per line.
With `log_format = "epoch"` the times are Unix seconds; otherwise energy lines
carry local `YYYY-MM-DD HH:MM:SS` and power lines seconds since local midnight
(the date is in the file name).

Its known flaws are handled here, each reported with file and line:
- It takes the gap to the previous entry as an entry's length, so the first
  entry after a log-interval change (or after a gap) claims too long a span.
  The true length is the circle's own spacing: the shorter of the gaps to the
  entries before and after it. The Wh of such an entry was computed by
  Plugwise-2-py over the wrong span (pulse correction), so it is kept but
  marked approximate.
- For a production circle it summed consumption and production of one
  timestamp into one line: those rows are stored as net energy (consumption
  when ≥ 0, production otherwise) and marked as net.
- Truncated or garbled lines are skipped and reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .store import IMPORTED, IMPORTED_APPROX, IMPORTED_NET, Interval, Store

_POWER_NAME = re.compile(r"^pwact-(\d{4}-\d{2}-\d{2})-([0-9A-Fa-f]{16})\.log$")
_ENERGY_DAILY = re.compile(r"^pw-(\d{4}-\d{2}-\d{2})-([0-9A-Fa-f]{16})\.log$")
_ENERGY_YEARLY = re.compile(r"^pw-([0-9A-Fa-f]{16})\.log$")
_BATCH = 5000

Progress = Callable[[int, int], None]  # (files done, files in all)


@dataclass(frozen=True)
class LegacyFile:
    kind: str  # "power" or "energy"
    mac: str
    path: Path
    day: date | None  # from the file name (power files, daily energy files)


@dataclass
class ImportReport:
    """What an import did; `notes` name file and line of everything not taken as it was."""

    files: int = 0
    power_new: int = 0
    power_kept: int = 0  # already in the store (pwtui's own or an earlier import)
    energy_new: int = 0
    energy_kept: int = 0
    corrected: int = 0  # entries whose length was corrected
    differences: list[str] = field(default_factory=list)  # circle's value vs Plugwise-2-py's
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "power_new": self.power_new,
            "power_kept": self.power_kept,
            "energy_new": self.energy_new,
            "energy_kept": self.energy_kept,
            "corrected": self.corrected,
            "differences": len(self.differences),
            "notes": len(self.notes),
        }


@dataclass(frozen=True)
class _EnergyLine:
    end: int
    watts: float
    wh: float
    where: str  # "file, line N"


def locate_datalog(config_dir: Path, hostconfig: dict[str, object], override: Path | None) -> Path | None:
    """Where the logs are: `--logs`, else pw-hostconfig.json's path if it exists, else a
    `datalog/` folder beside or above the config (a copied installation)."""
    if override is not None:
        return override if override.is_dir() else None
    for key in ("permanent_path", "tmp_path"):
        value = hostconfig.get(key)
        if isinstance(value, str) and value and Path(value).is_dir():
            return Path(value)
    for base in (config_dir, *config_dir.parents[:3]):
        candidate = base / "datalog"
        if candidate.is_dir():
            return candidate
    return None


def find_files(datalog: Path) -> list[LegacyFile]:
    """Every power and energy file of every year folder, in a stable order."""
    found: list[LegacyFile] = []
    for year in sorted(p for p in datalog.iterdir() if p.is_dir() and p.name.isdigit()):
        for sub in ("pwact", "pwlog"):
            folder = year / sub
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if m := _POWER_NAME.match(path.name):
                    found.append(LegacyFile("power", m[2].upper(), path, date.fromisoformat(m[1])))
                elif m := _ENERGY_DAILY.match(path.name):
                    found.append(LegacyFile("energy", m[2].upper(), path, date.fromisoformat(m[1])))
                elif m := _ENERGY_YEARLY.match(path.name):
                    found.append(LegacyFile("energy", m[1].upper(), path, None))
    return found


def _local_ts(when: datetime) -> int:
    """A naive local time (as Plugwise-2-py wrote it) to Unix seconds."""
    return int(when.astimezone().timestamp())


def _lines(path: Path, notes: list[str]) -> Iterator[tuple[int, str]]:
    """Non-empty lines with their numbers; bytes that are not UTF-8 do not stop the import."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        notes.append(f"{path}: cannot read ({exc.strerror})")
        return
    text = raw.decode("utf-8", errors="replace")
    if not text.endswith("\n") and text:
        last = text.rsplit("\n", 1)[-1]
        notes.append(f"{path}, line {text.count(chr(10)) + 1}: truncated last line {last[:40]!r} skipped")
        text = text[: len(text) - len(last)]
    for no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield no, line


def parse_power(file: LegacyFile, notes: list[str]) -> Iterator[tuple[int, float]]:
    """(ts, W) of a pwact file; failed reads (`ts, `) are not samples."""
    for no, line in _lines(file.path, notes):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 2:
            notes.append(f"{file.path}, line {no}: expected 'time, W', got {line[:40]!r}; skipped")
            continue
        if cells[1] == "":
            continue
        try:
            stamp, watts = int(cells[0]), float(cells[1])
        except ValueError:
            notes.append(f"{file.path}, line {no}: not a number in {line[:40]!r}; skipped")
            continue
        if stamp < 86400 and file.day is not None:  # seconds since local midnight
            stamp = _local_ts(datetime.combine(file.day, time()) + timedelta(seconds=stamp))
        yield stamp, watts


def parse_energy(file: LegacyFile, notes: list[str]) -> Iterator[_EnergyLine]:
    for no, line in _lines(file.path, notes):
        cells = [c.strip() for c in line.split(",")]
        where = f"{file.path}, line {no}"
        if len(cells) != 3 or "" in cells:
            notes.append(f"{where}: expected 'end, W, Wh', got {line[:60]!r}; skipped")
            continue
        try:
            if cells[0].isdigit():
                end = int(cells[0])
            else:
                end = _local_ts(datetime.strptime(cells[0], "%Y-%m-%d %H:%M:%S"))
            yield _EnergyLine(end, float(cells[1]), float(cells[2]), where)
        except ValueError:
            notes.append(f"{where}: not a time or number in {line[:60]!r}; skipped")


def energy_intervals(
    mac: str, lines: Iterable[_EnergyLine], net: bool, report: ImportReport
) -> Iterator[tuple[Interval, int]]:
    """Intervals with their true length and how they are marked (see the module doc)."""
    rows = sorted(lines, key=lambda r: r.end)
    unique: list[_EnergyLine] = []
    for r in rows:
        if unique and unique[-1].end == r.end:
            report.notes.append(f"{r.where}: a second entry for {_iso(r.end)} skipped")
            continue
        unique.append(r)
    ends = [r.end for r in unique]
    for i, r in enumerate(unique):
        claimed = round(3600.0 * r.wh / r.watts) if r.watts else None
        length = _true_length(ends, i, claimed)
        mark = IMPORTED | (IMPORTED_NET if net else 0)
        if claimed is not None and abs(claimed - length) > max(2.0, 0.01 * length):
            report.corrected += 1
            mark |= IMPORTED_APPROX
            report.notes.append(
                f"{r.where}: Plugwise-2-py took {claimed / 60:.0f} min as this entry's length, the circle "
                f"logged {length / 60:.0f} min; length corrected, its Wh ({r.wh:.4f}) is approximate"
            )
        production = net and r.wh < 0
        yield Interval(mac, r.end - length, r.end, abs(r.wh), production), mark


def _true_length(ends: list[int], i: int, claimed: int | None) -> int:
    """The circle's own length of entry `i`: the gap to the entry before, unless the entry
    starts a run of shorter, evenly spaced entries (a log-interval change, or the first
    entry after the circle was away): then that run's spacing."""
    prev = ends[i] - ends[i - 1] if i > 0 else None
    nxt = ends[i + 1] - ends[i] if i + 1 < len(ends) else None
    after = ends[i + 2] - ends[i + 1] if i + 2 < len(ends) else None
    if prev is None:
        return claimed or nxt or 3600
    if nxt is not None and nxt < prev and (after is None or after == nxt):
        return nxt
    return prev


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts).isoformat(sep=" ")


def import_history(
    datalog: Path,
    store: Store,
    production_macs: set[str],
    progress: Progress | None = None,
) -> ImportReport:
    """Import every log under `datalog` into `store`; importing twice adds nothing."""
    report = ImportReport()
    files = find_files(datalog)
    energy: dict[str, list[_EnergyLine]] = {}
    for n, f in enumerate(files, 1):
        report.files += 1
        if f.kind == "power":
            _import_power(f, store, report)
        else:
            energy.setdefault(f.mac, []).extend(parse_energy(f, report.notes))
        if progress is not None:
            progress(n, len(files))
    for mac, lines in sorted(energy.items()):
        with store.batch():
            for interval, mark in energy_intervals(mac, lines, mac in production_macs, report):
                existing = store.import_interval(interval, mark)
                if existing is None:
                    report.energy_new += 1
                else:
                    report.energy_kept += 1
                    if abs(existing - interval.wh) > 0.001 and not mark & IMPORTED_APPROX:
                        report.differences.append(
                            f"{mac} {_iso(interval.end_ts)}: the store holds {existing:.4f} Wh, "
                            f"Plugwise-2-py logged {interval.wh:.4f} Wh (the store's value is kept)"
                        )
    return report


def _import_power(f: LegacyFile, store: Store, report: ImportReport) -> None:
    batch: list[tuple[str, int, float]] = []
    with store.batch():
        for ts, watts in parse_power(f, report.notes):
            batch.append((f.mac, ts, watts))
            if len(batch) >= _BATCH:
                new = store.import_power(batch)
                report.power_new += new
                report.power_kept += len(batch) - new
                batch.clear()
        if batch:
            new = store.import_power(batch)
            report.power_new += new
            report.power_kept += len(batch) - new
