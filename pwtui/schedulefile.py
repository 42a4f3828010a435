"""`schedule.csv` in the Plugwise-2-py / Plugwise Source export format.

`ID,Type,Name,Status,CreatedDate,DeletedDate,Day_0 … Day_6,UUID,Parameters,ChangedDate`,
each Day_n 96 `;`-separated quarter-hour values, Day_0 = Monday.  Other columns
are kept so a load and save round-trips the file; a save keeps the file's column
order, BOM and line endings, and never replaces a file that does not parse.

A missing file is seeded from the example shipped in the package
(`pwtui/examples/schedule.csv`), so a first run has schedules to start from and the
editor edits the user's copy, never a file of the checkout.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from protocol.schedules import SLOTS_PER_DAY, WeekSchedule

from .atomic import write_atomic
from .userfile import UserFileError, newline_of, read_user_text, strip_bom

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


def _rows(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each CSV record; csv's own errors (a field over the
    size limit, a NUL) become ScheduleFileError naming the line."""
    reader = csv.reader(io.StringIO(strip_bom(text), newline=""))
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_no = reader.line_num or 1
            if "field larger than field limit" in str(exc):
                msg = f"a field is longer than {csv.field_size_limit()} characters"
            else:
                msg = f"not CSV ({exc})"
            raise ScheduleFileError(f"{source}, line {line_no}: {msg}") from None
        yield reader.line_num, raw


def _header(text: str, source: str) -> list[str] | None:
    for _, raw in _rows(text, source):
        if any(c.strip() for c in raw):
            return [c.strip() for c in raw]
    return None


def parse_schedules(text: str, source: str = "schedule.csv") -> dict[str, NamedSchedule]:
    header: list[str] | None = None
    out: dict[str, NamedSchedule] = {}
    for line_no, raw in _rows(text, source):
        if not any(c.strip() for c in raw):
            continue
        if header is None:
            header = [c.strip() for c in raw]
            missing = [c for c in ("Name", *DAYS) if c not in header]
            if missing:
                raise ScheduleFileError(f"{source}, line {line_no}: header lacks {', '.join(missing)}")
            twice = sorted({c for c in header if c and header.count(c) > 1})
            if twice:
                raise ScheduleFileError(
                    f"{source}, line {line_no}: column(s) {', '.join(twice)} appear twice"
                )
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


def example_text() -> str:
    """The example schedules shipped with pwtui."""
    return resources.files("pwtui").joinpath("examples").joinpath("schedule.csv").read_text(encoding="utf-8")


def seed_schedules(path: Path) -> bool:
    """Create `path` from the shipped example when it does not exist; True if it did."""
    if path.exists():
        return False
    try:
        write_atomic(path, example_text())
    except OSError as exc:
        raise ScheduleFileError(
            f"{path}: missing, and the example cannot be copied there: {exc.strerror or exc}"
        ) from None
    return True


def read_schedules(path: Path, seed: bool = True) -> dict[str, NamedSchedule]:
    """The schedules in `path`; a missing file is first seeded from the example
    (`seed=False`: a missing file has no schedules)."""
    if not path.exists():
        if not seed:
            return {}
        seed_schedules(path)
    try:
        text = read_user_text(path).text
    except FileNotFoundError:
        return {}
    except UserFileError as exc:
        raise ScheduleFileError(str(exc)) from None
    return parse_schedules(text, str(path))


def format_schedules(
    schedules: dict[str, NamedSchedule], header: Sequence[str] = HEADER, newline: str = "\n"
) -> str:
    """CSV text of `schedules` in `header`'s column order; columns that only some
    schedules carry in `extra` are added at the end so nothing read is dropped."""
    columns = list(header)
    for s in schedules.values():
        columns += [k for k in s.extra if k not in columns]
    out = io.StringIO()
    w = csv.writer(out, lineterminator=newline)
    w.writerow(columns)
    for i, s in enumerate(schedules.values(), 1):
        row = []
        for col in columns:
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
    """Replace the file atomically, in its own column order, BOM and line endings.

    A file on disk that does not parse (being edited by hand, another encoding) is
    not overwritten: ScheduleFileError says why, and the user's text survives.
    """
    header: Sequence[str] = HEADER
    bom, newline = False, "\n"
    try:
        src = read_user_text(path)
    except FileNotFoundError:
        pass
    except UserFileError as exc:
        raise ScheduleFileError(f"{exc}; not overwritten") from None
    else:
        try:
            parse_schedules(src.text, str(path))
        except ScheduleFileError as exc:
            raise ScheduleFileError(f"{exc}; not overwritten") from None
        header = _header(src.text, str(path)) or HEADER
        bom, newline = src.bom, newline_of(src.text)
    write_atomic(path, ("\ufeff" if bom else "") + format_schedules(schedules, header, newline))


def rename(schedules: dict[str, NamedSchedule], old: str, new: str) -> dict[str, NamedSchedule]:
    if new in schedules:
        raise ScheduleFileError(f"a schedule named {new!r} exists already")
    return {(new if k == old else k): (replace(v, name=new) if k == old else v) for k, v in schedules.items()}
