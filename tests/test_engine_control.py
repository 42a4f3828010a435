"""What the engine may switch: unlisted circles are left alone, always-on means on, commands answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_engine import C1, C2, C3, Running, engine_runs

from protocol import schedules, virtual
from pwtui import events as E
from pwtui.controlfile import read_control, update_row
from pwtui.schedulefile import NamedSchedule, write_schedules

C4 = virtual.circle_mac(4)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    yield from engine_runs(tmp_path)


def result(r: Running, cid: int) -> E.CommandResult:
    r.wait(
        lambda: any(isinstance(e, E.CommandResult) and e.command_id == cid for e in r.events), 10, "result"
    )
    return next(e for e in r.events if isinstance(e, E.CommandResult) and e.command_id == cid)


def notes(r: Running, kind: str, mac: str | None = None) -> list[E.EngineLog]:
    return [
        e
        for e in list(r.events)
        if isinstance(e, E.EngineLog) and e.kind == kind and (mac is None or e.mac == mac)
    ]


def test_unlisted_circle_is_monitored_and_logged_but_never_switched(run) -> None:
    def off_by_hand(net: virtual.VirtualNetwork) -> None:
        net.circles[C4].set_relay(False, net.now_ts())  # a heater someone turned off

    r = run("sim://?circles=4&seed=31&latency=0&history=1", prepare=off_by_hand)
    r.wait(lambda: (c := r.engine.snapshot().circle(C4)) is not None and c.online, 15, "C4 found")
    start = r.cycles()
    r.wait(lambda: r.cycles() >= start + 4, 15, "four more cycles")
    c4 = r.engine.snapshot().circle(C4)
    assert c4 is not None and c4.in_control is False and c4.relay is False
    assert r.engine.snapshot().circle(C1).in_control is True  # type: ignore[union-attr]
    assert r.net.circles[C4].relay is False, "the engine switched a circle the control file does not list"
    assert not notes(r, "switch", C4)
    assert C4 not in {row.mac for row in read_control(r.config.paths.control)}, "a row was invented"
    status = json.loads((r.config.paths.data / "status.json").read_text())
    assert next(c for c in status["circles"] if c["mac"] == C4)["in_control"] is False
    r.close()
    st = r.store()
    assert len(list(st.power_samples([C4]))) >= 3, "not monitored"
    assert any(i.mac == C4 for i in st.intervals([C4])), "its history was not logged"


def test_always_on_row_off_is_refused_and_relay_stays_on(run) -> None:
    r = run("sim://?circles=3&seed=32&latency=0")
    r.wait(lambda: r.cycles() >= 2)
    update_row(r.config.paths.control, C3, switch_state=False)
    r.wait(lambda: any("always on" in e.message for e in notes(r, "switch", C3)), 5, "refusal noted")
    n = r.cycles()
    r.wait(lambda: r.cycles() >= n + 3)
    assert r.net.circles[C3].relay is True


def test_always_on_schedule_uploads_off_and_standby_slots_as_on(run) -> None:
    r = run("sim://?circles=3&seed=33&latency=0")
    days = [[0] * 96 for _ in range(7)]  # off all week …
    for q in range(0, 96, 2):
        days[3][q] = 5  # … with standby-killer slots
    write_schedules(
        r.config.paths.schedules,
        {"killer": NamedSchedule("killer", schedules.WeekSchedule.from_days(days))},
    )
    r.wait(lambda: r.cycles() >= 2)
    update_row(r.config.paths.control, C3, schedule="killer", schedule_state=True)
    r.wait(lambda: r.net.circles[C3].schedule_enabled, 8, "schedule enabled")
    assert all(v == schedules.ON for v in r.net.circles[C3].schedule_values)
    r.wait(lambda: any("uploaded as on" in e.message for e in notes(r, "schedule", C3)), 5, "stated")
    n = r.cycles()
    r.wait(lambda: r.cycles() >= n + 3)
    assert r.net.circles[C3].relay is True
    assert not any("switched on" in e.message for e in notes(r, "switch", C3)), "it flapped"


def test_set_control_validates_and_writes_the_row(run) -> None:
    r = run("sim://?circles=3&seed=34&latency=0")
    r.wait(lambda: r.cycles() >= 1)
    ok = result(r, r.engine.submit(E.SetControl(C2, (("name", "telly"), ("monitor", False)))))
    assert ok.ok, ok.message
    row = {x.mac: x for x in read_control(r.config.paths.control)}[C2]
    assert row.name == "telly" and row.monitor is False
    bad = result(r, r.engine.submit(E.SetControl(C2, (("monitor", "perhaps"),))))
    assert not bad.ok and "monitor must be yes or no" in bad.message
    bad = result(r, r.engine.submit(E.SetControl(C2, (("switch_state", False),))))
    assert not bad.ok and "cannot be set here" in bad.message
    assert {x.mac: x for x in read_control(r.config.paths.control)}[C2].monitor is False


def test_read_power_answers_in_data(run) -> None:
    r = run("sim://?circles=3&seed=35&latency=0")
    r.wait(lambda: r.cycles() >= 1)
    res = result(r, r.engine.submit(E.ReadPower(C1)))
    assert res.ok and res.data is not None
    assert isinstance(res.data["watts"], float) and res.data["mac"] == C1
    true = r.net.circles[C1].true_watts(r.net.now_ts())
    assert abs(res.data["watts"] - true) <= max(5.0, 0.1 * abs(true))
    res = result(r, r.engine.submit(E.ReadPower("000D6F00010000EE")))
    assert not res.ok and "unknown circle" in res.message


def test_read_power_recent_answers_from_the_latest_poll_without_asking(run) -> None:
    r = run("sim://?circles=3&seed=37&latency=0", interval=10)
    r.wait(lambda: (c := r.engine.snapshot().circle(C1)) is not None and c.watts is not None, 10)
    for _ in range(3):  # a slot may begin in between: then try again
        slots, asked = r.engine.ctx.polling.slots_done, r.net.requests_by_id["0012"]
        recent = result(r, r.engine.submit(E.ReadPower(C1, recent=True)))
        if r.engine.ctx.polling.slots_done == slots:
            break
    assert recent.ok and recent.data is not None and "latest poll" in recent.message
    assert r.net.requests_by_id["0012"] == asked, (
        "the circle was asked although the logger's reading is recent"
    )
    seen = r.engine.snapshot().circle(C1)
    assert seen is not None and recent.data["watts"] == seen.watts
    fresh = result(r, r.engine.submit(E.ReadPower(C1)))  # not `recent`: the circle is read now
    assert fresh.ok and "latest poll" not in fresh.message
    assert r.net.requests_by_id["0012"] > asked


def test_a_service_raising_is_logged_and_logging_goes_on(run) -> None:
    r = run("sim://?circles=3&seed=36&latency=0")
    r.wait(lambda: r.cycles() >= 1 and r.engine.snapshot().link.up)
    schedules_svc = r.engine.ctx.schedule_svc

    def broken() -> None:
        raise RuntimeError("injected fault")

    schedules_svc.check_offset = broken  # type: ignore[method-assign]
    r.wait(lambda: len(notes(r, "engine")) >= 2, 10, "errors logged")
    n = r.cycles()
    r.wait(lambda: r.cycles() >= n + 3, 10, "cycles go on")
    assert "injected fault" in notes(r, "engine")[0].message and notes(r, "engine")[0].level == "error"
    r.close()
    assert any(ev.kind == "engine" for ev in r.store().events(limit=500))
    assert len({ts for _, ts, _ in r.store().power_samples([C1])}) >= 4


def test_commands_from_many_threads_are_answered_once_on_the_owner_thread(run) -> None:
    r = run("sim://?circles=3&seed=37&latency=0")
    r.wait(lambda: r.cycles() >= 1 and r.engine.snapshot().link.up)
    ids: list[int] = []
    lock = threading.Lock()
    answered_on: list[threading.Thread] = []
    r.engine.add_listener(
        lambda e: answered_on.append(threading.current_thread()) if isinstance(e, E.CommandResult) else None
    )

    def send() -> None:
        for cmd in (E.ReadPower(C1), E.Switch(C3, False), E.ReadPower(C2), E.SetControl(C2, (("x", 1),))):
            cid = r.engine.submit(cmd)
            with lock:
                ids.append(cid)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r.wait(lambda: sum(isinstance(e, E.CommandResult) for e in list(r.events)) >= len(ids), 10, "answers")
    answers = [e for e in list(r.events) if isinstance(e, E.CommandResult)]
    assert sorted(a.command_id for a in answers) == sorted(ids)
    assert sum(a.ok for a in answers) == len(ids) // 2  # the reads; always-on and "x" refused
    assert set(answered_on) == {r.thread}, "commands ran outside the owner thread"


def test_a_removed_circle_can_join_again(tmp_path) -> None:
    """Removed from the Circle+'s table, a circle resets and asks to join; accepted, it is back."""
    r = Running(tmp_path, "sim://?circles=3&seed=71&latency=0")
    c2 = "000D6F0001000002"
    try:
        r.wait(lambda: c2 in {m for _i, m in r.engine.snapshot().node_table}, 15, "the node table read")
        cid = r.engine.submit(E.RemoveNode(c2))
        r.wait(lambda: any(isinstance(e, E.CommandResult) and e.command_id == cid and e.ok for e in r.events))
        r.wait(lambda: c2 not in {m for _i, m in r.engine.snapshot().node_table}, 5, "gone from the table")
        r.net.advertise(c2)  # its 0006 now rather than in 5 s
        r.wait(lambda: c2 in r.engine.snapshot().joining, 10, "asking to join")
        cid = r.engine.submit(E.JoinNode(c2))
        r.wait(lambda: any(isinstance(e, E.CommandResult) and e.command_id == cid and e.ok for e in r.events))
        r.wait(lambda: c2 in {m for _i, m in r.engine.snapshot().node_table}, 10, "back in the table")
        assert c2 not in r.engine.snapshot().joining
        r.wait(lambda: (c := r.engine.snapshot().circle(c2)) is not None and c.online, 10, "online again")
    finally:
        r.close()
