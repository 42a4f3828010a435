"""The `faults=` parameter of a sim:// URL: what goes wrong on the virtual line, and how often.

Every value is checked when the network is made, so a typo (`faults=drop=2`, `gremlins=1`,
`drop=lots`) is refused with an error naming the parameter instead of silently meaning
something else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

_ALIASES = {"drops": "drop", "duplicate": "dup", "duplicates": "dup", "e1": "e1_delay"}
_SHARES = ("drop", "corrupt", "dup", "late", "chatter", "offline")
_SECONDS = ("vanish", "e1_delay")


@dataclass
class Faults:
    drop: float = 0.0  # node reply lost → 00E1
    corrupt: float = 0.0  # share of outgoing frames with one corrupted byte
    dup: float = 0.0  # node reply sent twice
    late: float = 0.0  # 00E1 first, then the real reply
    chatter: float = 0.0  # 0x83 before node replies, `# APS…` lines
    offline: float = 0.0  # share of 10-minute windows each circle is unreachable (a timetable by seed)
    drift: float = 0.0  # clock drift, seconds per day (± by circle) instead of the default few seconds
    vanish: float = 0.0  # the stick disappears for a second every this many seconds
    e1_delay: float = 3.0  # seconds from ack to 00E1

    @classmethod
    def parse(cls, text: str, latency_ms: float) -> Faults:
        """`drop=0.1,chatter,e1=0.5` → Faults; ValueError naming the bad item otherwise."""
        f = cls(e1_delay=3.0 if latency_ms > 0 else 0.05)
        known = {fl.name for fl in fields(cls)}
        for item in filter(None, (p.strip() for p in text.split(","))):
            given, _, value = item.partition("=")
            name = _ALIASES.get(given, given)
            if name not in known:
                raise ValueError(
                    f"faults: unknown fault {given!r} (known: drop, corrupt, dup, late, chatter, "
                    f"offline, drift, vanish, e1)"
                )
            try:
                number = float(value) if value else (0.05 if name == "chatter" else 1.0)
            except ValueError:
                raise ValueError(f"faults: {item!r}: {value!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"faults: {item!r}: {value!r} is not a finite number")
            if name in _SHARES and not 0.0 <= number <= 1.0:
                raise ValueError(f"faults: {item!r}: {given} is a share of requests, 0 to 1")
            if name in _SECONDS and number < 0:
                raise ValueError(f"faults: {item!r}: {given} is a number of seconds ≥ 0")
            if name == "vanish" and 0 < number <= 1.0:
                raise ValueError(f"faults: {item!r}: vanish is a period longer than its 1-s outage")
            setattr(f, name, number)
        return f
