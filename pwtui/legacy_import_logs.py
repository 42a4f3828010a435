"""`pwtui import-legacy`, the log part: Plugwise-2-py's history into the new configuration's store.

The reading and checking live in `legacy_history.py`; this module finds the store of the
configuration just written (or kept), shows progress (a bar on a terminal, JSON lines with
`--json`) and reports what was corrected or kept, naming file and line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, load_config
from .errors import UsageError
from .legacy_history import import_history, locate_datalog
from .store import DB_NAME, Store, StoreError


def import_logs(
    folder: Path, out: Path, host: dict[str, Any], logs: Path | None, production: set[str], as_json: bool
) -> int:
    """Plugwise-2-py's logged history into the store of the configuration under `out`."""
    datalog = locate_datalog(folder, host, logs)
    if datalog is None:
        print("no Plugwise-2-py logs found (datalog/); use --logs DIR to name the folder", file=sys.stderr)
        return 0
    try:
        config = load_config(out / "pwtui.toml")
    except ConfigError as exc:
        raise UsageError(f"cannot import the logs: {exc}") from None
    print(f"importing logs from {datalog} into {config.paths.data / DB_NAME}", file=sys.stderr)
    progress = _json_progress if as_json else _bar_progress if sys.stderr.isatty() else None
    try:
        store = Store(config.paths.data / DB_NAME)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    started = time.monotonic()
    try:
        report = import_history(datalog, store, production, progress)
    finally:
        store.close()
    elapsed = max(time.monotonic() - started, 1e-6)
    rows = report.power_new + report.power_kept + report.energy_new + report.energy_kept
    for n in report.notes:
        print(f"log import: {n}", file=sys.stderr)
    for d in report.differences:
        print(f"log import: {d}", file=sys.stderr)
    print(
        f"logs: {report.files} files, {report.power_new} new power samples ({report.power_kept} already "
        f"stored), {report.energy_new} new intervals ({report.energy_kept} already stored), "
        f"{report.corrected} lengths corrected, {rows / elapsed:,.0f} rows/s",
        file=sys.stderr,
    )
    if as_json:
        print(json.dumps({"kind": "summary", **report.as_dict(), "rows_per_s": round(rows / elapsed)}))
    return 0


def _json_progress(done: int, total: int) -> None:
    print(json.dumps({"kind": "progress", "files_done": done, "files": total}), flush=True)


def _bar_progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done == total else ""
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files",
        end=end,
        file=sys.stderr,
        flush=True,
    )
