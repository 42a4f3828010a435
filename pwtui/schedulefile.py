"""`schedule.csv` in the Plugwise-2-py / Plugwise Source export format.

`ID,Type,Name,Status,CreatedDate,DeletedDate,Day_0 … Day_6,UUID,Parameters,ChangedDate`,
each Day_n 96 `;`-separated quarter-hour values, Day_0 = Monday.  Other columns
are kept so a load and save round-trips the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

from protocol.schedules import SLOTS_PER_DAY, WeekSchedule

from .atomic import write_atomic

HEADER = (
    "ID",
    "Type",
    "Name",
    "Status",
    "CreatedDate",
    "DeletedDate",
    "Day_0",
    "Day_1",
    "Day_2",
    "Day_3",
    "Day_4",
    "Day_5",
    "Day_6",
    "UUID",
    "Parameters",
    "ChangedDate",
)
DAYS = tuple(f"Day_{i}" for i in range(7))


class ScheduleFileError(Exception):
    pass


@dataclass(frozen=True)
class NamedSchedule:
    name: str
    week: WeekSchedule
    extra: dict[str, str] = field(default_factory=dict)  # the other columns, as read


def parse_schedules(text: str, source: str = "schedule.csv") -> dict[str, NamedSchedule]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    out: dict[str, NamedSchedule] = {}
    for line_no, raw in enumerate(reader, 1):
        if not any(c.strip() for c in raw):
            continue
        if header is None:
            header = [c.strip() for c in raw]
            missing = [c for c in ("Name", *DAYS) if c not in header]
            if missing:
                raise ScheduleFileError(f"{source}, line {line_no}: header lacks {', '.join(missing)}")
            continue
        if len(raw) != len(header):
            raise ScheduleFileError(
                f"{source}, line {line_no}: {len(raw)} fields, the header has {len(header)}"
            )
        val = dict(zip(header, raw, strict=False))
        name = val["Name"].strip()
        if not name:
            raise ScheduleFileError(
                f"{source}, line {line_no}, column {header.index('Name') + 1} (Name): empty"
            )
        if name in out:
            raise ScheduleFileError(f"{source}, line {line_no}: schedule {name!r} appears twice")
        days = []
        for d in DAYS:
            where = f"{source}, line {line_no}, column {header.index(d) + 1} ({d})"
            parts = val[d].strip().split(";")
            if len(parts) != SLOTS_PER_DAY:
                raise ScheduleFileError(f"{where}: {len(parts)} values, expected {SLOTS_PER_DAY}")
            values = []
            for q, p in enumerate(parts):
                try:
                    v = int(p.strip())
                except ValueError:
                    raise ScheduleFileError(f"{where}, slot {q + 1}: {p!r} is not a number") from None
                if v < -1 or v > 32767:
                    raise ScheduleFileError(
                        f"{where}, slot {q + 1}: {v} is not -1 (on), 0 (off) or watts > 0"
                    )
                values.append(v)
            days.append(values)
        extra = {k: v for k, v in val.items() if k not in DAYS}
        out[name] = NamedSchedule(name, WeekSchedule.from_days(days), extra)
    return out


def read_schedules(path: Path) -> dict[str, NamedSchedule]:
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_schedules(text, str(path))


def format_schedules(schedules: dict[str, NamedSchedule]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for i, s in enumerate(schedules.values(), 1):
        row = []
        for col in HEADER:
            if col in DAYS:
                row.append(";".join(str(v) for v in s.week.day(DAYS.index(col))))
            elif col == "Name":
                row.append(s.name)
            elif col == "ID":
                row.append(s.extra.get("ID") or str(i))
            elif col == "Status":
                row.append(s.extra.get("Status") or "1")
            else:
                row.append(s.extra.get(col, ""))
        w.writerow(row)
    return out.getvalue()


def write_schedules(path: Path, schedules: dict[str, NamedSchedule]) -> None:
    write_atomic(path, format_schedules(schedules))


def rename(schedules: dict[str, NamedSchedule], old: str, new: str) -> dict[str, NamedSchedule]:
    if new in schedules:
        raise ScheduleFileError(f"a schedule named {new!r} exists already")
    return {(new if k == old else k): (replace(v, name=new) if k == old else v) for k, v in schedules.items()}
