"""Reading the files users edit (pwtui.toml, the control and schedule CSVs) defensively.

Whatever is in such a file — another encoding, a BOM from a Windows editor, a
pasted megabyte, NUL bytes — the caller gets either the text or one clear message
naming the file and the line, never a `UnicodeDecodeError` from deep inside.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

BOM = "\ufeff"
MAX_BYTES = 4 * 1024 * 1024  # far above any real control/schedule/config file
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


class UserFileError(Exception):
    """The file could not be read as text; the message names file and line."""


@dataclass(frozen=True)
class UserText:
    """A file's text without its BOM, and how to write it back the same way."""

    text: str
    bom: bool = False
    newline: str = "\n"


def decode(data: bytes, source: str) -> UserText:
    """UTF-8 (with or without a BOM) or a `UserFileError` naming the first bad line."""
    if len(data) > MAX_BYTES:
        raise UserFileError(f"{source}: {len(data)} bytes, more than the {MAX_BYTES} a file here may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UserFileError(
            f"{source}, line {line}, column {col}: byte 0x{data[exc.start]:02X} is not UTF-8 "
            "(save the file as UTF-8)"
        ) from None
    bom = text.startswith(BOM)
    text = text.lstrip(BOM)  # editors that add a BOM to a file that has one: all go
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UserFileError(f"{source}, line {line}: contains a NUL byte (not a text file?)")
    return UserText(text, bom, newline_of(text))


def newline_of(text: str) -> str:
    """The line ending the file uses (its first one), so rewrites keep it."""
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else "\n"


def read_user_text(path: str | os.PathLike[str]) -> UserText:
    """The file as `UserText`; `FileNotFoundError` stays as it is (callers decide
    what a missing file means), any other problem is a `UserFileError`."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UserFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return decode(data, str(p))


def strip_bom(text: str) -> str:
    """Text handed over as a string may still start with a BOM (or several)."""
    return text.lstrip(BOM)


def physical_lines(text: str) -> list[str]:
    """Lines with their endings; only CR, LF and CRLF end a line (not U+2028 & co.,
    which `str.splitlines` would also split on, while csv and editors do not)."""
    return _LINE.findall(text)
