"""The simulator answers like the devices of PROTOCOL.md, checked with the protocol core."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import serial

from protocol import messages as M
from protocol import schedules, units, virtual
from protocol.fields import LogAddress
from protocol.frames import FrameDecoder, encode_frame

START = datetime(2026, 6, 15, 10, 7, tzinfo=UTC)  # a sunny Monday morning


def wait_until(ok: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition in short ticks (no fixed sleep), failing after `timeout`."""
    tick = threading.Event()
    end = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        tick.wait(0.01)


class Port:
    """A plain pyserial client speaking raw frames to sim://."""

    def __init__(self, url: str) -> None:
        virtual.forget(url)
        virtual.register()
        self.url = url
        self.ser = serial.serial_for_url(url, timeout=0.05)
        self.net = virtual.network_for(url)
        self.dec = FrameDecoder()
        self.backlog: list[M.Message] = []

    def send(self, msg: M.Message | bytes) -> None:
        self.ser.write(msg if isinstance(msg, bytes) else encode_frame(M.encode(msg)))

    def receive(self, n: int, wait: float = 2.0) -> list[M.Message]:
        out = self.backlog[:n]
        self.backlog = self.backlog[n:]
        deadline = time.monotonic() + wait
        while len(out) < n and time.monotonic() < deadline:
            for fr in self.dec.feed(self.ser.read(256)):
                out.append(M.decode(fr.body))
        self.backlog.extend(out[n:])
        return out[:n]

    def ask(self, msg: M.Message, n: int = 2) -> list[M.Message]:
        self.send(msg)
        return self.receive(n)

    def close(self) -> None:
        self.ser.close()


@pytest.fixture
def port():
    p = Port("sim://?circles=8&seed=3&latency=0&history=2&start=2026-06-15T10:07:00Z")
    yield p
    p.close()


C1 = virtual.circle_mac(1)
SOLAR = virtual.circle_mac(6)


def test_init_long_form_and_sequence_numbers(port: Port) -> None:
    ack, resp = port.ask(M.StickInitRequest())
    assert isinstance(ack, M.Ack) and ack.status == M.ACCEPTED
    assert isinstance(resp, M.StickInitResponse) and resp.seq == ack.seq
    assert resp.mac == virtual.STICK_MAC and resp.network_online
    assert resp.circle_plus_mac == virtual.CIRCLE_PLUS_MAC
    ack2, _ = port.ask(M.PingRequest(mac=C1))
    assert ack2.seq == (ack.seq + 1) & 0xFFFF


def test_sequence_wraps_and_skips_reserved(port: Port) -> None:
    port.net._seq = 0xFFFB
    seqs = [port.ask(M.PingRequest(mac=C1))[0].seq for _ in range(3)]
    assert seqs == [0xFFFC, 0x0000, 0x0001]


def test_bad_crc_gets_00c2_and_unknown_id_c1_then_e1(port: Port) -> None:
    port.send(b"\x05\x05\x03\x030012" + C1.encode() + b"0000\r\n")
    (ack,) = port.receive(1)
    assert ack.status == M.CRC_ERROR
    port.send(encode_frame("AA77"))
    a, b = port.receive(2)
    assert (a.status, b.status) == (M.ACCEPTED, M.TIMEOUT) and a.seq == b.seq


def test_offline_circle_gets_00e1(port: Port) -> None:
    port.net.set_online(C1, False)
    a, b = port.ask(M.PowerRequest(mac=C1))
    assert b.status == M.TIMEOUT and b.seq == a.seq


def test_calibrated_watts_match_true_watts(port: Port) -> None:
    for i in range(1, 9):
        mac = virtual.circle_mac(i)
        _, cal = port.ask(M.CalibrationRequest(mac=mac))
        _, power = port.ask(M.PowerRequest(mac=mac))
        true = port.net.circles[mac].true_watts(port.net.now_ts())
        got = cal.calibration.watts(power.pulses_8s, 8)
        if abs(true) > 50:  # 8 s pulse quantisation dominates tiny loads
            assert got == pytest.approx(true, rel=0.005), mac
        else:
            assert abs(got - true) < 0.5


def test_solar_produces_negative_power(port: Port) -> None:
    _, cal = port.ask(M.CalibrationRequest(mac=SOLAR))
    _, power = port.ask(M.PowerRequest(mac=SOLAR))
    assert power.pulses_8s < 0 and cal.calibration.watts(power.pulses_8s, 8) < -100


