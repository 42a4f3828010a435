"""The Stick driver and Circle API against the simulator, with and without faults."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest
from waiting import wait_for

from protocol import messages as M
from protocol import schedules, virtual
from protocol.circle import Circle, CirclePlus, poll_power
from protocol.errors import LinkDown, LocalProtocolError, NodeTimeout, NotAStick, PortError
from protocol.stick import Priority, Stick

MACS = [virtual.circle_mac(i) for i in range(1, 9)]


def fresh(url: str) -> str:
    virtual.forget(url)
    return url


@pytest.fixture
def stick():
    s = Stick(fresh("sim://?circles=8&seed=2&latency=0&history=1"), timeout=2.0)
    s.open()
    yield s
    s.close()


def test_open_reports_stick_and_circle_plus(stick: Stick) -> None:
    assert stick.info.mac == virtual.STICK_MAC
    assert stick.info.circle_plus_mac == virtual.CIRCLE_PLUS_MAC and stick.info.network_online


def test_every_reply_belongs_to_its_request(stick: Stick) -> None:
    futs = [(m, stick.submit(M.InfoRequest(mac=m))) for m in MACS * 4]
    for mac, f in futs:
        r = f.result(10)
        assert isinstance(r, M.InfoResponse) and r.mac == mac


def test_power_matches_simulator(stick: Stick) -> None:
    net = virtual.network_for(stick.port)
    readings = poll_power([Circle(stick, m) for m in MACS])
    for mac in MACS:
        r = readings[mac]
        assert not isinstance(r, Exception)
        true = net.circles[mac].true_watts(net.now_ts())
        assert r.watts_8s == pytest.approx(true, abs=max(0.6, abs(true) * 0.005))


def test_switch_and_log_range(stick: Stick) -> None:
    net = virtual.network_for(stick.port)
    c = Circle(stick, MACS[3])
    assert c.switch(False) is False and net.circles[MACS[3]].relay is False
    assert c.switch(True) is True and net.circles[MACS[3]].relay is True
    block = c.info().log_block
    recs = c.log_range(block - 3, block)
    assert len(recs) >= 12
    for r in recs:
        true = net.true_energy_wh(r.mac, r.end - units_timedelta(r.minutes), r.end)
        assert r.wh == pytest.approx(true, rel=0.005, abs=0.01)
        assert r.minutes == 60 and not r.production


def units_timedelta(minutes: int):
    from datetime import timedelta

    return timedelta(minutes=minutes)


def test_schedule_upload_skipped_when_crc_matches(stick: Stick) -> None:
    c = Circle(stick, MACS[0])
    values = [schedules.ON] * 600 + [schedules.OFF] * 72
    assert c.upload_schedule(values) is True
    assert virtual.network_for(stick.port).circles[MACS[0]].schedule_crc == schedules.schedule_crc(values)
    assert c.upload_schedule(values) is False
    assert c.schedule_enable(True) is True and c.schedule_enable(False) is False


def test_clock_set_uses_utc_and_keeps_log_pointer(stick: Stick) -> None:
    c = Circle(stick, MACS[1])
    before = c.info().log_address
    c.set_clock()
    assert abs(c.clock().drift_s) < 2
    assert c.info().log_address == before


def test_node_table_and_rtc(stick: Stick) -> None:
    cp = CirclePlus(stick, stick.info.circle_plus_mac)
    assert [m for _, m in cp.node_table()] == MACS
    cp.set_rtc()
    assert cp.rtc() is not None


def test_unreachable_circle_times_out(stick: Stick) -> None:
    with pytest.raises(NodeTimeout):
        Circle(stick, "000D6F00000000AA").info()


def test_user_request_overtakes_background_catch_up() -> None:
    s = Stick(fresh("sim://?circles=2&seed=4&latency=40&history=2"), timeout=5.0, window=2)
    s.open()
    try:
        c = Circle(s, MACS[0])
        c.calibration()
        bulk = [c.log_block_future(b, Priority.BACKGROUND) for b in range(60)]
        time.sleep(0.05)
        t0 = time.monotonic()
        s.call(M.SwitchRequest(mac=MACS[1], relay=False), Priority.USER)
        user_latency = time.monotonic() - t0
        done_before = sum(f.done() for f in bulk)
        assert done_before < 30, "the switch waited behind the background reads"
        assert user_latency < 1.0
        for f in bulk:
            f.result(30)
    finally:
        s.close()


@pytest.mark.parametrize("faults", ["drop=0.05,corrupt=0.05,dup=0.05,chatter=0.3,late=0.05,e1=0.2"])
def test_faulty_line_no_request_lost_or_mixed(faults: str) -> None:
    s = Stick(fresh(f"sim://?circles=8&seed=5&latency=5&faults={faults}"), timeout=1.0, retries=4)
    s.open()
    try:
        futs: list[tuple[str, Future]] = []
        for _ in range(6):
            futs += [(m, s.submit(M.InfoRequest(mac=m))) for m in MACS]
        ok = 0
        lost: list[str] = []
        for mac, f in futs:
            try:
                r = f.result(60)
            except NodeTimeout as exc:
                lost.append(str(exc))
                continue
            assert isinstance(r, M.InfoResponse) and r.mac == mac
            ok += 1
        assert ok >= len(futs) * 0.95, f"{ok}/{len(futs)} answered; {s.stats}; lost: {lost}"
        assert s.bad_frames > 0  # corruption was seen and dropped, never delivered
    finally:
        s.close()


def test_stick_vanishing_mid_poll_is_reported_and_recovered() -> None:
    url = fresh("sim://?circles=8&seed=6&latency=20")
    events: list[bool] = []
    s = Stick(url, timeout=2.0, on_link=events.append)
    s.open()
    try:
        net = virtual.network_for(url)
        futs = [s.submit(M.InfoRequest(mac=m)) for m in MACS]
        net.vanish()
        for f in futs:
            try:
                f.result(5)
            except LinkDown:
                pass
        assert any(isinstance(f.exception(), LinkDown) for f in futs if f.done())
        assert False in events and not s.link_up
        with pytest.raises(LinkDown):
            s.submit(M.PingRequest(mac=MACS[0])).result(1)
        net.restore()
        deadline = time.monotonic() + 10
        while not s.link_up and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.link_up and events[-1] is True
        assert isinstance(s.call(M.InfoRequest(mac=MACS[0])), M.InfoResponse)
    finally:
        t0 = time.monotonic()
        s.close()
        assert time.monotonic() - t0 < 1.5


def test_unsolicited_messages_reach_subscriber() -> None:
    url = fresh("sim://?circles=1&latency=0")
    seen: list[M.Message] = []
    s = Stick(url, on_unsolicited=seen.append)
    s.open()
    try:
        virtual.network_for(url).advertise("000D6F00DEADBEEF")
        deadline = time.monotonic() + 3
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen and isinstance(seen[0], M.AdvertiseResponse) and seen[0].mac == "000D6F00DEADBEEF"
    finally:
        s.close()


def test_comm_log_reads_back_with_decode(tmp_path) -> None:
    from pwtui import decode

    log = tmp_path / "comm.log"
    s = Stick(fresh("sim://?circles=1&latency=0"), comm_log=log)
    s.open()
    Circle(s, MACS[0]).info()
    s.close()
    lines = log.read_text().splitlines()
    assert len(lines) >= 5
    decoded = [decode.decode_item(ln)[0] for ln in lines]
    assert all(d["crc_ok"] for d in decoded)
    assert [d["id"] for d in decoded][:3] == ["000A", "0000", "0011"]


def test_port_errors_are_readable() -> None:
    with pytest.raises(PortError, match="no such port"):
        Stick("/dev/ttyUSB_missing").open()


def test_something_that_is_not_a_stick(tmp_path) -> None:
    # a loop:// port echoes what we write: something answers, but not a stick
    with pytest.raises(NotAStick):
        Stick("loop://", timeout=0.3, retries=0, ack_timeout=0.2).open(init_timeout=0.3)


@pytest.mark.parametrize(
    "text,needle",
    [
        (
            "[Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0'",
            "dialout",
        ),
        ("[Errno 16] could not open port /dev/ttyUSB0: [Errno 16] Device or resource busy", "busy"),
        ("could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource temporarily unavailable", "busy"),
        ("[Errno 2] could not open port /dev/ttyUSB9: [Errno 2] No such file or directory", "plugged in"),
        ("Could not open port socket://pi:3333: [Errno 111] Connection refused", "ser2net"),
    ],
)
def test_port_error_messages_say_how_to_fix(text: str, needle: str) -> None:
    from protocol.errors import port_error_text

    msg = port_error_text("/dev/ttyUSB0", Exception(text))
    assert needle in msg and "\n" not in msg


@pytest.mark.parametrize("port", ["/dev/ttyUSB_missing", "loop://"])
def test_failed_open_leaves_no_thread_behind(port: str) -> None:
    before = set(threading.enumerate())
    with pytest.raises((PortError, NotAStick)):
        Stick(port, timeout=0.3, retries=0, ack_timeout=0.2).open(init_timeout=0.3)
    assert set(threading.enumerate()) - before == set()


def test_close_is_quick_and_fails_what_is_pending() -> None:
    s = Stick(fresh("sim://?circles=8&seed=7&latency=300"), timeout=5.0, window=2)
    s.open()
    futs = [s.submit(M.InfoRequest(mac=m)) for m in MACS * 3]
    deadline = time.monotonic() + 5
    while s.stats.frames_out < 3 and time.monotonic() < deadline:  # some in flight, most queued
        time.sleep(0.005)
    loop = s._thread
    assert loop is not None
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 1.0
    assert all(f.done() for f in futs)
    # on a loaded machine the loop may outlive close() by a moment (its port is closed under it)
    wait_for(lambda: not loop.is_alive(), 5, "the stick loop to end")
    assert all(isinstance(f.exception(), LinkDown) for f in futs[2:])
    with pytest.raises(LinkDown):
        s.submit(M.PingRequest(mac=MACS[0])).result(1)


@pytest.mark.parametrize("how", ["stick.cancel", "future.cancel", "circle future.cancel"])
def test_cancelled_request_frees_its_window_slot(how: str) -> None:
    # window 1: a request to a missing circle would hold the only slot until its 00E1 (5 s)
    s = Stick(fresh("sim://?circles=2&seed=8&latency=0&faults=e1=5"), timeout=30.0, window=1, retries=0)
    s.open()
    try:
        missing = "000D6F00000000AA"
        lost: Future[object]
        if how == "circle future.cancel":  # a future chained by the Circle API
            lost = Circle(s, missing).info_future()
        else:
            lost = s.submit(M.InfoRequest(mac=missing))
        deadline = time.monotonic() + 5
        while s.stats.frames_in < 3 and time.monotonic() < deadline:  # 000A ack+reply, its ack
            time.sleep(0.005)
        if how == "stick.cancel":
            s.cancel(lost)  # type: ignore[arg-type]
        else:
            assert lost.cancel()
        t0 = time.monotonic()
        assert isinstance(s.call(M.InfoRequest(mac=MACS[0])), M.InfoResponse)
        assert time.monotonic() - t0 < 1.5
        assert lost.cancelled() and s.stats.cancelled == 1
    finally:
        s.close()


def test_lone_schedule_request_is_refused_at_once(stick: Stick) -> None:
    with pytest.raises(LocalProtocolError, match="submit_all"):
        stick.submit(schedules.buffer_requests([schedules.ON] * 672)[0])


def test_concurrent_schedule_uploads_do_not_mix_buffers(stick: Stick) -> None:
    # a user-priority upload starts while a background one is half-way through the buffer:
    # it must wait, not jump the queue and overwrite the stick's one buffer
    net = virtual.network_for(stick.port)
    plans = {
        MACS[0]: ([schedules.ON] * 672, Priority.BACKGROUND),
        MACS[1]: ([schedules.OFF] * 336 + [schedules.ON] * 336, Priority.USER),
    }
    errors: list[BaseException] = []

    def upload(mac: str) -> None:
        values, priority = plans[mac]
        try:
            Circle(stick, mac).upload_schedule(values, force=True, priority=priority)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(m,)) for m in plans]
    start = stick.stats.frames_out
    threads[0].start()
    deadline = time.monotonic() + 10
    while stick.stats.frames_out < start + 20 and time.monotonic() < deadline:
        time.sleep(0.002)
    threads[1].start()
    for t in threads:
        t.join(60)
    assert errors == []
    for mac, (values, _) in plans.items():
        assert net.circles[mac].schedule_crc == schedules.schedule_crc(values)


def test_idle_serial_port_is_woken_for_a_new_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # a real serial port (here a pty) waits in read(); a request must not wait that read out
    import protocol.stick
    from protocol.virtual.transports import PtyBridge

    monkeypatch.setattr(protocol.stick, "READ_TIMEOUT", 5.0)
    bridge = PtyBridge(virtual.VirtualNetwork(circles=2, latency_ms=0))
    s = Stick(bridge.path, timeout=2.0)
    try:
        s.open()
        t0 = time.monotonic()
        for _ in range(4):  # each call finds the loop back in a 5-s read
            assert isinstance(s.call(M.InfoRequest(mac=MACS[0])), M.InfoResponse)
        assert time.monotonic() - t0 < 2.0
    finally:
        s.close()
        bridge.close()


def test_bad_request_fails_its_caller_and_the_stick_goes_on(stick: Stick) -> None:
    with pytest.raises(LocalProtocolError, match="encode"):
        stick.submit(M.PowerRequest(mac="not a mac"))
    with pytest.raises(LocalProtocolError, match="timeout"):
        stick.submit(M.InfoRequest(mac=MACS[0]), timeout=0).result(5)
    assert isinstance(stick.call(M.InfoRequest(mac=MACS[0])), M.InfoResponse)
    assert stick.link_up


def test_chained_futures_cancel_both_ways() -> None:
    from protocol.circle import then

    inner: Future[int] = Future()
    outer = then(inner, str)
    assert outer.cancel() and inner.cancelled(), "giving up on the result frees the request"
    inner2: Future[int] = Future()
    outer2 = then(inner2, str)
    assert inner2.cancel() and outer2.cancelled()
    inner3: Future[int] = Future()
    outer3 = then(inner3, str)
    inner3.set_result(7)
    assert outer3.result(0) == "7"
