"""Every slot gets a sample: offline circles never delay the others, samples on the grid, a fast start."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_engine import C1, C2, Running, engine_runs

from protocol import virtual
from pwtui import events as E
from pwtui.controlfile import update_row

OFFLINE = [virtual.circle_mac(i) for i in (4, 5, 6)]
ONLINE = [virtual.circle_mac(i) for i in (1, 2, 3, 7, 8)]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    yield from engine_runs(tmp_path)


def test_three_of_eight_offline_do_not_delay_the_others(run) -> None:
    def unplug(net: virtual.VirtualNetwork) -> None:
        for mac in OFFLINE:
            net.set_online(mac, False)

    r = run("sim://?circles=8&seed=41&latency=1", prepare=unplug, interval=2)  # latency>0: 00E1 after 3 s
    r.wait(
        lambda: all((c := r.engine.snapshot().circle(m)) is not None and c.online for m in ONLINE),
        15,
        "online circles polled",
    )
    r.wait(lambda: all(any(e.mac == m for e in r.events if isinstance(e, E.EngineLog)) for m in OFFLINE), 15)
    start = int(time.time()) + 2
    time.sleep(15)  # wall time: every 2-s slot in it should hold a sample of each online circle
    end = int(time.time()) - 2
    r.close()
    st = r.store()
    slots = len(range(start + start % 2, end, 2))
    for mac in ONLINE:
        got = sorted({ts for _, ts, _ in st.power_samples([mac], start, end)})
        assert len(got) >= slots - 1, f"{mac}: {len(got)} samples in {slots} slots"
        assert all(b - a <= 4 for a, b in itertools.pairwise(got)), f"{mac}: a gap {got}"
    for mac in OFFLINE:
        assert not list(st.power_samples([mac]))


def test_circle_back_online_is_reinitialised_within_one_retry(run) -> None:
    r = run("sim://?circles=3&seed=42&latency=1&history=1")
    r.wait(lambda: r.cycles() >= 2 and (c := r.engine.snapshot().circle(C2)) is not None and c.online)
    r.net.set_online(C2, False)
    r.wait(lambda: not r.engine.snapshot().circle(C2).online, 15, "offline noticed")  # type: ignore[union-attr]
    update_row(r.config.paths.control, C2, switch_state=False)  # changed while it was away
    time.sleep(1.0)
    assert r.net.circles[C2].relay is True
    r.net.set_online(C2, True)
    t0 = time.monotonic()
    r.wait(lambda: r.engine.snapshot().circle(C2).online, 15, "back online")  # type: ignore[union-attr]
    assert time.monotonic() - t0 <= 13.5, "not back within one retry (10 s ± 20 %)"
    r.wait(lambda: r.net.circles[C2].relay is False, 5, "its control row re-applied")
    assert any(isinstance(e, E.EngineLog) and e.kind == "online" and e.mac == C2 for e in r.events)


def test_samples_sit_on_the_grid_and_every_slot_is_kept(run) -> None:
    r = run("sim://?circles=3&seed=43&latency=0", interval=2)
    r.wait(lambda: r.cycles() >= 6, 20, "six cycles")
    r.close()
    samples = list(r.store().power_samples([C1]))
    stamps = [ts for _, ts, _ in samples]
    assert stamps and all(ts % 2 == 0 for ts in stamps), "samples off the 2-s grid"
    assert all(b - a == 2 for a, b in itertools.pairwise(stamps)), f"a slot was skipped: {stamps}"


def test_first_sample_within_one_cycle_and_from_the_cached_node_table(tmp_path) -> None:
    url = "sim://?circles=4&seed=44&latency=0&history=1"
    c4 = virtual.circle_mac(4)
    first = Running(tmp_path, url, interval=2)
    first.wait(lambda: (c := first.engine.snapshot().circle(c4)) is not None and c.online, 15, "C4 found")
    first.close()
    # the Circle+ does not answer now: its table cannot be read, C4 is known from the store only
    cp = first.net.circles[first.net.circle_plus_mac]
    again = Running(tmp_path, url, interval=2, keep=True, prepare=lambda net: setattr(cp, "online", False))

    def live(mac: str) -> int | None:
        return next(
            (
                i
                for i, e in enumerate(list(again.events))
                if isinstance(e, E.CycleUpdate)
                and (c := e.snapshot.circle(mac)) is not None
                and c.watts is not None
            ),
            None,
        )

    again.wait(lambda: live(C1) is not None and live(c4) is not None, 10, "C1 and C4 read")
    again.close()
    up = next(i for i, e in enumerate(again.events) if isinstance(e, E.LinkChanged) and e.link.up)
    for mac in (C1, c4):
        i = live(mac)
        assert i is not None
        assert again.times[i] - again.times[up] <= 2.5, (
            f"{mac}: first sample later than one cycle after link-up"
        )
    assert not again.engine.snapshot().node_table


def test_every_slot_gets_a_sample_under_faults(run) -> None:
    r = run("sim://?circles=4&seed=45&latency=1&faults=drop=0.05,corrupt=0.01")  # 00E1 after 3 s
    r.wait(lambda: r.cycles() >= 3, 20, "three cycles")
    start = int(time.time()) + 1
    time.sleep(22)
    end = int(time.time()) - 6  # replies retried near the end may still be on their way
    r.close()
    st = r.store()
    macs = [C1, C2, virtual.circle_mac(3), virtual.circle_mac(4)]
    kept = sum(len({ts for _, ts, _ in st.power_samples([m], start, end)}) for m in macs)
    slots = (end - start) * len(macs)
    assert kept >= 0.95 * slots, f"{kept} of {slots} slots kept"


def test_more_unplugged_circles_than_the_stick_window_do_not_stall_the_start(run) -> None:
    unplugged = [virtual.circle_mac(i) for i in range(1, 10)]  # nine, asked first: more than the window

    def unplug(net: virtual.VirtualNetwork) -> None:
        for mac in unplugged:
            net.set_online(mac, False)

    # 00E1 after 3 s (latency>0) comes before the reply timeout (10 s, the default)
    r = run("sim://?circles=16&seed=46&latency=1", prepare=unplug, timeout=10.0)
    online = [virtual.circle_mac(i) for i in range(10, 17)]
    r.wait(
        lambda: all((c := r.engine.snapshot().circle(m)) is not None and c.online for m in online),
        45,  # nine unplugged circles asked first take 3 × 3 s each, four at a time
        "the circles that answer online",
    )


def test_fault_soak_a_simulated_day(run) -> None:
    """A simulated day at 3600x with every fault on: no interval lost or doubled, energy true,
    and the 1-s slots of the wall clock kept (the full-length soak is in `make bench`)."""
    faults = "drop=0.05,corrupt=0.01,dup=0.02,late=0.02,chatter"
    r = run(f"sim://?circles=3&seed=47&latency=0&speed=3600&history=1&faults={faults}")
    r.wait(lambda: r.cycles() >= 3, 20, "three cycles")
    day0 = r.net.now_ts()
    start = int(time.time()) + 1
    r.wait(lambda: r.net.now_ts() - day0 >= 86400, 60, "a simulated day")
    end = int(time.time()) - 3
    r.wait(
        lambda: all(
            (c := r.engine.snapshot().circle(m)) is not None and c.history_done >= c.history_total > 0
            for m in (C1, C2)
        ),
        30,
        "history caught up",
    )
    r.close()
    st = r.store()
    for mac in (C1, C2):
        ivs = [i for i in st.intervals([mac]) if not i.production]
        ends = [i.end_ts for i in ivs]
        assert len(ends) >= 24, f"{mac}: only {len(ends)} hours stored"
        assert ends == sorted(set(ends)), "duplicated intervals"
        assert all(b - a == 3600 for a, b in itertools.pairwise(ends)), f"{mac}: an hour lost"
        true = sum(
            r.net.true_energy_wh(
                mac, datetime.fromtimestamp(i.start_ts, UTC), datetime.fromtimestamp(i.end_ts, UTC)
            )
            for i in ivs
        )
        assert sum(i.wh for i in ivs) == pytest.approx(true, rel=0.01)
    macs = [C1, C2, virtual.circle_mac(3)]
    kept = sum(len({ts for _, ts, _ in st.power_samples([m], start, end)}) for m in macs)
    slots = (end - start) * len(macs)
    assert kept >= 0.95 * slots, f"{kept} of {slots} slots kept"


def test_rows_appear_as_first_contacts_answer_not_at_the_end_of_the_slot(run) -> None:
    # 24 configured circles at the capture's timing: their first contacts (calibration and
    # power, a few at a time) take seconds, all within one 10-s slot
    extra = "".join(f'[[circle]]\nmac = "{virtual.circle_mac(k)}"\n' for k in range(4, 24))
    r = run("sim://?circles=23&seed=47&latency=80", interval=10, extra=extra)

    def first_live() -> int | None:
        return next(
            (
                i
                for i, e in enumerate(list(r.events))
                if isinstance(e, E.CycleUpdate) and any(c.watts is not None for c in e.snapshot.circles)
            ),
            None,
        )

    r.wait(lambda: first_live() is not None, 15, "a first reading")
    i = first_live()
    assert i is not None
    up = next(k for k, e in enumerate(r.events) if isinstance(e, E.LinkChanged) and e.link.up)
    assert r.times[i] - r.times[up] <= 1.5, "the first rows waited for the slot to end"
    update = r.events[i]
    assert isinstance(update, E.CycleUpdate)
    live = sum(c.watts is not None for c in update.snapshot.circles)
    assert live < 24, "all first contacts were done before any row was shown"


def test_circles_found_in_the_node_table_are_polled_before_the_table_is_read_to_the_end(tmp_path) -> None:
    # a first start: only the Circle+ is known; its 64-slot table takes seconds at the capture's
    # timing, and each circle found in it is asked as soon as its slot answers
    url = "sim://?circles=12&seed=48&latency=80"
    virtual.forget(url)
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(f'[stick]\nport = "{url}"\n[logging]\npower_interval = 10\n')
    from pwtui.config import load_config
    from pwtui.engine import Engine

    events: list[E.Event] = []
    engine = Engine(load_config(cfg), on_event=events.append)
    stop = __import__("threading").Event()
    th = __import__("threading").Thread(target=engine.run, args=(stop,), daemon=True)
    th.start()
    try:

        def early() -> bool:
            return any(
                isinstance(e, E.CycleUpdate)
                and not e.snapshot.node_table
                and any(c.watts is not None and c.mac != virtual.CIRCLE_PLUS_MAC for c in e.snapshot.circles)
                for e in list(events)
            )

        def table() -> bool:
            return len(engine.snapshot().node_table) == 12

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not table():
            time.sleep(0.05)
        assert table(), "the node table was not read"
        assert early(), "no circle was polled before the whole table was read"
    finally:
        stop.set()
        th.join(5)


def test_every_slot_from_a_circles_first_sample_on_is_kept_while_first_contacts_go_on(run) -> None:
    # 16 configured circles at the capture's timing: first contacts take several seconds, and
    # one asked in a slot may answer in the next, which began without it
    extra = "".join(f'[[circle]]\nmac = "{virtual.circle_mac(k)}"\n' for k in range(4, 16))
    r = run("sim://?circles=15&seed=46&latency=80", interval=3, extra=extra)
    r.wait(lambda: r.cycles() >= 1, 10, "a first cycle")
    start = time.time()
    r.wait(lambda: time.time() > start + 15, 20, "fifteen seconds")
    r.close()
    st = r.store()
    end = int(start + 15) // 3 * 3 - 3
    lost = {}
    for k in range(1, 16):
        mac = virtual.circle_mac(k)
        stamps = {ts for _, ts, _ in st.power_samples([mac])}
        assert stamps, f"{mac} never read"
        missing = sorted(set(range(min(stamps), end, 3)) - stamps)
        if missing:
            lost[mac] = missing
    assert not lost, f"slots without a sample after the circle's first one: {lost}"
