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


# --- edges found by mutation testing (make mutate, docs/MUTANTS.md) ---------------------


def test_calibration_edges() -> None:
    assert Calibration().watts(5, 0) == 0.0  # no time, no power (and no division by zero)
    noisy = Calibration(gain_a=1.0, gain_b=0.0, off_tot=0.0, off_noise=1.0)
    assert noisy.corrected_pps(1, 1) == 2.0  # off_noise is added before the polynomial
    assert noisy.pulses_per_second(noisy.watts(3, 1)) == pytest.approx(3.0)
    assert Calibration().pulses_per_second(0) == 0.0
    assert UNL.pulses(100, 8) == round(UNL.pulses_per_second(100) * 8) == 386
    # production: a negative reading stays negative through the guards
    assert Calibration(gain_a=1.0, gain_b=0.0, off_tot=0.5, off_noise=0.0).corrected_pps(-2, 1) == -1.5


def test_log_address_edges() -> None:
    base, end = units.LOG_BASE, units.LOG_BASE + 32 * units.LOG_BLOCKS
    assert [units.address_valid(a) for a in (base - 1, base, end - 1, end)] == [False, True, True, False]
    assert units.block_to_address(1, 3) == base + 32 + 24
    assert units.address_to_slot(base + 12) == 1  # 0024 reports 8-byte resolution; floor, not a fraction
    with pytest.raises(ValueError, match=r"^log block 6016 outside 0…6015$"):
        units.block_to_address(6016)
    with pytest.raises(ValueError, match=r"^log block -1 outside 0…6015$"):
        units.block_to_address(-1)


def test_unknown_codes_keep_their_number() -> None:
    assert units.ack_name(0x1234) == "unknown"
    assert units.node_type_name(4) == "unknown-4"
    assert units.awake_reason_name(0) == "maintenance" and units.awake_reason_name(9) == "unknown-9"
    assert units.hw_model("000000000000") is None


def test_schedule_helpers_exact() -> None:
    values = [(i * 5) % 23 - 1 for i in range(672)]
    reqs = schedules.buffer_requests(values)
    assert all(len(r.values) == 8 for r in reqs)
    assert [v for r in reqs for v in r.values] == values
    assert schedules.buffer_slice(16) == slice(8, 16)
    assert schedules.commit_slice(1) == slice(0, 16) and schedules.commit_slice(42) == slice(656, 672)
    mac = "000D6F0001A40223"
    assert {c.mac for c in schedules.commit_requests(mac)} == {mac}
    with pytest.raises(ValueError, match=r"^a schedule has 672 slots, got 671$"):
        schedules.buffer_requests(values[:-1])
    with pytest.raises(ValueError, match=r"^a schedule has 672 slots, got 673$"):
        schedules.schedule_crc([*values, 0])


def test_week_schedule_access_and_validation() -> None:
    days = [[d] * 96 for d in range(-1, 6)]
    week = schedules.WeekSchedule.from_days(days)
    assert week.slots[:96] == (-1,) * 96 and week.slots[-1] == 5
    assert week.day(2) == (1,) * 96 and week.days() == [tuple(d) for d in days]
    assert week.at(6, 95) == 5 and week.at(0, 0) == -1
    changed = week.replace({0: 0, 671: 300})
    assert changed.at(0, 0) == 0 and changed.at(6, 95) == 300 and week.at(0, 0) == -1
    assert schedules.WeekSchedule.from_days([["7"] * 96] * 7).slots == (7,) * 672  # text → int
    with pytest.raises(ValueError, match=r"^a week has 7 days, got 6$"):
        schedules.WeekSchedule.from_days(days[:6])
    with pytest.raises(ValueError, match=r"^day 3: 96 quarter hours expected, got 95$"):
        schedules.WeekSchedule.from_days([*days[:3], [0] * 95, *days[4:]])
    with pytest.raises(ValueError, match=r"^a week schedule has 672 slots, got 671$"):
        schedules.WeekSchedule((0,) * 671)
    with pytest.raises(ValueError, match=r"^slot 5: -2 is not -1 \(on\), 0 \(off\) or a threshold > 0$"):
        schedules.WeekSchedule.constant(0).replace({5: -2})
    assert schedules.WeekSchedule.constant(32767).slots[0] == 32767
    with pytest.raises(ValueError, match=r"^slot 0: threshold 32768 W is too large$"):
        schedules.WeekSchedule.constant(32768)


def test_one_watt_threshold_is_converted_too() -> None:
    """A 1 W threshold is a threshold like any other: it becomes pulses per second."""
    sensitive = Calibration(gain_a=0.1, gain_b=0.0, off_tot=0.0, off_noise=0.0)
    assert sensitive.standby_threshold(1) == 5
    assert set(schedules.WeekSchedule.constant(1).to_circle(sensitive, 0)) == {5}


def test_calibration_polynomial_exactly() -> None:
    """Deterministic companions of the hypothesis inverse test (B §4)."""
    quad = Calibration(gain_a=1.0, gain_b=0.01, off_tot=0.0, off_noise=0.0)
    assert quad.corrected_pps(10, 1) == pytest.approx(11.0)  # 0.01·10² + 10
    assert Calibration().corrected_pps(1, 2) == 0.5  # a small positive rate is kept
    assert Calibration().corrected_pps(0.5, 1) == 0.5  # fractional pulses are positive too
    real = Calibration(gain_a=0.97164, gain_b=-7.6006e-6, off_tot=0.020703, off_noise=0.0)
    for watts in (5.0, 100.0, 2000.0):
        assert real.watts(real.pulses_per_second(watts), 1) == pytest.approx(watts, rel=1e-9)
