"""CSV records tied to the physical lines they came from, for editing a file in place.

`csv.reader` gives records but forgets where they were; rewriting one row of a
user's file (keeping comments, blank lines and everything else byte for byte)
needs both. Lines starting with `#` and blank lines are skipped before csv sees
them, so a stray quote in a comment cannot swallow the rows after it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass


class CsvLineError(Exception):
    """Not CSV (or a field over csv's size limit) at `line` (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


@dataclass(frozen=True)
class Record:
    """One CSV record and the physical lines it came from (`first` … `end`-1, 0-based)."""

    first: int
    end: int
    cells: list[str]


def records(lines: list[str]) -> Iterator[Record]:
    """The records of `lines` (each with its line ending), comments and blank lines skipped."""
    fed: list[int] = []

    def feed() -> Iterator[str]:
        for i, line in enumerate(lines):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            fed.append(i)
            yield line

    reader = csv.reader(feed(), skipinitialspace=True)
    taken = 0
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_no = fed[-1] + 1 if fed else 1
            if "field larger than field limit" in str(exc):
                raise CsvLineError(
                    line_no, f"a field is longer than {csv.field_size_limit()} characters"
                ) from None
            raise CsvLineError(line_no, f"not CSV ({exc})") from None
        used = fed[taken:]
        taken = len(fed)
        if used:
            yield Record(used[0], used[-1] + 1, raw)


def cells(raw: list[str]) -> list[str]:
    """Cells stripped of the spaces users put after commas, trailing empty cells dropped."""
    out = [c.strip() for c in raw]
    while out and out[-1] == "":
        out.pop()
    return out


def quote(cell: str) -> str:
    """`cell` as CSV, quoted only when it must be (comma, quote, newline, edge spaces, #)."""
    if cell != cell.strip() or any(ch in cell for ch in ',"\r\n') or cell.startswith("#"):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def join(values: list[str], sep: str) -> str:
    """One CSV line without its ending; `sep` (", " to match a user's style) only when
    no cell needs quoting, as a quote after a space is not a quote to csv."""
    quoted = [quote(c) for c in values]
    return (sep if quoted == values else ",").join(quoted)


def widen_header(raw: str, names: list[str], sep: str, newline: str) -> str:
    """The header line `raw` with `names` appended, keeping a trailing comma if it had one."""
    core = raw.rstrip("\r\n").rstrip()
    trailing = core.endswith(",")
    core = core.rstrip(", \t")
    return core + "".join(sep + n for n in names) + ("," if trailing else "") + newline
