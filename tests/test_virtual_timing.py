"""The simulator's timing follows the real capture; its 8-s counter averages; bad URLs are refused."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import serial

from protocol import messages as M
from protocol import virtual
from protocol.frames import FrameDecoder, encode_frame
from protocol.virtual import timing
from protocol.virtual.network import BYTES_PER_SECOND

C1 = virtual.circle_mac(1)
NAS = virtual.circle_mac(4)  # draws ~30 W around the clock
ISSUE_ACK_MEDIAN_MS = 80.0  # issue 16: "about 80 ms to the ack"
ISSUE_REPLY_MEDIAN_MS = 35.0  # issue 16: "35 ms from ack to reply"


@pytest.fixture
def no_test_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Take away the fast default tests/conftest.py sets: what a user gets."""
    monkeypatch.delenv(timing.LATENCY_ENV, raising=False)
    yield


def open_raw(url: str) -> tuple[serial.SerialBase, virtual.VirtualNetwork]:
    virtual.forget(url)
    virtual.register()
    return serial.serial_for_url(url, timeout=0.2), virtual.network_for(url)


def wait_frame(ser: serial.SerialBase, dec: FrameDecoder, timeout: float = 5.0) -> tuple[float, M.Message]:
    """The next frame and when its last byte was read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fr in dec.feed(ser.read(1)):  # a byte at a time: the time is the frame's last byte
            return time.monotonic(), M.decode(fr.body)
    raise AssertionError("no frame within the timeout")


def test_default_is_the_capture_and_tests_get_the_fast_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(timing.LATENCY_ENV, "20")
    assert virtual.VirtualNetwork(circles=1).latency_ms == 20.0
    monkeypatch.delenv(timing.LATENCY_ENV)
    assert virtual.VirtualNetwork(circles=1).latency_ms == timing.NOMINAL_LATENCY_MS
    url = "sim://?circles=1&seed=3"
    virtual.forget(url)
    assert virtual.network_for(url).latency_ms == timing.NOMINAL_LATENCY_MS
    virtual.forget(url)
    monkeypatch.setenv(timing.LATENCY_ENV, "fast")
    with pytest.raises(ValueError, match="PWTUI_SIM_LATENCY: latency='fast'"):
        virtual.VirtualNetwork(circles=1)


def test_capture_tables_give_the_capture_figures() -> None:
    rng = random.Random(5)
    acks = [timing.CAPTURE_ACK.sample_ms(rng) for _ in range(20000)]
    replies = sorted(timing.CAPTURE_REPLY.sample_ms(rng) for _ in range(20000))
    assert statistics.median(acks) == pytest.approx(timing.CAPTURE_ACK_MEDIAN_MS, rel=0.05)
    assert statistics.mean(acks) == pytest.approx(timing.CAPTURE_ACK_MEAN_MS, rel=0.03)
    assert statistics.median(replies) == pytest.approx(timing.CAPTURE_REPLY_MEDIAN_MS, rel=0.05)
    assert replies[int(0.9 * len(replies))] == pytest.approx(timing.CAPTURE_REPLY_P90_MS, rel=0.05)
    assert 900 < replies[-1] <= 991.4  # the tail is there
    # what the capture says, as issue 16 quotes it
    capture_ack, capture_reply = timing.CAPTURE_ACK_MEDIAN_MS, timing.CAPTURE_REPLY_MEDIAN_MS
    assert capture_ack == pytest.approx(ISSUE_ACK_MEDIAN_MS, rel=0.05)
    assert capture_reply == pytest.approx(ISSUE_REPLY_MEDIAN_MS, rel=0.1)


def test_measured_delays_are_the_capture_draws(no_test_default: None) -> None:
    """One request at a time, as Source sends them: write → ack → reply, seen on the line.

    Each measured delay is the one the network drew from the capture's table, so the line
    adds nothing the capture's own measurement did not include; with the table's medians
    checked on 20,000 draws above, the simulator's medians are the capture's.  (The medians
    of 100 line samples alone would not do: the capture's acks are bimodal, fast ones up to
    53 ms at p45 and slow ones from 77 ms at p50, so a small sample's median jumps between.)
    """
    ser, net = open_raw("sim://?circles=2&seed=41")
    assert net.latency_ms == timing.NOMINAL_LATENCY_MS
    twin = random.Random()
    twin.setstate(net.timing.rng.getstate())  # the draws the network is about to make
    dec = FrameDecoder()
    acks: list[float] = []
    replies: list[float] = []
    drawn: list[tuple[float, float]] = []
    try:
        for _ in range(100):
            ser.write(encode_frame(M.encode(M.PowerRequest(mac=C1))))
            sent = time.monotonic()
            drawn.append((timing.CAPTURE_ACK.sample_ms(twin), timing.CAPTURE_REPLY.sample_ms(twin)))
            t_ack, ack = wait_frame(ser, dec)
            t_reply, reply = wait_frame(ser, dec)
            assert isinstance(ack, M.Ack) and isinstance(reply, M.PowerResponse)
            acks.append((t_ack - sent) * 1000)
            replies.append((t_reply - t_ack) * 1000)
    finally:
        ser.close()
    # a reply can never beat its own wire time (5.4 ms for a 0013)
    wire_ms = 1000 * len(encode_frame(M.encode(reply))) / BYTES_PER_SECOND
    ack_err = [m - d for m, (d, _) in zip(acks, drawn, strict=True)]
    reply_err = [m - max(d, wire_ms) for m, (_, d) in zip(replies, drawn, strict=True)]
    assert statistics.median(ack_err) == pytest.approx(0, abs=3), ack_err
    assert statistics.median(reply_err) == pytest.approx(0, abs=3), reply_err
    # each measured delay is its draw within 15 ms, but for a few a loaded machine delays
    assert sum(abs(e) < 15 for e in ack_err + reply_err) >= 180
    ack_median, reply_median = statistics.median(acks), statistics.median(replies)
    drawn_ack, drawn_reply = statistics.median(d for d, _ in drawn), statistics.median(d for _, d in drawn)
    # the issue's bound; the per-draw errors above are the tight check (bimodal acks make the
    # median of 100 jump between modes by a few ms under load)
    assert ack_median == pytest.approx(drawn_ack, rel=0.2)
    assert reply_median == pytest.approx(drawn_reply, rel=0.2)
    assert max(replies) > 150, "the capture's tail is missing"


def test_a_seed_replays_the_same_timing() -> None:
    a, b, c = (virtual.VirtualNetwork(circles=1, seed=s, latency_ms=80) for s in (7, 7, 8))
    draws = [[(n.timing.ack_s(), n.timing.reply_s()) for _ in range(50)] for n in (a, b, c)]
    assert draws[0] == draws[1] and draws[0] != draws[2]
    fast = virtual.VirtualNetwork(circles=1, seed=7, latency_ms=20)
    assert fast.timing.ack_s() == pytest.approx(draws[0][0][0] / 4)
    assert virtual.VirtualNetwork(circles=1, seed=7, latency_ms=0).timing.reply_s() == 0.0


def test_acks_queue_behind_each_other() -> None:
    """Eight requests written at once: each ack waits for the one before it."""
    ser, net = open_raw("sim://?circles=2&seed=43&latency=80")
    twin = random.Random()
    twin.setstate(net.timing.rng.getstate())  # the draws the network is about to make
    request = encode_frame(M.encode(M.PowerRequest(mac=C1)))
    wires = (len(request) + len(encode_frame("0000000100C1"))) / BYTES_PER_SECOND
    expected_last = 0.0
    longest_single = 0.0
    for _ in range(8):
        ack_ms = timing.CAPTURE_ACK.sample_ms(twin)
        timing.CAPTURE_REPLY.sample_ms(twin)
        expected_last += max(0.0, ack_ms / 1000 - wires)
        longest_single = max(longest_single, ack_ms / 1000)
    assert expected_last > 1.5 * longest_single  # so the check below tells queueing apart
    dec = FrameDecoder()
    try:
        ser.write(request * 8)
        sent = time.monotonic()
        ack_times = []
        while len(ack_times) < 8:
            t, msg = wait_frame(ser, dec)
            if isinstance(msg, M.Ack):
                ack_times.append(t - sent)
    finally:
        ser.close()
    assert ack_times[-1] >= 0.9 * expected_last
    assert ack_times[-1] < expected_last + 0.3


def test_eight_second_counter_is_the_mean_of_the_last_eight_seconds() -> None:
    start = datetime(2026, 6, 15, 10, 7, tzinfo=UTC)
    ser, net = open_raw("sim://?circles=4&seed=44&latency=0&speed=10&start=2026-06-15T10:07:00Z")
    dec = FrameDecoder()
    circle = net.circles[NAS]
    cal = circle.calibration
    load = circle.load.watts(int(start.timestamp() // 60))
    assert load > 20

    def ask(msg: M.Message) -> M.Message:
        ser.write(encode_frame(M.encode(msg)))
        wait_frame(ser, dec)  # the ack
        return wait_frame(ser, dec)[1]

    def watts_8s() -> float:
        power = ask(M.PowerRequest(mac=NAS))
        assert isinstance(power, M.PowerResponse)
        return cal.watts(power.pulses_8s, 8)

    def wait_sim(t: float) -> None:
        deadline = time.monotonic() + 10
        while net.now_ts() < t:
            assert time.monotonic() < deadline
            time.sleep(0.01)

    try:
        wait_sim(start.timestamp() + 9)  # a full 8 s since power-on, all in one minute
        assert watts_8s() == pytest.approx(load, rel=0.02)
        ask(M.SwitchRequest(mac=NAS, relay=False))
        off_at = circle.relay_history[-1][0]
        just_after = watts_8s()
        assert just_after > 0.7 * load, "the switch showed at once in the 8-s counter"
        wait_sim(off_at + 4)
        half = watts_8s()
        elapsed = net.now_ts() - off_at
        assert half == pytest.approx(load * (8 - elapsed) / 8, abs=0.12 * load)
        wait_sim(off_at + 8.05)
        assert watts_8s() == 0.0
    finally:
        ser.close()


@pytest.mark.parametrize(
    ("faults", "says"),
    [
        ("drop=2", "drop=2'.*share of requests, 0 to 1"),
        ("corrupt=-0.1", "corrupt=-0.1'.*0 to 1"),
        ("gremlins=1", "unknown fault 'gremlins'"),
        ("drop=lots", "drop=lots'.*not a number"),
        ("late=nan", "late=nan'.*not a finite number"),
        ("e1=-1", "e1=-1'.*seconds"),
        ("vanish=0.5", "vanish=0.5'.*period"),
    ],
)
def test_bad_faults_are_refused_naming_the_parameter(faults: str, says: str) -> None:
    url = f"sim://?circles=1&faults={faults}"
    virtual.forget(url)
    virtual.register()
    with pytest.raises(serial.SerialException, match=f"faults: .*{says}"):
        serial.serial_for_url(url)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("latency=-5", "latency='-5' must be a number of milliseconds"),
        ("latency=fast", "latency='fast' is not a number"),
        ("latency=inf", "latency='inf' must be"),
        ("history=-1", "history='-1' must be ≥ 0"),
        ("speed=nan", "speed='nan' is not a finite number"),
        ("start=yesterday", "start='yesterday' is not an ISO date"),
    ],
)
def test_bad_url_values_are_refused_naming_the_parameter(query: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        virtual.network_for(f"sim://?circles=1&{query}")
