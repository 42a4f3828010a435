"""History: interval changes keep energy right, gaps are noted once, progress and ETA are shown."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_engine import C1, C2, Running, engine_runs

from protocol import virtual
from pwtui import events as E
from pwtui.store import DB_NAME, Store


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    yield from engine_runs(tmp_path)


def caught_up(r: Running, mac: str) -> bool:
    c = r.engine.snapshot().circle(mac)
    return c is not None and c.history_total > 0 and c.history_done >= c.history_total


def test_interval_change_from_hourly_keeps_every_interval_true(tmp_path) -> None:
    url = "sim://?circles=2&seed=61&latency=0&history=1.1"  # 26 hourly records: the last block half full
    first = Running(tmp_path, url)
    first.wait(lambda: caught_up(first, C1), 20, "history caught up")
    first.close()
    changed = Running(tmp_path, url, keep=True, fridge="log_interval = 1")
    changed.wait(
        lambda: any(isinstance(e, E.EngineLog) and "log interval 1 min" in e.message for e in changed.events),
        15,
        "interval set",
    )
    info = (Store(tmp_path / "data" / DB_NAME, readonly=True).circle(C1) or {}).get("info", {})
    change = int(info["log_intervals_since"])
    # the first one-minute record after the change, read back
    changed.wait(
        lambda: any(
            i.end_ts > change and not i.production
            for i in Store(tmp_path / "data" / DB_NAME, readonly=True).intervals([C1])
        ),
        90,
        "a one-minute record",
    )
    changed.close()
    st = Store(tmp_path / "data" / DB_NAME, readonly=True)
    ivs = [i for i in st.intervals([C1]) if not i.production]
    ends = [i.end_ts for i in ivs]
    assert ends == sorted(set(ends))
    for a, b in itertools.pairwise(ivs):
        assert b.start_ts == a.end_ts, f"a hole or an overlap between {a} and {b}"
    hourly = [i for i in ivs if i.end_ts <= change - change % 3600]
    assert hourly and all(i.end_ts - i.start_ts == 3600 for i in hourly), "an hourly record got a new length"
    partial = next(i for i in ivs if i.start_ts == change - change % 3600)
    if change % 3600:  # (a change in the first minute of an hour leaves no partial hour)
        assert partial.end_ts == change, (
            "the partial hour before the change is not stored with its true length"
        )
    for i in [partial, *ivs[-6:]]:
        true = changed.net.true_energy_wh(
            C1, datetime.fromtimestamp(i.start_ts, UTC), datetime.fromtimestamp(i.end_ts, UTC)
        )
        assert i.wh == pytest.approx(true, rel=0.05, abs=0.05), f"{i}: {true} Wh true"
    assert not [e for e in changed.events if isinstance(e, E.EngineLog) and e.kind == "gap"]
    again = Running(tmp_path, url, keep=True, fridge="log_interval = 1")
    again.wait(
        lambda: (
            again.cycles() >= 4
            and (p := again.engine.ctx.history.progress.get(C1)) is not None
            and p.read_pos
        ),
        20,
        "the current block read again",
    )
    again.close()
    assert not [e for e in again.events if isinstance(e, E.EngineLog) and e.kind == "gap"]


def test_history_progress_and_eta_in_snapshot_and_status(run) -> None:
    r = run("sim://?circles=2&seed=62&latency=0&history=20")
    seen: list[float] = []

    def progress() -> bool:
        snap = r.engine.snapshot()
        c = snap.circle(C2)
        if c is not None and 0 < c.history_done < c.history_total and snap.history_eta_s:
            seen.append(snap.history_eta_s)
        return len(seen) >= 2

    r.wait(progress, 20, "progress with an ETA")
    status = json.loads((r.config.paths.data / "status.json").read_text())
    assert "history_eta_s" in status
    assert any(c["history_total"] > 0 for c in status["circles"])
    r.wait(lambda: caught_up(r, C1) and caught_up(r, C2), 60, "caught up")
    r.wait(lambda: r.engine.snapshot().history_eta_s == 0.0, 5)


def test_node_info_is_not_asked_every_cycle(run) -> None:
    r = run("sim://?circles=3&seed=63&latency=0&history=1")
    r.wait(lambda: caught_up(r, C1) and r.cycles() >= 3, 20)
    asked = r.net.requests_by_id
    info, power, cycles = asked["0023"], asked["0012"], r.cycles()
    r.wait(lambda: r.cycles() >= cycles + 5, 20, "five more cycles")
    assert asked["0012"] - power >= 4 * 4  # every circle is polled every cycle (the Circle+ too)
    assert asked["0023"] - info <= 1, "node info asked while nothing could have changed"


def true_today(r: Running, snap: E.Snapshot) -> float:
    local = snap.time.astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return r.net.true_energy_wh(C1, midnight.astimezone(UTC), snap.time)


def wrong_todays(r: Running) -> list[tuple[float, float]]:
    """(shown, true) of every CycleUpdate that showed a today for C1 that is not right."""
    wrong = []
    for e in list(r.events):
        if (
            isinstance(e, E.CycleUpdate)
            and (c := e.snapshot.circle(C1)) is not None
            and c.today_wh is not None
        ):
            true = true_today(r, e.snapshot)
            if c.today_wh != pytest.approx(true, rel=0.05, abs=1.0):
                wrong.append((c.today_wh, true))
    return wrong


def test_today_is_never_wrong_and_known_while_old_history_is_still_read(run) -> None:
    r = run("sim://?circles=2&seed=64&history=30")  # capture timing: the backlog takes seconds

    def known_during_catch_up() -> bool:
        for e in list(r.events):
            if not isinstance(e, E.CycleUpdate):
                continue
            c = e.snapshot.circle(C1)
            reading = c is not None and c.history_total and c.history_done < c.history_total / 2
            if reading and c is not None and c.today_wh is not None:
                return True
        return False

    r.wait(known_during_catch_up, 30, "today known before half the backlog is read")
    snap = next(
        e.snapshot
        for e in r.events
        if isinstance(e, E.CycleUpdate) and (c := e.snapshot.circle(C1)) is not None and c.watts is not None
    )
    first = snap.circle(C1)
    assert first is not None
    if snap.time.astimezone().hour > 0:  # (in the day's first hour the hour counter alone is today)
        assert first.today_wh is None, "today shown before the records since midnight"
    assert not wrong_todays(r), "a wrong today was shown (shown, true)"
    status = json.loads((r.config.paths.data / "status.json").read_text())
    assert all(c["today_wh"] is None or c["today_wh"] >= 0 for c in status["circles"])


def test_today_is_right_at_the_first_reading_after_a_restart(tmp_path) -> None:
    url = "sim://?circles=2&seed=66&latency=0&history=2"
    first = Running(tmp_path, url)
    first.wait(lambda: caught_up(first, C1) and first.engine.snapshot().circle(C1).today_wh is not None, 20)
    first.close()
    again = Running(tmp_path, url, keep=True)
    again.wait(
        lambda: any(
            isinstance(e, E.CycleUpdate) and (c := e.snapshot.circle(C1)) is not None and c.watts is not None
            for e in list(again.events)
        ),
        15,
        "a first reading",
    )
    again.close()
    snap = next(
        e.snapshot
        for e in again.events
        if isinstance(e, E.CycleUpdate) and (c := e.snapshot.circle(C1)) is not None and c.watts is not None
    )
    c = snap.circle(C1)
    assert c is not None and c.today_wh is not None, "today not known at the first reading"
    assert c.today_wh == pytest.approx(true_today(again, snap), rel=0.05, abs=1.0)
    assert not wrong_todays(again)


def test_cached_calibration_and_node_info_are_dropped_when_a_circle_is_replaced(tmp_path) -> None:
    url = "sim://?circles=2&seed=65&latency=0"
    first = Running(tmp_path, url)
    db = tmp_path / "data" / DB_NAME

    def cached() -> dict:
        if not db.exists():
            return {}
        st = Store(db, readonly=True)
        try:
            return (st.circle(C1) or {}).get("info", {})
        except sqlite3.OperationalError:  # the engine is still creating the tables
            return {}
        finally:
            st.close()

    first.wait(lambda: "calibration" in cached() and "log_intervals" in cached() and "model" in cached(), 15)
    first.close()
    old = cached()["calibration"]
    c = first.net.circles[C1]
    c.calibration = dataclasses.replace(c.calibration, gain_a=c.calibration.gain_a * 1.01)  # another plug
    again = Running(tmp_path, url, keep=True)
    again.wait(
        lambda: any(isinstance(e, E.EngineLog) and "circle replaced" in e.message for e in again.events), 15
    )
    again.wait(lambda: "log_intervals" in cached() and cached()["calibration"] != old, 15, "settings again")
    again.close()
    assert any(
        isinstance(e, E.EngineLog) and e.mac == C1 and "log interval" in e.message for e in again.events
    ), "the replaced circle's log interval was not set again"


def test_blocks_read_for_today_are_not_asked_again_in_order(run) -> None:
    r = run("sim://?circles=2&seed=67&latency=0&history=30")
    macs = [virtual.CIRCLE_PLUS_MAC, C1, C2]
    r.wait(lambda: all(caught_up(r, m) for m in macs), 60, "caught up")
    today = sum(len(p.today) for p in r.engine.ctx.history.progress.values())
    assert today == 0
    done = sum(c.history_done for c in r.engine.snapshot().circles)
    asked = r.net.requests_by_id["0048"]
    # each block once (today's, read first, are not asked again in order), plus for each
    # circle a probe of where its log starts and its block being written (read twice: with
    # today's and in order); 7 more a circle when today's blocks are read twice
    assert asked <= done + len(macs) * 4, f"{asked} log blocks asked for {done} stored"
