"""Energy since local midnight: right from the first reading, or not shown at all.

Today = the stored log intervals from midnight up to the hour the circle's hour
counter runs in, plus that counter (from the latest power reading).  That sum is
right only when the store holds every record up to that hour.  After a restart
with a backlog it does not (the blocks since midnight are read first, but that
takes a moment), so until then today is `None` ("not known yet"), never a number
that is too low.  At the top of each hour the counter starts again while the
record of the hour that just ended is not read yet: the last reading of that hour
stands in for it (at most one poll interval short) until the record is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

HOUR = 3600
LATE_RECORD_S = 120  # a circle writes an interval's record within this long after its end
ROLLOVER_GRACE_S = 60  # after this long into a new hour its counter has started again, whatever it says


@dataclass
class HourCounter:
    """Which hour a circle's hour counter counts, and the last reading of the hour before."""

    hour: int | None = None  # start (unix s) of the hour the latest counter value belongs to
    wh: float = 0.0
    wh_production: float = 0.0
    carry: tuple[int, float, float] | None = None  # (hour start, Wh, Wh produced) of the hour before

    def read(self, when: datetime, wh: float, wh_production: float) -> None:
        """A power reading: the counter rolled over when the hour changed and it went down.

        The circle's clock may lag the host's by seconds, so a new host hour alone does
        not say the counter started again; a lower count does (or a minute into the hour)."""
        ts = int(when.timestamp())
        hour = ts - ts % HOUR
        if self.hour is None:
            self.hour = hour
        elif hour > self.hour:
            dropped = wh < self.wh or wh_production < self.wh_production
            if dropped or ts - hour >= ROLLOVER_GRACE_S or hour - self.hour > HOUR:
                self.carry = (self.hour, self.wh, self.wh_production) if hour - self.hour == HOUR else None
                self.hour = hour
        self.wh, self.wh_production = wh, wh_production


def today_wh(
    counter: HourCounter,
    midnight: int,
    covered_to: int | None,
    stored: Callable[[int, int, bool], float],
) -> tuple[float | None, float | None]:
    """(consumed, produced) since `midnight`, or (None, None) while the store lacks records.

    `covered_to`: the store holds every record of the circle that ended by then;
    `stored(start, end, production)`: the stored energy of the intervals ending in (start, end]."""
    hour = counter.hour
    if hour is None:
        return None, None
    if hour <= midnight:
        return counter.wh, counter.wh_production  # the first hour of the day: the counter alone
    if covered_to is not None and covered_to >= hour:
        return (
            stored(midnight, hour, False) + counter.wh,
            stored(midnight, hour, True) + counter.wh_production,
        )
    carry = counter.carry
    before = hour - HOUR
    if carry is not None and carry[0] == before and covered_to is not None and covered_to >= before:
        # the record of the hour that just ended is not read yet: its last reading stands in
        base = max(before, midnight)
        return (
            stored(midnight, base, False) + carry[1] + counter.wh,
            stored(midnight, base, True) + carry[2] + counter.wh_production,
        )
    return None, None


def covered_to(last_record_end: int | None, current_block_read_at: float | None) -> int | None:
    """Up to when the store holds every record: the latest stored record's end, or (when the
    block being written was read) that read less the time a circle takes to write a record."""
    read = int(current_block_read_at) - LATE_RECORD_S if current_block_read_at else None
    ends = [t for t in (last_record_end, read) if t is not None]
    return max(ends) if ends else None