def test_switch_confirms_and_reads_zero() -> None:
    # 1000× simulated time: the 8 s counter (an average over its span on a real circle)
    # settles within milliseconds, and the test waits for that, not for a fixed time
    port = Port("sim://?circles=8&seed=3&latency=0&speed=1000&start=2026-06-15T10:07:00Z")
    mac = virtual.circle_mac(4)  # the NAS draws ~30 W
    _, power = port.ask(M.PowerRequest(mac=mac))
    assert power.pulses_8s > 0
    _, ack = port.ask(M.SwitchRequest(mac=mac, relay=False))
    assert ack.status == 0x00DE and ack.mac == mac
    assert port.net.circles[mac].relay is False

    def reads_zero() -> bool:
        _, power = port.ask(M.PowerRequest(mac=mac))
        return bool(power.pulses_1s == 0 and power.pulses_8s == 0)

    wait_until(reads_zero, 3.0, "the counters to read zero")
    _, ack = port.ask(M.SwitchRequest(mac=mac, relay=True))
    assert ack.status == 0x00D8
    port.close()


def test_info_reports_state(port: Port) -> None:
    _, info = port.ask(M.InfoRequest(mac=C1))
    c = port.net.circles[C1]
    assert info.relay == c.relay and info.node_type == 2 and units.hz_from_code(info.hz) == 50
    assert info.log_address.valid
    assert info.log_address.block * 4 + info.log_address.slot == c.write_position(port.net.now_ts())
    assert abs((info.datetime - c.circle_time(port.net.now_ts())).total_seconds()) < 61


def test_log_buffer_history_matches_true_energy(port: Port) -> None:
    _, cal = port.ask(M.CalibrationRequest(mac=C1))
    _, info = port.ask(M.InfoRequest(mac=C1))
    block = info.log_address.block - 2
    _, resp = port.ask(M.LogBlockRequest(mac=C1, log_address=LogAddress.of(block)))
    assert resp.log_address.block == block
    for e in resp.entries:
        assert e.written
        true = port.net.true_energy_wh(C1, e.when - timedelta(hours=1), e.when)
        assert cal.calibration.wh(e.pulses, 3600) == pytest.approx(true, rel=0.005)


def test_production_entries_alternate_with_identical_timestamps(port: Port) -> None:
    _, info = port.ask(M.InfoRequest(mac=SOLAR))
    _, resp = port.ask(M.LogBlockRequest(mac=SOLAR, log_address=LogAddress.of(info.log_address.block - 3)))
    e = resp.entries
    assert e[0].when == e[1].when and e[2].when == e[3].when
    assert e[1].pulses <= 0 and e[3].pulses <= 0 and e[0].pulses >= 0


def test_unwritten_entries_and_wrap(port: Port) -> None:
    c = port.net.circles[C1]
    t = port.net.now_ts()
    _, info = port.ask(M.InfoRequest(mac=C1))
    ahead = (info.log_address.block + 10) % units.LOG_BLOCKS
    _, resp = port.ask(M.LogBlockRequest(mac=C1, log_address=LogAddress.of(ahead)))
    assert not any(e.written for e in resp.entries)
    # move the circle's log so that writing continues past block 6015
    seg = c.segments[-1]
    seg.start_index = units.LOG_BLOCKS * 4 + 2 - seg.count_until(t)
    _, info = port.ask(M.InfoRequest(mac=C1))
    assert info.log_address.block == 0 and info.log_address.slot == 2
    _, last = port.ask(M.LogBlockRequest(mac=C1, log_address=LogAddress.of(6015)))
    _, first = port.ask(M.LogBlockRequest(mac=C1, log_address=LogAddress.of(0)))
    assert last.entries[3].written and first.entries[0].written and first.entries[1].written
    assert first.entries[0].when > last.entries[3].when


def test_schedule_upload_crc_and_switching(port: Port) -> None:
    values = [schedules.OFF] * schedules.SLOTS
    for req in schedules.buffer_requests(values):
        (ack,) = port.ask(req, 1)
        assert ack.status == M.ACCEPTED
    for req in schedules.commit_requests(C1):
        _, r = port.ask(req)
        assert isinstance(r, M.ScheduleCommitResponse) and r.index == req.index
    _, clock = port.ask(M.ClockGetRequest(mac=C1))
    assert clock.schedule_crc == schedules.schedule_crc(values) == port.net.circles[C1].schedule_crc
    _, ack = port.ask(M.ScheduleEnableRequest(mac=C1, enabled=True))
    assert ack.status == 0x00E4
    port.net.advance()
    assert port.net.circles[C1].relay is False  # the all-off schedule switched it off
    _, ack = port.ask(M.ScheduleValueRequest(mac=C1, value=-1))
    assert ack.status == 0x00FA
    _, clock = port.ask(M.ClockGetRequest(mac=C1))
    assert clock.schedule_crc == "457A"


