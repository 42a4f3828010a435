"""Today's energy (pwtui/engine/today.py): known only when right, and no dip at the top of the hour."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pwtui.engine.today import LATE_RECORD_S, HourCounter, covered_to, today_wh

MIDNIGHT = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())
H = 3600


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(MIDNIGHT + seconds, UTC)


def hourly_store(wh_per_hour: float, upto: int):
    """A store with one record per hour of `wh_per_hour` from midnight up to `upto` (unix s)."""

    def stored(start: int, end: int, production: bool) -> float:
        ends = range(MIDNIGHT + H, upto + 1, H)
        return sum(wh_per_hour * (0.5 if production else 1) for t in ends if start < t <= end)

    return stored


def test_no_reading_no_today() -> None:
    assert today_wh(HourCounter(), MIDNIGHT, MIDNIGHT + 5 * H, hourly_store(10, MIDNIGHT + 5 * H)) == (
        None,
        None,
    )


def test_the_store_holds_every_record_up_to_this_hour() -> None:
    c = HourCounter()
    c.read(at(14 * H + 600), 3.0, 1.0)
    assert today_wh(c, MIDNIGHT, MIDNIGHT + 14 * H, hourly_store(10, MIDNIGHT + 14 * H)) == (143.0, 71.0)


def test_records_missing_since_midnight_give_no_number() -> None:
    c = HourCounter()
    c.read(at(14 * H + 600), 3.0, 0.0)
    # the logger was off from 10:00: records since then are still in the circle
    assert today_wh(c, MIDNIGHT, MIDNIGHT + 10 * H, hourly_store(10, MIDNIGHT + 10 * H)) == (None, None)
    assert today_wh(c, MIDNIGHT, None, hourly_store(10, MIDNIGHT)) == (None, None)


def test_the_first_hour_of_the_day_is_the_counter_alone() -> None:
    c = HourCounter()
    c.read(at(1200), 4.0, 0.5)
    assert today_wh(c, MIDNIGHT, None, hourly_store(10, MIDNIGHT)) == (4.0, 0.5)


def test_at_the_top_of_the_hour_the_last_reading_stands_in_for_the_record_not_read_yet() -> None:
    c = HourCounter()
    c.read(at(14 * H + 3590), 9.9, 0.0)  # 14:59:50
    c.read(at(15 * H + 5), 0.1, 0.0)  # 15:00:05: the counter started again
    store = hourly_store(10, MIDNIGHT + 14 * H)  # the 14:00-15:00 record is not read yet
    consumed, _ = today_wh(c, MIDNIGHT, MIDNIGHT + 14 * H, store)
    assert consumed == pytest.approx(140 + 9.9 + 0.1)
    # once the record is stored it counts instead
    consumed, _ = today_wh(c, MIDNIGHT, MIDNIGHT + 15 * H, hourly_store(10, MIDNIGHT + 15 * H))
    assert consumed == pytest.approx(150 + 0.1)


def test_a_circle_clock_behind_the_host_keeps_counting_the_old_hour() -> None:
    c = HourCounter()
    c.read(at(14 * H + 3590), 9.9, 0.0)
    c.read(at(15 * H + 3), 10.0, 0.0)  # host says 15:00:03, the circle's counter has not rolled over
    assert c.hour == MIDNIGHT + 14 * H and c.carry is None
    consumed, _ = today_wh(c, MIDNIGHT, MIDNIGHT + 14 * H, hourly_store(10, MIDNIGHT + 14 * H))
    assert consumed == pytest.approx(140 + 10.0), "the old hour counted twice"
    c.read(at(15 * H + 13), 0.05, 0.0)  # now it did
    assert c.hour == MIDNIGHT + 15 * H and c.carry == (MIDNIGHT + 14 * H, 10.0, 0.0)


def test_a_minute_into_the_hour_the_counter_belongs_to_it_whatever_it_says() -> None:
    c = HourCounter()
    c.read(at(14 * H + 3590), 0.0, 0.0)  # no load: the counter never goes down
    c.read(at(15 * H + 70), 0.0, 0.0)
    assert c.hour == MIDNIGHT + 15 * H


def test_a_gap_of_hours_between_readings_carries_nothing() -> None:
    c = HourCounter()
    c.read(at(10 * H + 100), 5.0, 0.0)
    c.read(at(14 * H + 100), 1.0, 0.0)
    assert c.hour == MIDNIGHT + 14 * H and c.carry is None
    assert today_wh(c, MIDNIGHT, MIDNIGHT + 13 * H, hourly_store(10, MIDNIGHT + 13 * H)) == (None, None)


def test_covered_to_counts_a_read_of_the_block_being_written_less_the_time_to_write_a_record() -> None:
    assert covered_to(None, None) is None
    assert covered_to(1000, None) == 1000
    assert covered_to(None, 5000.5) == 5000 - LATE_RECORD_S
    assert covered_to(9000, 5000.0) == 9000
