"""The virtual Circle+ and Circles: relay, clock, calibration, log buffer, schedule.

State only changes through `VirtualNetwork` (network.py), which advances
simulated time and routes requests here.  Times are float Unix seconds (UTC).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .. import schedules, units
from ..fields import LogEntry
from ..units import Calibration
from .loads import Load

LOG_POSITIONS = units.LOG_BLOCKS * units.LOG_SLOTS  # 24064 entries, then wrap


@dataclass
class LogSegment:
    """A run of log entries written with one interval setting."""

    start_index: int  # absolute entry index of the first entry
    first_end: float  # end time of the first interval (UTC seconds)
    interval_s: int
    per_interval: int  # 1, or 2 when production is logged too

    def count_until(self, now: float) -> int:
        if now < self.first_end:
            return 0
        return (int((now - self.first_end) // self.interval_s) + 1) * self.per_interval


@dataclass
class VirtualCircle:
    index: int  # 0 = Circle+, 1… = circles
    mac: str
    load: Load
    calibration: Calibration
    hw_version: str
    fw_version: int  # unix time of the firmware build
    node_type: int = 2
    relay: bool = True
    online: bool = True
    joined: bool = True
    clock_offset: float = 0.0  # circle clock − true UTC, seconds, at clock_set_at
    drift_per_day: float = 0.0  # seconds gained per day
    clock_set_at: float = 0.0
    powered_at: float = 0.0  # when it was plugged in: its counters cover no time before
    log_interval: int = 60  # minutes, consumption
    production_interval: int = 0  # minutes, 0 = production not logged
    schedule_values: list[int] = field(default_factory=lambda: [schedules.ON] * schedules.SLOTS)
    schedule_enabled: bool = False
    relay_history: list[tuple[float, bool]] = field(default_factory=list)
    segments: list[LogSegment] = field(default_factory=list)
    node_table: list[str] | None = None  # Circle+ only: 64 slots
    _entry_cache: dict[int, LogEntry] = field(default_factory=dict, repr=False)
    _last_quarter: int = -1

    # --- relay and power ---------------------------------------------------

    @property
    def production(self) -> bool:
        return self.production_interval > 0

    @property
    def schedule_crc(self) -> str:
        return schedules.schedule_crc(self.schedule_values)

    def set_relay(self, on: bool, t: float) -> None:
        if on != self.relay:
            self.relay = on
            self.relay_history.append((t, on))
            self._entry_cache.clear()

    def relay_at(self, t: float) -> bool:
        if not self.relay_history:
            return self.relay
        i = bisect.bisect_right(self.relay_history, (t, True))
        if i == 0:
            return not self.relay_history[0][1]
        return self.relay_history[i - 1][1]

    def true_watts(self, t: float) -> float:
        """What the circle measures at time t: the load, or 0 with the relay off."""
        if not self.relay_at(t):
            return 0.0
        return self.load.watts(int(t // 60))

    def _next_change(self, t: float) -> float:
        i = bisect.bisect_right(self.relay_history, (t, True))
        return self.relay_history[i][0] if i < len(self.relay_history) else math.inf

    def energy_wh(self, start: float, end: float, production: bool = False) -> float:
        """True energy over [start, end), consumption or production (both ≥ 0)."""
        total = 0.0
        t = start
        while t < end:
            m = int(t // 60)
            nxt = min(end, (m + 1) * 60.0, self._next_change(t))
            if nxt <= t:
                nxt = min(end, (m + 1) * 60.0)
            if self.relay_at(t):
                w = self.load.watts(m)
                part = -w if production else w
                if part > 0:
                    total += part * (nxt - t) / 3600.0
            t = nxt
        return total

    def average_watts(self, seconds: float, t: float) -> float:
        """What a `seconds` counter shows at t: the mean power over the last `seconds`
        (consumption positive, production negative), or over the time since power-on."""
        start = max(t - seconds, self.powered_at)
        if t - start < 1e-3:
            return self.true_watts(t)
        net_wh = self.energy_wh(start, t) - self.energy_wh(start, t, production=True)
        return net_wh * 3600.0 / (t - start)

    def pulses(self, watts: float, seconds: float) -> int:
        return self.calibration.pulses(watts, seconds)

    # --- clock -------------------------------------------------------------------

    def clock_error(self, t: float) -> float:
        return self.clock_offset + self.drift_per_day * (t - self.clock_set_at) / 86400.0

    def circle_time(self, t: float) -> datetime:
        return datetime.fromtimestamp(t + self.clock_error(t), tz=UTC)

    def set_clock(self, when: datetime, t: float) -> None:
        self.clock_offset = when.timestamp() - t
        self.clock_set_at = t

    # --- log buffer --------------------------------------------------------------

    def start_log(self, t: float) -> None:
        self.segments = [self._segment(0, t)]

    def _segment(self, start_index: int, t: float) -> LogSegment:
        iv = max(1, self.log_interval) * 60
        first_end = math.floor(t / iv) * iv + iv
        per = 2 if self.production else 1
        return LogSegment(start_index, first_end, iv, per)

    def change_intervals(self, consumption: int, production: int, t: float) -> None:
        count = self.entry_count(t)
        self.log_interval = consumption or production or 60
        self.production_interval = production
        self.segments.append(self._segment(count, t))
        self._entry_cache.clear()

    def entry_count(self, t: float) -> int:
        if not self.segments:
            return 0
        seg = self.segments[-1]
        return seg.start_index + seg.count_until(t)

    def write_position(self, t: float) -> int:
        """Position (0…24063) of the next entry to be written."""
        return self.entry_count(t) % LOG_POSITIONS

    def entry_at(self, position: int, t: float) -> LogEntry:
        count = self.entry_count(t)
        if count == 0:
            return LogEntry(None, -1, units.UNWRITTEN)
        # the newest absolute index that lives at this position
        last = count - 1
        index = last - ((last - position) % LOG_POSITIONS)
        if index < 0:
            return LogEntry(None, -1, units.UNWRITTEN)
        cached = self._entry_cache.get(index)
        if cached is not None:
            return cached
        entry = self._compute_entry(index)
        self._entry_cache[index] = entry
        return entry

    def _compute_entry(self, index: int) -> LogEntry:
        seg = self.segments[0]
        for s in self.segments:
            if s.start_index <= index:
                seg = s
        k, kind = divmod(index - seg.start_index, seg.per_interval)
        end = seg.first_end + k * seg.interval_s
        start = end - seg.interval_s
        production = kind == 1
        wh = self.energy_wh(start, end, production)
        avg_w = wh * 3600.0 / seg.interval_s
        pulses = self.pulses(-avg_w if production else avg_w, seg.interval_s)
        when = datetime.fromtimestamp(end, tz=UTC)
        return LogEntry(when, pulses, units.encode_y2k(when))

    # --- schedule ----------------------------------------------------------------

    def schedule_slot(self, t: float) -> int:
        ct = self.circle_time(t)
        return (ct.isoweekday() - 1) * 96 + ct.hour * 4 + ct.minute // 15

    def apply_schedule(self, t: float) -> None:
        """Switch as the schedule says, each quarter hour of circle time."""
        if not self.schedule_enabled:
            self._last_quarter = -1
            return
        quarter = int((t + self.clock_error(t)) // 900)
        value = self.schedule_values[self.schedule_slot(t)]
        if quarter != self._last_quarter:
            self._last_quarter = quarter
            if value == schedules.ON or value > 0:
                self.set_relay(True, t)
            elif value == schedules.OFF:
                self.set_relay(False, t)
        if value > 0 and self.relay:
            # standby killer: off while the load stays below the threshold
            pps = abs(self.calibration.pulses_per_second(self.load.watts(int(t // 60))))
            if pps < value:
                self.set_relay(False, t)


def make_circle(index: int, mac: str, load: Load, seed: int) -> VirtualCircle:
    rng = random.Random(seed * 7919 + index)
    cal = Calibration(
        gain_a=0.97 + 0.05 * rng.random(),
        gain_b=-(1.0 + 8.0 * rng.random()) * 1e-6,
        off_tot=0.01 + 0.04 * rng.random(),
        off_noise=0.0,
    )
    circle_plus = index == 0
    return VirtualCircle(
        index=index,
        mac=mac,
        load=load,
        calibration=cal,
        hw_version="653907007325"
        if circle_plus
        else rng.choice(["653907014023", "653907014024", "653909001106"]),
        fw_version=0x4E0844C2 if rng.random() < 0.7 else 0x4CCEC0C2,
        node_type=1 if circle_plus else 2,
        drift_per_day=rng.uniform(-4.0, 4.0),
        clock_offset=rng.uniform(-20.0, 20.0),
        node_table=([] if circle_plus else None),
    )
