"""Deterministic household loads for the virtual circles.

Each load gives the power (W) an appliance would draw during a given UTC
minute, as a pure function of that minute and a seed, so energy over any span
is an exact sum and every run with the same seed sees the same house.
Production (solar) is negative.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MINUTE = 60


def _noise(seed: int, minute: int, salt: int) -> float:
    """A repeatable pseudo-random number in [0, 1) for one minute."""
    x = (minute * 2654435761 + seed * 40503 + salt * 97) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 2246822519) & 0xFFFFFFFF
    x ^= x >> 13
    return (x & 0xFFFFFF) / float(1 << 24)


@dataclass(frozen=True)
class Load:
    kind: str
    seed: int
    scale: float = 1.0

    def watts(self, minute: int) -> float:
        """Power during UTC minute number `minute` (minutes since the Unix epoch)."""
        fn = _KINDS[self.kind]
        return fn(self.seed, minute) * self.scale


def _fridge(seed: int, minute: int) -> float:
    period = 42 + seed % 7
    phase = (minute + seed * 13) % period
    if phase < period * 0.38:
        return 85.0 + 10.0 * _noise(seed, minute, 1)
    return 1.5


def _tv(seed: int, minute: int) -> float:
    hour = (minute // 60) % 24
    if 18 <= hour < 23 and _noise(seed, minute // 30, 2) < 0.85:
        return 95.0 + 15.0 * _noise(seed, minute, 3)
    return 0.5


def _washer(seed: int, minute: int) -> float:
    day = minute // 1440
    if _noise(seed, day, 4) > 0.45:
        return 0.8
    start = 9 * 60 + int(_noise(seed, day, 5) * 8 * 60)
    m = minute % 1440 - start
    if 0 <= m < 20:
        return 2000.0  # heating
    if 20 <= m < 80:
        return 180.0 + 60.0 * _noise(seed, minute, 6)
    if 80 <= m < 95:
        return 450.0  # spin
    return 0.8


def _nas(seed: int, minute: int) -> float:
    return 28.0 + 4.0 * _noise(seed, minute, 7)


def _lamp(seed: int, minute: int) -> float:
    hour = (minute // 60) % 24
    return 42.0 if hour >= 17 or hour < 1 else 0.0


def _solar(seed: int, minute: int) -> float:
    day_minute = minute % 1440
    day_of_year = (minute // 1440) % 365
    length = 600 + 240 * math.sin(2 * math.pi * (day_of_year - 80) / 365)  # minutes of daylight
    noon = 12 * 60 + 20
    x = (day_minute - (noon - length / 2)) / length
    if not 0 < x < 1:
        return 1.2  # inverter standby draws a little
    clouds = 0.65 + 0.35 * _noise(seed, minute // 20, 8)
    return -1500.0 * math.pow(math.sin(math.pi * x), 1.5) * clouds


def _heater(seed: int, minute: int) -> float:
    hour = (minute // 60) % 24
    if 6 <= hour < 9 or 17 <= hour < 22:
        return 1200.0 if (minute // 7 + seed) % 3 else 0.0
    return 0.0


def _charger(seed: int, minute: int) -> float:
    hour = (minute // 60) % 24
    return 12.0 if hour >= 21 or hour < 6 else 0.3


_KINDS = {
    "fridge": _fridge,
    "tv": _tv,
    "washer": _washer,
    "nas": _nas,
    "lamp": _lamp,
    "solar": _solar,
    "heater": _heater,
    "charger": _charger,
}
#: The order circles get their loads in; circle 6 is the solar inverter.
HOUSE = ("fridge", "tv", "washer", "nas", "lamp", "solar", "heater", "charger")


def load_for(index: int, seed: int) -> Load:
    kind = HOUSE[(index - 1) % len(HOUSE)]
    rng = random.Random(seed * 1000 + index)
    return Load(kind, seed * 31 + index, scale=0.9 + 0.2 * rng.random())