def test_node_table_remove_and_join(port: Port) -> None:
    cp = virtual.CIRCLE_PLUS_MAC
    _, r = port.ask(M.NodeTableRequest(mac=cp, index=0))
    assert r.node_mac == C1
    _, r = port.ask(M.NodeTableRequest(mac=cp, index=20))
    assert r.empty
    _, r = port.ask(M.RemoveNodeRequest(mac=cp, remove_mac=C1))
    assert r.status == 1 and r.removed_mac == C1
    _, r = port.ask(M.NodeTableRequest(mac=cp, index=0))
    assert r.empty
    new = "000D6F00DEADBEEF"
    port.net.advertise(new)
    adverts = port.receive(2)  # the new circle, and C1 that was just removed
    assert all(isinstance(a, M.AdvertiseResponse) for a in adverts)
    assert sorted(a.mac for a in adverts) == sorted([new, C1])  # type: ignore[attr-defined]
    (ack,) = port.ask(M.JoinAcceptRequest(mac=new), 1)
    assert ack.status == M.ACCEPTED
    (joined,) = port.receive(1)
    assert isinstance(joined, M.JoinedResponse) and joined.seq == 0xFFFD and joined.mac == new
    _, info = port.ask(M.InfoRequest(mac=new))
    assert info.mac == new


def test_a_removed_circle_asks_to_join_again_and_rejoins_as_itself(port: Port) -> None:
    cp = virtual.CIRCLE_PLUS_MAC
    watts = port.net.circles[C1].true_watts(port.net.now_ts())
    _, r = port.ask(M.RemoveNodeRequest(mac=cp, remove_mac=C1))
    assert r.status == 1
    assert port.net.circles[C1].joined is False  # gone from the network
    assert C1 in port.net.advertising  # and asking to join again, as a reset Circle does
    port.net.advertise(C1)  # its first 0006 now rather than in 5 s
    (adv,) = port.receive(1)  # and it advertises, as a reset Circle does
    assert isinstance(adv, M.AdvertiseResponse) and adv.mac == C1
    (ack,) = port.ask(M.JoinAcceptRequest(mac=C1), 1)
    assert ack.status == M.ACCEPTED
    (joined,) = port.receive(1)
    assert isinstance(joined, M.JoinedResponse) and joined.mac == C1
    _, r = port.ask(M.NodeTableRequest(mac=cp, index=0))
    assert r.node_mac == C1
    _, info = port.ask(M.InfoRequest(mac=C1))
    assert info.mac == C1 and port.net.circles[C1].true_watts(port.net.now_ts()) == watts


def test_clock_set_and_rtc(port: Port) -> None:
    when = datetime(2026, 6, 15, 10, 0, 30, tzinfo=UTC)
    _, ack = port.ask(M.ClockSetRequest.at(C1, when))
    assert ack.status == 0x00D7
    _, clock = port.ask(M.ClockGetRequest(mac=C1))
    assert (clock.hour, clock.minute, clock.day_of_week) == (10, 0, 1)
    cp = virtual.CIRCLE_PLUS_MAC
    _, ack = port.ask(M.RtcSetRequest.at(cp, when))
    assert ack.status == 0x00DF
    _, rtc = port.ask(M.RtcGetRequest(mac=cp))
    assert abs((rtc.datetime - when).total_seconds()) < 5


def test_speed_runs_time_faster() -> None:
    url = "sim://?circles=1&latency=0&speed=3600"
    virtual.forget(url)
    net = virtual.network_for(url)
    t0, real0 = net.now(), time.monotonic()
    wait_until(lambda: (net.now() - t0).total_seconds() > 300, 2.0, "300 simulated seconds")
    # 300 s at 3600× take at least 1/12 s of real time: neither stalled nor racing
    assert time.monotonic() - real0 >= 300 / 3600 * 0.99


def test_log_fills_as_time_passes() -> None:
    url = "sim://?circles=1&latency=0&speed=72000&start=2026-06-15T10:07:00Z"
    virtual.forget(url)
    net = virtual.network_for(url)
    c = net.circles[C1]
    n0 = c.entry_count(net.now_ts())
    # at 72000× a 60-minute entry is written every 0.05 s of real time
    wait_until(lambda: c.entry_count(net.now_ts()) > n0, 3.0, "a new log entry")


def test_stick_vanishes_and_comes_back() -> None:
    p = Port("sim://?circles=1&latency=0")
    p.net.vanish()
    with pytest.raises(serial.SerialException):
        p.ser.read(1)
    p.ser.close()
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(p.url, timeout=0.1)
    p.net.restore()
    s = serial.serial_for_url(p.url, timeout=0.1)
    s.write(encode_frame("000A"))
    dec = FrameDecoder()
    frames = []
    deadline = time.monotonic() + 2
    while len(frames) < 2 and time.monotonic() < deadline:
        frames += dec.feed(s.read(100))
    assert [f.message_id for f in frames] == ["0000", "0011"]
    s.close()


def test_unknown_url_parameter_is_an_error() -> None:
    virtual.register()
    with pytest.raises(serial.SerialException, match="unknown parameter"):
        serial.serial_for_url("sim://?circels=3")
