"""`pwtui export`: stored energy intervals or power samples as CSV on stdout.

Columns (DESIGN.md): energy `mac,name,start,end,wh,watts,production`;
power `mac,name,time,watts`; times ISO-8601 UTC.  --from/--to take a date
(YYYY-MM-DD, meaning 00:00 UTC) or an ISO datetime; --to is exclusive.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime

from protocol import units

from .errors import UsageError
from .headless import resolve_config
from .oneshot import parse_mac
from .store import DB_NAME, Store, StoreError


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
    out = csv.writer(sys.stdout, lineterminator="\n")
    try:
        if args.kind == "energy":
            out.writerow(["mac", "name", "start", "end", "wh", "watts", "production"])
            for iv in store.intervals(macs or None, start, end):
                if start is not None and iv.start_ts < start:
                    continue
                out.writerow(
                    [
                        iv.mac,
                        names.get(iv.mac, ""),
                        _iso(iv.start_ts),
                        _iso(iv.end_ts),
                        f"{iv.wh:.4f}",
                        f"{iv.watts:.3f}",
                        "true" if iv.production else "false",
                    ]
                )
        else:
            out.writerow(["mac", "name", "time", "watts"])
            for mac, ts, watts in store.power_samples(macs or None, start, end):
                out.writerow([mac, names.get(mac, ""), _iso(ts), f"{watts:.3f}"])
    finally:
        store.close()
    return 0
