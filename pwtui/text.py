"""Untrusted text (names, locations, schedule names from files) made safe to show or export.

Names come from CSV and TOML files that anyone with write access to the data
folder can edit. Shown raw, an ESC sequence would drive the terminal and Rich
markup would be interpreted; exported raw, `=cmd()` runs in a spreadsheet.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls but tab, DEL, and C1 controls (0x80-0x9F, which include CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: object) -> str:
    """`text` as a plain one-line string: control characters shown as U+FFFD, tab as a space."""
    s = "" if text is None else str(text)
    return _CONTROL.sub("\ufffd", s).replace("\t", " ")


def safe_markup(text: object) -> str:
    """`safe_text` with Rich markup escaped, for widgets and toasts that render markup."""
    return escape(safe_text(text))


def csv_safe(value: object) -> str:
    """A cell that spreadsheets show as text: formula prefixes get a leading quote (OWASP)."""
    s = safe_text(value)
    if s.startswith(_FORMULA_START):
        return "'" + s
    return s
