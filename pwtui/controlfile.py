"""`plugwise_control.csv`: the dynamic file control of Plugwise-2-py.

Columns `mac, name, savelog, monitor, switch_state, schedule_state, schedule`.
Real files have spaces and tabs after commas and a trailing comma; all of that
reads fine.  A malformed file is reported by file, line and column, and the
caller keeps its last good rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from .atomic import write_atomic

COLUMNS = ("mac", "name", "savelog", "monitor", "switch_state", "schedule_state", "schedule")
_MAC = re.compile(r"^[0-9A-F]{16}$")
_YES = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}
_ON = {"on": True, "off": False, "1": True, "0": False}


class ControlFileError(Exception):
    pass


@dataclass(frozen=True)
class ControlRow:
    mac: str
    name: str = ""
    savelog: bool = True
    monitor: bool = True
    switch_state: bool = True
    schedule_state: bool = False
    schedule: str = ""


def parse_control(text: str, source: str = "plugwise_control.csv") -> list[ControlRow]:
    """All rows, or ControlFileError naming file, line and column of the first problem."""
    rows: list[ControlRow] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    seen: set[str] = set()
    for line_no, raw in enumerate(reader, 1):
        cells = [c.strip() for c in raw]
        while cells and cells[-1] == "":
            cells.pop()
        if not cells or cells[0].startswith("#"):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ControlFileError(
                    f"{source}, line {line_no}: header lacks column(s) {', '.join(missing)}"
                )
            continue
        if len(cells) > len(header):
            raise ControlFileError(
                f"{source}, line {line_no}: {len(cells)} fields, the header has {len(header)}"
            )
        cells += [""] * (len(header) - len(cells))
        val = dict(zip(header, cells, strict=False))

        def col(name: str, line_no: int = line_no, header: list[str] = header) -> str:
            return f"{source}, line {line_no}, column {header.index(name) + 1} ({name})"

        mac = val["mac"].upper()
        if not _MAC.match(mac):
            raise ControlFileError(f"{col('mac')}: {val['mac']!r} is not 16 hex digits")
        if mac in seen:
            raise ControlFileError(f"{col('mac')}: {mac} appears twice")
        seen.add(mac)
        flags = {}
        for name, table, words in (
            ("savelog", _YES, "yes/no"),
            ("monitor", _YES, "yes/no"),
            ("switch_state", _ON, "on/off"),
            ("schedule_state", _ON, "on/off"),
        ):
            word = val[name].lower()
            if word not in table:
                raise ControlFileError(f"{col(name)}: {val[name]!r} is not {words}")
            flags[name] = table[word]
        rows.append(ControlRow(mac=mac, name=val["name"], schedule=val["schedule"], **flags))
    if header is None:
        raise ControlFileError(f"{source}: empty file (expected a header: {', '.join(COLUMNS)})")
    return rows


def read_control(path: Path) -> list[ControlRow]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ControlFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_control(text, str(path))


def format_control(rows: Iterable[ControlRow]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.mac,
                r.name,
                "yes" if r.savelog else "no",
                "yes" if r.monitor else "no",
                "on" if r.switch_state else "off",
                "on" if r.schedule_state else "off",
                r.schedule,
            ]
        )
    return out.getvalue()


def write_control(path: Path, rows: Iterable[ControlRow]) -> None:
    write_atomic(path, format_control(rows))


def update_row(path: Path, mac: str, **changes: object) -> ControlRow:
    """Change one circle's row in place (atomically); other rows stay as they are."""
    rows = read_control(path)
    for i, r in enumerate(rows):
        if r.mac == mac:
            rows[i] = replace(r, **changes)  # type: ignore[arg-type]
            write_control(path, rows)
            return rows[i]
    raise ControlFileError(f"{path}: no row for {mac}")
