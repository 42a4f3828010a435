"""`plugwise_control.csv`: the dynamic file control of Plugwise-2-py.

Columns `mac, name, savelog, monitor, switch_state, schedule_state, schedule`, and
optionally `location, log_interval, production, always_on`, which override
pwtui.toml for that circle (an empty cell means "as in pwtui.toml").  Real files
have spaces and tabs after commas and a trailing comma; all of that reads fine.
Lines starting with `#` are comments.  A malformed file is reported by file, line
and column, and the caller keeps its last good rows.

The engine and the console change rows with `update_row`, which edits the text in
place: comments, blank lines, unknown columns and the order of rows stay as the
user wrote them, and a file that does not parse is never overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

from . import csvlines
from .atomic import write_atomic
from .csvlines import CsvLineError, Record
from .userfile import UserFileError, UserText, physical_lines, read_user_text, strip_bom

COLUMNS = ("mac", "name", "savelog", "monitor", "switch_state", "schedule_state", "schedule")
OPTIONAL = ("location", "log_interval", "production", "always_on")
_MAC = re.compile(r"^[0-9A-F]{16}$")
_YES = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}
_ON = {"on": True, "off": False, "1": True, "0": False}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FLAGS = (
    ("savelog", _YES, "yes/no"),
    ("monitor", _YES, "yes/no"),
    ("switch_state", _ON, "on/off"),
    ("schedule_state", _ON, "on/off"),
)


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
    # Optional columns: None = not set here, pwtui.toml's value holds.
    location: str | None = None
    log_interval: int | None = None  # minutes, 1…60
    production: bool | None = None
    always_on: bool | None = None


_FIELDS = tuple(f.name for f in fields(ControlRow))


@dataclass(frozen=True)
class _Parsed:
    header: list[str]
    header_record: Record
    rows: list[tuple[Record, ControlRow]]


def _records(lines: list[str], source: str) -> Iterator[Record]:
    try:
        yield from csvlines.records(lines)
    except CsvLineError as exc:
        raise ControlFileError(f"{source}, line {exc.line}: {exc}") from None


def _parse(text: str, source: str) -> _Parsed:
    lines = physical_lines(strip_bom(text))
    header: list[str] | None = None
    header_record: Record | None = None
    rows: list[tuple[Record, ControlRow]] = []
    seen: set[str] = set()
    for rec in _records(lines, source):
        cells = csvlines.cells(rec.cells)
        line_no = rec.first + 1
        if not cells or cells[0].startswith("#"):
            continue
        if header is None:
            header, header_record = [c.lower() for c in cells], rec
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ControlFileError(
                    f"{source}, line {line_no}: header lacks column(s) {', '.join(missing)}"
                )
            twice = sorted({c for c in header if c and header.count(c) > 1})
            if twice:
                raise ControlFileError(f"{source}, line {line_no}: column(s) {', '.join(twice)} appear twice")
            continue
        if len(cells) > len(header):
            raise ControlFileError(
                f"{source}, line {line_no}: {len(cells)} fields, the header has {len(header)}"
            )
        cells += [""] * (len(header) - len(cells))
        row = _row(dict(zip(header, cells, strict=True)), header, f"{source}, line {line_no}")
        if row.mac in seen:
            raise ControlFileError(f"{source}, line {line_no}, column 1 (mac): {row.mac} appears twice")
        seen.add(row.mac)
        rows.append((rec, row))
    if header is None or header_record is None:
        raise ControlFileError(f"{source}: empty file (expected a header: {', '.join(COLUMNS)})")
    return _Parsed(header, header_record, rows)


def _row(val: dict[str, str], header: list[str], where: str) -> ControlRow:
    def col(name: str) -> str:
        return f"{where}, column {header.index(name) + 1} ({name})"

    mac = val["mac"].upper()
    if not _MAC.match(mac):
        raise ControlFileError(f"{col('mac')}: {val['mac']!r} is not 16 hex digits")
    flags: dict[str, bool] = {}
    for name, table, words in _FLAGS:
        word = val[name].lower()
        if word not in table:
            raise ControlFileError(f"{col(name)}: {val[name]!r} is not {words}")
        flags[name] = table[word]

    def optional(name: str) -> str:
        return val.get(name, "")

    try:
        interval = _minutes(optional("log_interval"))
    except ValueError as exc:
        raise ControlFileError(f"{col('log_interval')}: {exc}") from None
    yesno: dict[str, bool | None] = {}
    for name in ("production", "always_on"):
        try:
            yesno[name] = _yes_no(optional(name))
        except ValueError as exc:
            raise ControlFileError(f"{col(name)}: {exc}") from None
    return ControlRow(
        mac=mac,
        name=val["name"],
        schedule=val["schedule"],
        savelog=flags["savelog"],
        monitor=flags["monitor"],
        switch_state=flags["switch_state"],
        schedule_state=flags["schedule_state"],
        location=optional("location") or None,
        log_interval=interval,
        production=yesno["production"],
        always_on=yesno["always_on"],
    )


def _minutes(text: str) -> int | None:
    """An optional log_interval cell: empty = None; ValueError says what is wrong."""
    if text == "":
        return None
    try:
        minutes = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of minutes") from None
    if not 1 <= minutes <= 60:
        raise ValueError(f"{minutes} is not 1…60 minutes")
    return minutes


def _yes_no(text: str) -> bool | None:
    if text == "":
        return None
    if text.lower() not in _YES:
        raise ValueError(f"{text!r} is not yes/no")
    return _YES[text.lower()]


def parse_control(text: str, source: str = "plugwise_control.csv") -> list[ControlRow]:
    """All rows, or ControlFileError naming file, line and column of the first problem."""
    return [row for _, row in _parse(text, source).rows]


def read_control(path: Path) -> list[ControlRow]:
    try:
        text = read_user_text(path).text
    except FileNotFoundError:
        raise ControlFileError(f"{path}: no such file") from None
    except UserFileError as exc:
        raise ControlFileError(str(exc)) from None
    return parse_control(text, str(path))


# --- writing -------------------------------------------------------------------------------


def _cell_text(row: ControlRow, name: str) -> str:
    value = getattr(row, name)
    if value is None:
        return ""
    if name in ("savelog", "monitor", "production", "always_on"):
        return "yes" if value else "no"
    if name in ("switch_state", "schedule_state"):
        return "on" if value else "off"
    return str(value)


def _header_for(rows: Iterable[ControlRow]) -> list[str]:
    rows = list(rows)
    return [*COLUMNS, *(n for n in OPTIONAL if any(getattr(r, n) is not None for r in rows))]


def format_control(rows: Iterable[ControlRow]) -> str:
    rows = list(rows)
    header = _header_for(rows)
    lines = [csvlines.join(header, ",")]
    lines += [csvlines.join([_cell_text(r, n) for n in header], ",") for r in rows]
    return "".join(line + "\n" for line in lines)


def write_control(path: Path, rows: Iterable[ControlRow]) -> None:
    """The file holds exactly these rows afterwards (existing ones in the file's order).

    An existing file is edited, not regenerated: unchanged rows stay byte for byte,
    comments, blank lines and unknown columns stay, rows no longer listed go. A file
    that does not parse is not touched (ControlFileError): the user is typing in it.
    """
    rows = list(rows)
    loaded = _load(path)
    if loaded is None:
        write_atomic(path, format_control(rows))
    else:
        _rewrite(path, *loaded, rows)


def check_changes(**changes: object) -> ControlRow:
    """The changes applied to a blank row, or ControlFileError saying which value is wrong
    (for dialogs that refuse a bad value before anything is written)."""
    unknown = [k for k in changes if k not in _FIELDS or k == "mac"]
    if unknown:
        raise ControlFileError(f"unknown control column(s): {', '.join(unknown)}")
    for name, value in changes.items():
        if name in ("name", "schedule", "location"):
            if value is None and name == "location":
                continue
            if not isinstance(value, str):
                raise ControlFileError(f"{name} must be text, not {value!r}")
            if _CONTROL_CHARS.search(value):
                raise ControlFileError(f"{name} {value!r} contains control characters")
            if value != value.strip():
                raise ControlFileError(f"{name} {value!r} has leading or trailing spaces")
        elif name == "log_interval":
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 60
            ):
                raise ControlFileError(f"log_interval must be 1…60 minutes, not {value!r}")
        elif name in ("production", "always_on"):
            if value is not None and not isinstance(value, bool):
                raise ControlFileError(f"{name} must be true or false, not {value!r}")
        elif not isinstance(value, bool):
            raise ControlFileError(f"{name} must be true or false, not {value!r}")
    return replace(ControlRow("0" * 16), **changes)  # type: ignore[arg-type]


def update_row(path: Path, mac: str, **changes: object) -> ControlRow:
    """Change one circle's row (or add it) and write the file atomically.

    The text is edited, not regenerated: comments, blank lines, unknown columns, row
    order and the file's BOM and line endings stay. A column is added to the header
    only when this row sets it. A file that does not parse is left alone and the
    error raised, so a half-typed row is never lost.
    """
    mac = mac.upper()
    if not _MAC.match(mac):
        raise ControlFileError(f"{mac!r} is not 16 hex digits")
    if changes.get("location") == "":
        changes["location"] = None  # an empty cell means "as in pwtui.toml"
    check_changes(**changes)
    loaded = _load(path)
    if loaded is None:
        row = replace(ControlRow(mac), **changes)  # type: ignore[arg-type]
        write_atomic(path, format_control([row]))
        return row
    src, parsed = loaded
    old = next((r for _, r in parsed.rows if r.mac == mac), None)
    row = replace(old or ControlRow(mac), **changes)  # type: ignore[arg-type]
    rows = [row if r.mac == mac else r for _, r in parsed.rows]
    _rewrite(path, src, parsed, rows if old else [*rows, row])
    return row


def _load(path: Path) -> tuple[UserText, _Parsed] | None:
    """The file's text and parse for an edit; None when it does not exist; a file that
    cannot be read or parsed is ControlFileError, so it is never overwritten."""
    try:
        src = read_user_text(path)
    except FileNotFoundError:
        return None
    except UserFileError as exc:
        raise ControlFileError(f"{exc}; not rewritten") from None
    try:
        return src, _parse(src.text, str(path))
    except ControlFileError as exc:
        raise ControlFileError(f"{exc}; not rewritten") from None


def _rewrite(path: Path, src: UserText, parsed: _Parsed, rows: list[ControlRow]) -> None:
    """Write `rows` into the parsed file's text: changed rows replace their lines (keeping
    unknown columns), missing ones are dropped, new ones appended, all else stays."""
    lines = physical_lines(src.text)
    nl = src.newline
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl
    header = parsed.header
    raw_header = lines[parsed.header_record.first]
    sep = ", " if ", " in raw_header else ","
    wanted = [n for n in OPTIONAL if n not in header and any(getattr(r, n) is not None for r in rows)]
    if wanted:
        lines[parsed.header_record.first] = csvlines.widen_header(raw_header, wanted, sep, nl)
        header = [*header, *wanted]

    def text(row: ControlRow, kept: list[str]) -> str:
        cells = [""] * len(header)
        cells[: len(kept)] = kept
        for i, name in enumerate(header):
            if name in _FIELDS:
                cells[i] = _cell_text(row, name)
        while cells and cells[-1] == "":
            cells.pop()
        return csvlines.join(cells, sep) + nl

    new = {r.mac: r for r in rows}
    for rec, old in reversed(parsed.rows):  # from the end, so earlier line numbers hold
        row = new.pop(old.mac, None)
        if row is None:
            del lines[rec.first : rec.end]
        elif row != old:
            lines[rec.first : rec.end] = [text(row, csvlines.cells(rec.cells))]
    lines += [text(row, []) for row in new.values()]
    write_atomic(path, ("\ufeff" if src.bom else "") + "".join(lines))
