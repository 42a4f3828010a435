"""Import of Plugwise-2-py's logs: rows per second against reading the same files from disk.

Writes a datalog folder as Plugwise-2-py does (10-s `pwact` files, hourly `pw-<MAC>.log`)
for `--circles` circles over `--days` days, then imports it into a fresh store. The limit is
disk speed: the time to read and split every line of the same files without storing them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pwtui.legacy_history import find_files, import_history
from pwtui.store import DB_NAME, Store


def write_datalog(root: Path, circles: int, days: int) -> int:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = 0
    for c in range(1, circles + 1):
        mac = f"000D6F00010000{c:02X}"
        hourly = []
        for d in range(days):
            day = start + timedelta(days=d)
            folder = root / str(day.year) / "pwact"
            folder.mkdir(parents=True, exist_ok=True)
            t0 = int(day.timestamp())
            lines = [f"{t0 + 10 * i:10d}, {40 + (i % 7):8.2f}\n" for i in range(8640)]
            (folder / f"pwact-{day.date().isoformat()}-{mac}.log").write_text("".join(lines))
            hourly += [f"{t0 + 3600 * (h + 1)}, {43.0:15.4f}, {43.0:15.4f}\n" for h in range(24)]
            rows += 8640 + 24
        log = root / str(start.year) / "pwlog"
        log.mkdir(parents=True, exist_ok=True)
        (log / f"pw-{mac}.log").write_text("".join(hourly))
    return rows


def read_only(root: Path) -> int:
    n = 0
    for f in find_files(root):
        with f.path.open() as fh:
            for line in fh:
                n += len(line.split(","))
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--circles", type=int, default=4)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "datalog"
        rows = write_datalog(root, args.circles, args.days)
        t = time.perf_counter()
        read_only(root)
        disk = time.perf_counter() - t
        store = Store(Path(tmp) / "data" / DB_NAME)
        t = time.perf_counter()
        report = import_history(root, store, set())
        took = time.perf_counter() - t
        store.close()
    assert report.power_new + report.energy_new == rows
    print(f"{args.circles} circles x {args.days} days: {rows:,} rows in {report.files} files")
    print(f"  import      {took:7.2f} s  {rows / took:12,.0f} rows/s")
    print(f"  disk (read) {disk:7.2f} s  {rows / disk:12,.0f} rows/s   import/disk = {took / disk:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
