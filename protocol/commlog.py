"""The communication log's line format: one frame per line, readable by `pwtui decode -`.

    2026-11-24T02:40:00.123Z > 0012000D6F00002366BB338B
    2026-11-24T02:40:00.151Z < 0000002A00C1…

`>` is host → stick, `<` stick → host; the body includes its CRC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

OUT = ">"
IN = "<"
_LINE = re.compile(r"^(?P<time>\S+)\s+(?P<dir>[<>])\s+(?P<body>[0-9A-Fa-f]+)\s*$")


@dataclass(frozen=True)
class LogLine:
    time: str
    direction: str
    body: str  # with CRC


def format_line(direction: str, body_with_crc: str, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {direction} {body_with_crc}"


def parse_line(text: str) -> LogLine | None:
    m = _LINE.match(text.strip())
    if not m:
        return None
    return LogLine(m["time"], m["dir"], m["body"].upper())
