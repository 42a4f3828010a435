"""Each fault of the simulator does what it says, seen on the raw line."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import serial

from protocol import messages as M
from protocol import virtual
from protocol.frames import FrameDecoder, encode_frame

C1 = virtual.circle_mac(1)


def open_raw(faults: str, extra: str = "") -> tuple[serial.SerialBase, virtual.VirtualNetwork]:
    url = f"sim://?circles=2&seed=8&latency=0&faults={faults}{extra}"
    virtual.forget(url)
    virtual.register()
    return serial.serial_for_url(url, timeout=0.05), virtual.network_for(url)


INFO_FRAME = 4 + 4 + 4 + 58 + 4 + 2  # header, ID, SEQ, payload, CRC, CRLF
ACK_FRAME = 4 + 12 + 4 + 2


def exchange(ser: serial.SerialBase, n: int, done: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
    """Send `n` 0023s; read until `done(data)` (each read waits ≤ the port's 50 ms timeout),
    then once more to catch anything sent right behind."""
    for _ in range(n):
        ser.write(encode_frame(M.encode(M.InfoRequest(mac=C1))))
    data = b""
    end = time.monotonic() + timeout
    while not done(data):
        assert time.monotonic() < end, f"gave up waiting; got {data!r}"
        data += ser.read(4096)
    return data + ser.read(4096)


def count(n: int, what: Callable[[M.Message], bool]) -> Callable[[bytes], bool]:
    return lambda data: sum(map(what, frames(data))) >= n


def is_e1(m: M.Message) -> bool:
    return isinstance(m, M.Ack) and m.status == M.TIMEOUT


def is_info(m: M.Message) -> bool:
    return isinstance(m, M.InfoResponse)


def wait_until(ok: Callable[[], bool], timeout: float, what: str) -> None:
    tick = threading.Event()
    end = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        tick.wait(0.02)


def frames(data: bytes, keep_bad: bool = False) -> list[M.Message]:
    dec = FrameDecoder(keep_bad=keep_bad)
    return [M.decode(f.body) for f in dec.feed(data) if f.crc_ok]


def test_drop_gives_00e1() -> None:
    ser, _ = open_raw("drop=1,e1=0.05")
    msgs = frames(exchange(ser, 5, count(5, is_e1)))
    assert sum(map(is_e1, msgs)) == 5
    assert not any(isinstance(m, M.InfoResponse) for m in msgs)


def test_late_reply_follows_its_00e1() -> None:
    ser, _ = open_raw("late=1,e1=0.05")
    msgs = frames(exchange(ser, 3, count(3, is_info)))
    assert sum(map(is_info, msgs)) == 3
    for seq in {m.seq for m in msgs if isinstance(m, M.InfoResponse)}:
        kinds = [
            ("E1" if isinstance(m, M.Ack) and m.status == M.TIMEOUT else type(m).__name__)
            for m in msgs
            if m.seq == seq and not (isinstance(m, M.Ack) and m.status == M.ACCEPTED)
        ]
        assert kinds == ["E1", "InfoResponse"]


def test_dup_sends_replies_twice() -> None:
    ser, _ = open_raw("dup=1")
    msgs = frames(exchange(ser, 4, count(8, is_info)))
    replies = [m.seq for m in msgs if isinstance(m, M.InfoResponse)]
    assert len(replies) == 8 and len(set(replies)) == 4


def test_corrupt_breaks_crcs() -> None:
    ser, _ = open_raw("corrupt=1")
    data = exchange(
        ser, 5, lambda d: len(d) >= 5 * (ACK_FRAME + INFO_FRAME)
    )  # a flipped bit keeps the length
    assert len(data) == 5 * (ACK_FRAME + INFO_FRAME)
    dec = FrameDecoder()
    good = dec.feed(data)
    assert dec.stats.bad_crc + dec.stats.malformed >= 5 and len(good) < 10


def test_chatter_adds_0x83_and_aps_lines() -> None:
    ser, _ = open_raw("chatter=1")
    data = exchange(ser, 3, lambda d: count(3, is_info)(d) and d.count(b"# APSRequestNodeInfo: Source") == 3)
    assert b"\x83\x05\x05\x03\x03" in data and b"# APSRequestNodeInfo" in data
    assert sum(isinstance(m, M.InfoResponse) for m in frames(data)) == 3


def test_offline_timetable_is_repeatable() -> None:
    _, net = open_raw("offline=0.5")
    c = net.circles[C1]
    t = net.now_ts()
    plan = [net.offline_now(c, t + k * 600) for k in range(40)]
    assert 5 < sum(plan) < 35
    assert plan == [net.offline_now(c, t + k * 600) for k in range(40)]


def test_drift_fault_sets_clock_drift() -> None:
    _, net = open_raw("drift=120")
    assert {abs(c.drift_per_day) for c in net.circles.values()} == {120}


def test_vanish_fault_drops_and_returns() -> None:
    ser, _net = open_raw("vanish=1.5")
    seen_gone = False
    end = time.monotonic() + 3
    while time.monotonic() < end and not seen_gone:
        try:
            ser.read(1)
        except serial.SerialException:
            seen_gone = True
    assert seen_gone

    def reopens() -> bool:
        try:
            serial.serial_for_url("sim://?circles=2&seed=8&latency=0&faults=vanish=1.5", timeout=0.05).close()
        except serial.SerialException:
            return False
        return True

    wait_until(reopens, 3.0, "the stick to come back")


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(serial.SerialException, match="unknown fault"):
        open_raw("gremlins=1")


def test_bounded_stick_queue_delays_acks() -> None:
    url = "sim://?circles=2&seed=9&latency=80"
    virtual.forget(url)
    virtual.register()
    ser = serial.serial_for_url(url, timeout=0.05)
    net = virtual.network_for(url)
    net.queue_size = 2
    ser.write(b"".join(encode_frame(M.encode(M.InfoRequest(mac=C1))) for _ in range(4)))
    order: list[str] = []
    dec = FrameDecoder()
    end = time.monotonic() + 3
    while time.monotonic() < end and len(order) < 8:
        for f in dec.feed(ser.read(512)):
            m = M.decode(f.body)
            order.append("ack" if isinstance(m, M.Ack) else "reply")
    assert order.count("ack") == 4 and order.count("reply") == 4
    third_ack = [i for i, k in enumerate(order) if k == "ack"][2]
    assert "reply" in order[:third_ack], "the stick held more than its queue"
