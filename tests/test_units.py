"""Unit math: the worked examples of PROTOCOL.md B §4, schedule CRCs of B §8, log wrap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import schedules, units
from protocol.units import Calibration

UNL = Calibration(gain_a=0.97164, gain_b=-7.6006e-6, off_tot=0.020703, off_noise=0.0)


def test_worked_example_unleashed() -> None:
    assert UNL.watts(2, 1) == pytest.approx(4.19, abs=0.01)
    assert UNL.watts(19, 8) == pytest.approx(4.97, abs=0.01)


def test_zero_and_sign_guards() -> None:
    assert UNL.watts(0, 8) == 0.0
    # a consumption reading that calibrates below zero reads as 0, not negative
    cal = Calibration(gain_a=1.0, gain_b=0.0, off_tot=-5.0, off_noise=0.0)
    assert cal.watts(1, 1) == 0.0
    # production (negative pulses) stays negative
    assert Calibration().watts(-469, 1) == pytest.approx(-1000.1, abs=0.5)


def test_kwh_per_pulse() -> None:
    cal = Calibration()
    assert cal.wh(1_688_178.7, 3600) == pytest.approx(1000.0, rel=1e-6)


@given(st.floats(0.5, 3600), st.floats(0.9, 1.1), st.floats(-1e-5, 1e-5), st.floats(-0.1, 0.1))
def test_watts_inverse(watts: float, a: float, b: float, off: float) -> None:
    cal = Calibration(gain_a=a, gain_b=b, off_tot=off, off_noise=0.0)
    pps = cal.pulses_per_second(watts)
    assert cal.watts(pps, 1) == pytest.approx(watts, rel=1e-6, abs=1e-6)


def test_standby_threshold_at_least_one_pulse() -> None:
    assert UNL.standby_threshold(0.1) == 1
    assert UNL.standby_threshold(10) == round(UNL.pulses_per_second(10))


def test_log_address_block_and_wrap() -> None:
    assert units.block_to_address(0) == 0x44000
    assert units.address_to_block(0x00059DF8) == 2799 and units.address_to_slot(0x00059DF8) == 3
    assert units.address_to_block(0x00052050) == 1794 and units.address_to_slot(0x00052050) == 2
    assert units.block_to_address(6015) == 0x72FE0
    assert units.next_block(6015) == 0
    assert units.blocks_between(6014, 1) == [6014, 6015, 0, 1]
    with pytest.raises(ValueError):
        units.block_to_address(6016)


def test_y2k_round_trip_and_invalid() -> None:
    when = datetime(2017, 11, 6, 1, 0, tzinfo=UTC)
    assert units.encode_y2k(when) == 0x110B1C5C
    assert units.decode_y2k(0x110B1C5C) == when
    assert units.decode_y2k(0xFFFFFFFF) is None
    assert units.decode_y2k(0x0000338C) is None  # old firmware's hour counter
    assert units.decode_y2k(0x110BFFFF) is None  # minutes beyond the month


def test_weekday_monday_is_one() -> None:
    assert units.weekday(datetime(2017, 11, 2)) == 4  # a Thursday, as in the captures
    assert units.weekday(datetime(2017, 11, 5)) == 7


def test_codes_and_models() -> None:
    assert units.node_type_name(1) == "circle+" and units.node_type_name(9) == "stealth"
    assert units.hz_from_code(0x85) == 50 and units.hz_from_code(0xC5) == 60
    assert units.hw_model("653907014023") == "Circle F"
    assert units.hw_model("000004730007") == "Circle+ F"  # byte-reversed old firmware
    assert units.ack_name(0x00E1) == "timeout"


def test_schedule_crcs() -> None:
    assert schedules.schedule_crc([-1] * 672) == "457A"
    assert schedules.schedule_crc([0] * 672) == "0000"
    assert schedules.schedule_crc([1] * 672) == "FA48"


def test_schedule_chunks_and_commits() -> None:
    values = list(range(672))
    reqs = schedules.buffer_requests(values)
    assert len(reqs) == 84
    assert reqs[0].offset == 0 and reqs[1].offset == 0x10 and reqs[-1].offset == 0x530
    assert reqs[83].values == tuple(range(664, 672))
    commits = schedules.commit_requests("000D6F0001A40223")
    assert [c.index for c in commits] == list(range(1, 43))
    assert values[schedules.commit_slice(42)] == list(range(656, 672))
    assert values[schedules.buffer_slice(0x530)] == list(range(664, 672))


def test_schedule_rotation_to_utc() -> None:
    # Monday 08:00-09:00 local (slots 32..35) off; local time is UTC+1
    slots = [-1] * 672
    for i in range(32, 36):
        slots[i] = 0
    week = schedules.WeekSchedule(tuple(slots))
    utc = week.to_circle(Calibration(), utc_offset_minutes=60)
    # 08:00 local = 07:00 UTC → circle slots 28..31
    assert [i for i, v in enumerate(utc) if v == 0] == [28, 29, 30, 31]
    # UTC-5: 08:00 local = 13:00 UTC
    utc = week.to_circle(Calibration(), utc_offset_minutes=-300)
    assert [i for i, v in enumerate(utc) if v == 0] == [52, 53, 54, 55]
    # wraps across Sunday → Monday
    sunday_late = schedules.WeekSchedule(tuple(0 if i == 671 else -1 for i in range(672)))
    assert sunday_late.to_circle(Calibration(), -60).index(0) == 3


def test_schedule_thresholds_become_pulses() -> None:
    week = schedules.WeekSchedule.constant(20)
    vals = week.to_circle(UNL, 0)
    assert set(vals) == {UNL.standby_threshold(20)}


def test_schedule_validation() -> None:
    with pytest.raises(ValueError):
        schedules.WeekSchedule((-2,) * 672)
    with pytest.raises(ValueError):
        schedules.WeekSchedule.from_days([[0] * 96] * 6)
