"""Week schedules: 672 quarter-hour slots, Monday 00:00 first (PROTOCOL.md A §4, B §8).

A slot is −1 (on), 0 (off) or a standby-killer threshold (> 0).  People write
schedules in local wall-clock time and in watts; circles hold them in UTC and
in raw pulses per second.  This module converts between the two.  No I/O.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .messages import ScheduleBufferRequest, ScheduleCommitRequest
from .units import Calibration

SLOTS_PER_DAY = 96
DAYS = 7
SLOTS = SLOTS_PER_DAY * DAYS
ON = -1
OFF = 0
CHUNK = 8  # values per 003B
CHUNKS = SLOTS // CHUNK  # 84
COMMITS = CHUNKS // 2  # 42 × 003C, 16 values each
DEFAULT_CRC = "457A"  # all slots on


def schedule_crc(values: Sequence[int]) -> str:
    """The CRC a circle reports in 003F for these 672 values (big-endian int16)."""
    if len(values) != SLOTS:
        raise ValueError(f"a schedule has {SLOTS} slots, got {len(values)}")
    data = struct.pack(f">{SLOTS}h", *values)
    return f"{binascii.crc_hqx(data, 0):04X}"


@dataclass(frozen=True)
class WeekSchedule:
    """672 slot values in local wall-clock time; thresholds in watts."""

    slots: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.slots) != SLOTS:
            raise ValueError(f"a week schedule has {SLOTS} slots, got {len(self.slots)}")
        for i, v in enumerate(self.slots):
            if v < ON:
                raise ValueError(f"slot {i}: {v} is not -1 (on), 0 (off) or a threshold > 0")
            if v > 32767:
                raise ValueError(f"slot {i}: threshold {v} W is too large")

    @classmethod
    def constant(cls, value: int) -> WeekSchedule:
        return cls((value,) * SLOTS)

    @classmethod
    def from_days(cls, days: Iterable[Sequence[int]]) -> WeekSchedule:
        days = list(days)
        if len(days) != DAYS:
            raise ValueError(f"a week has {DAYS} days, got {len(days)}")
        slots: list[int] = []
        for d, day in enumerate(days):
            if len(day) != SLOTS_PER_DAY:
                raise ValueError(f"day {d}: {SLOTS_PER_DAY} quarter hours expected, got {len(day)}")
            slots.extend(int(v) for v in day)
        return cls(tuple(slots))

    def day(self, index: int) -> tuple[int, ...]:
        return self.slots[index * SLOTS_PER_DAY : (index + 1) * SLOTS_PER_DAY]

    def days(self) -> list[tuple[int, ...]]:
        return [self.day(d) for d in range(DAYS)]

    def at(self, day: int, quarter: int) -> int:
        return self.slots[day * SLOTS_PER_DAY + quarter]

    def replace(self, changes: dict[int, int]) -> WeekSchedule:
        slots = list(self.slots)
        for i, v in changes.items():
            slots[i] = v
        return WeekSchedule(tuple(slots))

    def to_circle(self, calibration: Calibration, utc_offset_minutes: int) -> tuple[int, ...]:
        """The 672 values to upload: thresholds in pulses, rotated to UTC.

        Circle slot j covers UTC time Monday 00:00 + 15·j minutes, which is
        local time + offset; so it takes local slot j + offset/15."""
        shift = round(utc_offset_minutes / 15)
        out = []
        for j in range(SLOTS):
            v = self.slots[(j + shift) % SLOTS]
            out.append(calibration.standby_threshold(v) if v > 0 else v)
        return tuple(out)


def buffer_requests(values: Sequence[int]) -> list[ScheduleBufferRequest]:
    """The 84 `003B` requests that load `values` into the stick's buffer."""
    if len(values) != SLOTS:
        raise ValueError(f"a schedule has {SLOTS} slots, got {len(values)}")
    return [
        ScheduleBufferRequest(offset=16 * i, values=tuple(values[i * CHUNK : (i + 1) * CHUNK]))
        for i in range(CHUNKS)
    ]


def commit_requests(mac: str) -> list[ScheduleCommitRequest]:
    """The 42 `003C` requests that copy the stick's buffer to a circle."""
    return [ScheduleCommitRequest(mac=mac, index=i) for i in range(1, COMMITS + 1)]


def buffer_slice(offset: int) -> slice:
    """Which slots a `003B` with this byte offset fills."""
    start = offset // 2
    return slice(start, start + CHUNK)


def commit_slice(index: int) -> slice:
    """Which slots a `003C` index (1…42) copies."""
    start = (index - 1) * 2 * CHUNK
    return slice(start, start + 2 * CHUNK)
