"""Unit conversions of the Plugwise protocol (PROTOCOL.md B §4–§7).  No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PULSES_PER_KW_SECOND = 468.9385193
LOG_BASE = 0x44000  # 278528: raw address of block 0
LOG_BLOCKS = 6016
LOG_SLOTS = 4
#: A 1 s reading above this is a bad reading, not a load (PROTOCOL.md A §5).
MAX_PLAUSIBLE_WATTS = 10_000.0
UNWRITTEN = 0xFFFFFFFF


@dataclass(frozen=True)
class Calibration:
    """The four floats of `0027`; turns pulse counts into watts and Wh."""

    gain_a: float = 1.0
    gain_b: float = 0.0
    off_tot: float = 0.0
    off_noise: float = 0.0

    def corrected_pps(self, pulses: float, seconds: float) -> float:
        """Calibrated pulses per second, with the zero and sign guards of B §4."""
        if pulses == 0 or seconds <= 0:
            return 0.0
        x = pulses / seconds + self.off_noise
        corr = self.gain_b * x * x + self.gain_a * x + self.off_tot
        if (corr < 0) != (pulses < 0):
            return 0.0
        return corr

    def watts(self, pulses: float, seconds: float) -> float:
        return self.corrected_pps(pulses, seconds) / PULSES_PER_KW_SECOND * 1000.0

    def wh(self, pulses: float, seconds: float) -> float:
        return self.corrected_pps(pulses, seconds) * seconds / 3600.0 / PULSES_PER_KW_SECOND * 1000.0

    def pulses_per_second(self, watts: float) -> float:
        """Inverse of `watts()` for one second: raw pulses/s that read as `watts`."""
        if watts == 0:
            return 0.0
        corr = watts * PULSES_PER_KW_SECOND / 1000.0
        c = corr - self.off_tot
        # Root of b·x² + a·x − c = 0 nearest the linear solution c/a, in the
        # form that stays exact when gain_b is tiny or zero.
        disc = max(0.0, self.gain_a * self.gain_a + 4.0 * self.gain_b * c)
        x = 2.0 * c / (self.gain_a + math.sqrt(disc))
        return x - self.off_noise

    def pulses(self, watts: float, seconds: float) -> int:
        """Whole pulses a circle counts in `seconds` at a steady `watts`."""
        return round(self.pulses_per_second(watts) * seconds)

    def standby_threshold(self, watts: float) -> int:
        """A standby-killer threshold as the circle stores it: raw pulses/s, at least 1."""
        return max(1, round(self.pulses_per_second(watts)))


# --- log addresses ---------------------------------------------------------


def block_to_address(block: int, slot: int = 0) -> int:
    if not 0 <= block < LOG_BLOCKS:
        raise ValueError(f"log block {block} outside 0…{LOG_BLOCKS - 1}")
    return LOG_BASE + 32 * block + 8 * slot


def address_to_block(raw: int) -> int:
    return (raw - LOG_BASE) // 32


def address_to_slot(raw: int) -> int:
    return ((raw - LOG_BASE) % 32) // 8


def address_valid(raw: int) -> bool:
    return LOG_BASE <= raw < LOG_BASE + 32 * LOG_BLOCKS


def next_block(block: int, step: int = 1) -> int:
    return (block + step) % LOG_BLOCKS


def blocks_between(first: int, last: int) -> list[int]:
    """Blocks from `first` to `last` inclusive, wrapping after 6015."""
    count = (last - first) % LOG_BLOCKS + 1
    return [(first + i) % LOG_BLOCKS for i in range(count)]


# --- y2k date + minutes (0024, 0049, 0016) ---------------------------------


def decode_y2k(raw: int) -> datetime | None:
    """`YY MM mmmm` (year-2000, month, minutes since month start) → UTC datetime.

    Returns None for unwritten (FFFFFFFF) or impossible values, e.g. the hour
    counters of old firmware."""
    if raw == UNWRITTEN:
        return None
    year, month, minutes = raw >> 24, (raw >> 16) & 0xFF, raw & 0xFFFF
    try:
        base = datetime(2000 + year, month, 1, tzinfo=UTC)
    except ValueError:  # month 0 (the stick's zeros, hour counters) or beyond 12
        return None
    when = base + timedelta(minutes=minutes)
    if when.month != month:
        return None
    return when


def encode_y2k(when: datetime) -> int:
    when = to_utc(when)
    minutes = (when.day - 1) * 1440 + when.hour * 60 + when.minute
    return ((when.year - 2000) << 24) | (when.month << 16) | minutes


def to_utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def iso(when: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, to the second, as every JSON output uses."""
    if when is None:
        return None
    return to_utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def weekday(when: datetime) -> int:
    """Monday = 1 … Sunday = 7, as circles count (PROTOCOL.md A §3)."""
    return when.isoweekday()


