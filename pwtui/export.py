"""`pwtui export` and the console's log-browser export: one CSV format, written by one function.

Columns (DESIGN.md): energy `mac,name,start,end,wh,watts,production`;
power `mac,name,time,watts`.  Times are ISO-8601 UTC (`Z`), stated in a first
`#` comment line so a reader never guesses the time zone; names go through
`csv_safe` (a name like `=cmd()` stays text in a spreadsheet).  --from/--to take
a date (YYYY-MM-DD, meaning 00:00 UTC) or an ISO datetime; --to is exclusive.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from protocol import units

from .errors import UsageError
from .headless import resolve_config
from .oneshot import parse_mac
from .store import DB_NAME, Interval, Store, StoreError
from .text import csv_safe

ENERGY_COLUMNS = ("mac", "name", "start", "end", "wh", "watts", "production")
POWER_COLUMNS = ("mac", "name", "time", "watts")
ENERGY_NOTE = (
    "# pwtui energy export: start/end ISO-8601 UTC (Z), interval [start, end); "
    "wh watt-hours; watts = average W over the interval; production true/false"
)
POWER_NOTE = "# pwtui power export: time ISO-8601 UTC (Z); watts = 10-s sample in W (negative: production)"


def parse_when(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a date (YYYY-MM-DD) or ISO datetime") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _iso(ts: int) -> str:
    return units.iso(datetime.fromtimestamp(ts, UTC)) or ""


def write_energy(out: TextIO, intervals: Iterable[Interval], names: Mapping[str, str]) -> int:
    """The energy CSV (note, header, one row per interval) to `out`; returns the row count."""
    out.write(ENERGY_NOTE + "\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(ENERGY_COLUMNS)
    n = 0
    for iv in intervals:
        w.writerow(
            [
                csv_safe(iv.mac),
                csv_safe(names.get(iv.mac, "")),
                _iso(iv.start_ts),
                _iso(iv.end_ts),
                f"{iv.wh:.4f}",
                f"{iv.watts:.3f}",
                "true" if iv.production else "false",
            ]
        )
        n += 1
    return n


def write_power(out: TextIO, samples: Iterable[tuple[str, int, float]], names: Mapping[str, str]) -> int:
    """The power CSV to `out`; returns the row count."""
    out.write(POWER_NOTE + "\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(POWER_COLUMNS)
    n = 0
    for mac, ts, watts in samples:
        w.writerow([csv_safe(mac), csv_safe(names.get(mac, "")), _iso(ts), f"{watts:.3f}"])
        n += 1
    return n


def save_file(path: Path, text: str) -> None:
    """Write `text` to `path` replacing it whole, with the mode the umask gives (0644 by default).

    `tempfile.mkstemp` would create 0600: an export is meant to be read by others.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        tmp = path.parent / f".{path.name}.{os.getpid()}.{attempt}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - a hundred stale temporaries
        fd, name = tempfile.mkstemp(dir=path.parent)
        tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(args: argparse.Namespace) -> int:
    macs = [parse_mac(m) for m in args.macs or []]
    start, end = parse_when(args.start, "--from"), parse_when(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise UsageError("--to must be after --from")
    cfg = resolve_config(args)
    path = cfg.paths.data / DB_NAME
    if not path.exists():
        raise UsageError(f"{path}: no data yet (run pwtui or pwtui --headless first)")
    try:
        store = Store(path, readonly=True)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    names = {c.mac: c.name for c in cfg.circles}
    try:
        if args.kind == "energy":
            ivs = store.intervals(macs or None, start, end)
            write_energy(sys.stdout, (iv for iv in ivs if start is None or iv.start_ts >= start), names)
        else:
            write_power(sys.stdout, store.power_samples(macs or None, start, end), names)
    finally:
        store.close()
    return 0