# --- codes -----------------------------------------------------------------

NODE_TYPES = {0: "stick", 1: "circle+", 2: "circle", 3: "switch", 5: "sense", 6: "scan", 9: "stealth"}
NODE_TYPE_CODES = {v: k for k, v in NODE_TYPES.items()}


def node_type_name(code: int) -> str:
    return NODE_TYPES.get(code, f"unknown-{code}")


#: Why a sleeping device woke up (004F, B §3.4).
AWAKE_REASONS = {0: "maintenance", 1: "first_join", 2: "rejoin", 3: "state", 4: "unknown", 5: "button"}


def awake_reason_name(code: int) -> str:
    return AWAKE_REASONS.get(code, f"unknown-{code}")


HZ = {0x85: 50, 0xC5: 60}


def hz_from_code(code: int) -> int | None:
    return HZ.get(code)


HW_MODELS = {
    "038500": "Stick",
    "070085": "Stick",
    "120002": "Stick Legrand",
    "120041": "Circle+ Legrand E",
    "120000": "Circle+ Legrand F",
    "090000": "Circle+ B",
    "090007": "Circle+ B",
    "090088": "Circle+ E",
    "070073": "Circle+ F",
    "090048": "Circle+ G",
    "120049": "Stealth M+",
    "090188": "Stealth+",
    "120040": "Circle Legrand E",
    "120001": "Circle Legrand F",
    "090079": "Circle B",
    "090087": "Circle E",
    "070140": "Circle F",
    "090093": "Circle G",
    "100025": "Circle",
    "120048": "Stealth M",
    "120029": "Stealth Legrand",
    "090011": "Stealth",
    "001200": "Stealth",
    "080007": "Scan",
    "110028": "Scan Legrand",
    "070030": "Sense",
    "120006": "Sense Legrand",
    "070051": "Switch",
    "080029": "Switch",
}


def hw_model(hw_version: str) -> str | None:
    """Model name from the 12-digit hardware version (B §7), trying the
    byte-reversed form old firmware sends."""
    key = hw_version[4:10]
    if key in HW_MODELS:
        return HW_MODELS[key]
    tail = hw_version[-6:]
    rev = tail[4:6] + tail[2:4] + tail[0:2]
    return HW_MODELS.get(rev)


ACK_NAMES = {
    0x00B3: "sense_interval_ack",
    0x00B4: "sense_interval_nack",
    0x00B5: "sense_boundaries_ack",
    0x00B6: "sense_boundaries_nack",
    0x00BD: "scan_light_calibration_ack",
    0x00BE: "scan_parameters_ack",
    0x00BF: "scan_parameters_nack",
    0x00C1: "accepted",
    0x00C2: "error",
    0x00C3: "error",
    0x00D7: "clock_set",
    0x00D8: "relay_on",
    0x00D9: "join_accepted",
    0x00DA: "power_calibration_ack",
    0x00DD: "circle_plus",
    0x00DE: "relay_off",
    0x00DF: "rtc_set",
    0x00E1: "timeout",
    0x00E2: "relay_nack",
    0x00E4: "schedule_on",
    0x00E5: "schedule_off",
    0x00E7: "rtc_nack",
    0x00F1: "broadcast_interval_set",
    0x00F2: "reset_ack",
    0x00F6: "sleep_config_ack",
    0x00F7: "sleep_config_nack",
    0x00F8: "log_interval_set",
    0x00F9: "group_cleared",
    0x00FA: "schedule_value_set",
}


def ack_name(status: int) -> str:
    return ACK_NAMES.get(status, "unknown")
