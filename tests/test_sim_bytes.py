"""The simulator's device side judged by bytes, not through our own codec.

The simulator decodes requests and encodes replies with `protocol.messages`, so a layout error
there would be invisible to tests that also talk through that codec. Here every request is a
string written by hand from PROTOCOL.md / the vectors, the CRC is computed with `binascii`, and
every reply is cut at the character positions PROTOCOL.md gives. Nothing from `protocol` is used
except the virtual network itself.
"""

from __future__ import annotations

import binascii
import itertools
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from protocol import virtual

HEADER = b"\x05\x05\x03\x03"
CIRCLE_PLUS = "000D6F0001000000"  # the simulator's Circle+ and Circle 1 (its documented MACs)
C1 = "000D6F0001000001"
STICK = "000D6F0000990000"
START = "2026-06-15T10:07:00Z"  # a Monday


def crc(body: str) -> str:
    return f"{binascii.crc_hqx(body.encode('ascii'), 0):04X}"


def frame(body: str) -> bytes:
    return HEADER + body.encode("ascii") + crc(body).encode("ascii") + b"\r\n"


def sint(text: str) -> int:
    v = int(text, 16)
    bits = 4 * len(text)
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def hex16(v: int) -> str:
    return f"{v & 0xFFFF:04X}"


@dataclass(frozen=True)
class Reply:
    body: str  # without CRC

    @property
    def id(self) -> str:
        return self.body[:4]

    @property
    def seq(self) -> int:
        return int(self.body[4:8], 16)

    @property
    def payload(self) -> str:
        return self.body[8:]


class Line:
    """Raw bytes in and out of a virtual network."""

    def __init__(self, query: str) -> None:
        self.url = f"sim://?{query}"
        virtual.forget(self.url)
        self.net = virtual.network_for(self.url)
        self.net.attach()
        self.buf = b""

    def send(self, body: str) -> None:
        self.net.write(frame(body))

    def _cut(self) -> Iterator[Reply]:
        while True:
            start = self.buf.find(HEADER)
            if start < 0:
                return
            end = self.buf.find(b"\r\n", start)
            if end < 0:
                return
            raw = self.buf[start + 4 : end].decode("ascii")
            assert self.buf[:start] == b"", f"junk before a frame: {self.buf[:start]!r}"
            self.buf = self.buf[end + 2 :]
            assert raw == raw.upper() and all(c in "0123456789ABCDEF" for c in raw), raw
            body, got = raw[:-4], raw[-4:]
            assert crc(body) == got, f"bad CRC on {raw}"
            yield Reply(body)

    def receive(self, n: int, timeout: float = 5.0) -> list[Reply]:
        """The next `n` frames; waits on the network's own condition (its read timeout)."""
        out: list[Reply] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            out.extend(self._cut())
            if len(out) >= n:
                break
            left = deadline - time.monotonic()
            assert left > 0, f"only {len(out)} of {n} frames: {out}"
            self.buf += self.net.read(4096, min(left, 0.5))
        assert len(out) == n, f"more frames than expected: {out}"
        return out

    def ask(self, body: str, n: int = 2) -> list[Reply]:
        self.send(body)
        return self.receive(n)

    def close(self) -> None:
        self.net.detach()
        virtual.forget(self.url)


@pytest.fixture
def line() -> Iterator[Line]:
    ln = Line(f"circles=3&seed=5&latency=0&history=1&start={START}")
    yield ln
    ln.close()


def accepted(ack: Reply, seq: int | None = None) -> int:
    """A short stick ack: `0000 SEQ 00C1`, nothing more."""
    assert ack.id == "0000" and ack.payload == "00C1", ack
    if seq is not None:
        assert ack.seq == seq
    return ack.seq


def node_ack(r: Reply, seq: int, status: str, mac: str) -> None:
    """A long ack: `0000 SEQ STATUS MAC`."""
    assert (r.id, r.seq, r.payload) == ("0000", seq, status + mac)


# --- stick ---------------------------------------------------------------------------------


def test_init_gives_short_ack_then_long_0011(line: Line) -> None:
    ack, r = line.ask("000A")
    seq = accepted(ack)
    assert r.id == "0011" and r.seq == seq
    p = r.payload
    assert len(p) == 42  # stickMAC(16) u1(2) online(2) networkId(16) shortId(4) trailer(2)
    assert p[0:16] == STICK and p[16:18] == "01" and p[18:20] == "01"
    assert p[20:36] == "FD" + CIRCLE_PLUS[2:] and p[36:40] == "34FD" and p[40:42] == "FF"
    # Circle+ MAC = "00" + networkId[2:]
    assert "00" + p[22:36] == CIRCLE_PLUS


def test_sequence_numbers_grow_by_one_and_replies_reuse_them(line: Line) -> None:
    seqs = []
    for _ in range(4):
        ack, reply = line.ask("000D" + C1)
        seqs.append(accepted(ack))
        assert reply.id == "000E" and reply.seq == ack.seq
    assert [s - seqs[0] for s in seqs] == [0, 1, 2, 3]


def test_bad_crc_gets_00c2(line: Line) -> None:
    line.net.write(HEADER + b"0012" + C1.encode() + b"0000\r\n")
    (ack,) = line.receive(1)
    assert ack.id == "0000" and ack.payload == "00C2"


def test_unknown_id_gets_c1_then_e1_with_one_seq(line: Line) -> None:
    a, b = line.ask("AA77")
    assert (a.payload, b.payload, a.seq) == ("00C1", "00E1", b.seq)


def test_stick_answers_0023_about_itself(line: Line) -> None:
    ack, r = line.ask("0023" + STICK)
    accepted(ack)
    p = r.payload
    # MAC(16) datetime(8) logAddr(8) relay(2) hz(2) hwVer(12) fwVer(8) nodeType(2)
    assert r.id == "0024" and len(p) == 58
    assert p[0:16] == STICK and p[16:24] == "00000000" and p[24:32] == "00000000"
    assert p[32:34] == "00" and p[34:36] == "80" and p[56:58] == "00"


# --- node replies at PROTOCOL.md's positions ---------------------------------------------


def test_ping_reply_has_signed_dbm_bytes(line: Line) -> None:
    ack, r = line.ask("000D" + C1)
    p = r.payload
    assert r.id == "000E" and r.seq == ack.seq and len(p) == 16 + 2 + 2 + 4
    assert p[:16] == C1
    rssi_in, rssi_out = sint(p[16:18]), sint(p[18:20])
    assert -100 < rssi_in < 0 and -100 < rssi_out < 0  # dBm: the bytes read as negatives
    assert 0 < int(p[20:24], 16) < 1000


def test_power_reply_layout(line: Line) -> None:
    ack, r = line.ask("0012" + C1)
    p = r.payload
    assert r.id == "0013" and r.seq == ack.seq and len(p) == 16 + 28
    assert p[:16] == C1
    p1, p8 = sint(p[16:20]), sint(p[20:24])
    hour_cons, hour_prod = int(p[24:32], 16), sint(p[32:40])
    assert p1 >= 0 and p8 >= p1 and hour_cons >= 0 and hour_prod <= 0
    assert 0 <= int(p[40:44], 16) < 16


def test_switch_acks_00de_then_00d8_with_mac(fast_line: Line) -> None:
    line = fast_line  # simulated time runs fast: the 8 s counter empties in milliseconds
    ack, r = line.ask("0017" + C1 + "00")
    node_ack(r, ack.seq, "00DE", C1)
    _, r = line.ask("0023" + C1)
    assert r.payload[32:34] == "00"  # 0024 reports the relay off
    deadline = time.monotonic() + 3
    while line.ask("0012" + C1)[1].payload[16:24] != "00000000":  # 1 s and 8 s counters read zero
        assert time.monotonic() < deadline, "the counters never read zero"
    ack, r = line.ask("0017" + C1 + "01")
    node_ack(r, ack.seq, "00D8", C1)
    _, r = line.ask("0023" + C1)
    assert r.payload[32:34] == "01"


def test_info_reply_layout(line: Line) -> None:
    _, r = line.ask("0023" + C1)
    p = r.payload
    assert r.id == "0024" and len(p) == 58 and p[:16] == C1
    yy, mm, minutes = int(p[16:18], 16), int(p[18:20], 16), int(p[20:24], 16)
    assert (yy, mm) == (26, 6) and abs(minutes - (14 * 1440 + 10 * 60 + 7)) <= 2
    address = int(p[24:32], 16)
    assert 0x44000 <= address < 0x44000 + 32 * 6016 and (address - 0x44000) % 8 == 0
    assert p[32:34] == "01" and p[34:36] == "85"  # relay on, 50 Hz
    assert p[36:48].isdigit() and p[48:56] in ("4E0844C2", "4CCEC0C2")  # hwVer, fw build time
    assert p[56:58] == "02"  # node type: Circle
    _, r = line.ask("0023" + CIRCLE_PLUS)
    assert r.payload[56:58] == "01"  # node type: Circle+


def test_calibration_reply_is_four_big_endian_floats(line: Line) -> None:
    _, r = line.ask("0026" + C1)
    p = r.payload
    assert r.id == "0027" and len(p) == 16 + 32
    gain_a, gain_b, off_tot, off_noise = struct.unpack(">4f", bytes.fromhex(p[16:]))
    assert 0.9 < gain_a < 1.1 and -1e-4 < gain_b < 0 and 0 < off_tot < 0.1 and off_noise == 0


def test_clock_get_and_set(line: Line) -> None:
    # 0016: MAC YY MM mmmm logAddr hh mm ss dow — 2026-06-15 (Monday) 12:34:56, keep log address
    minutes = 14 * 1440 + 12 * 60 + 34
    ack, r = line.ask(f"0016{C1}1A06{minutes:04X}FFFFFFFF" + "0C2238" + "01")
    node_ack(r, ack.seq, "00D7", C1)
    ack, r = line.ask("003E" + C1)
    p = r.payload
    assert r.id == "003F" and len(p) == 16 + 14
    hh, mm, ss, dow = (int(p[i : i + 2], 16) for i in (16, 18, 20, 22))
    assert (hh, mm, dow) == (12, 34, 1) and 56 <= ss <= 58
    assert p[24:26] == "01" and p[26:30] == "457A"  # the default schedule: all on


def test_circle_plus_rtc_is_decimal(line: Line) -> None:
    # 0028: ss mm hh dow dd MM yy as decimal digits — 2026-06-15 12:34:56, Monday
    ack, r = line.ask("0028" + CIRCLE_PLUS + "56341201150626")
    node_ack(r, ack.seq, "00DF", CIRCLE_PLUS)
    ack, r = line.ask("0029" + CIRCLE_PLUS)
    p = r.payload
    assert r.id == "003A" and len(p) == 16 + 14 and p[16:30].isdigit()
    assert p[18:30] == "341201150626" and p[16:18] in ("56", "57", "58")


def test_node_table_reply(line: Line) -> None:
    _, r = line.ask("0018" + CIRCLE_PLUS + "00")
    assert r.id == "0019" and r.payload == CIRCLE_PLUS + C1 + "00"
    _, r = line.ask("0018" + CIRCLE_PLUS + "3F")
    assert r.payload == CIRCLE_PLUS + "F" * 16 + "3F"


@pytest.mark.parametrize(
    ("request_body", "status", "mac"),
    [
        ("0008" + "01", "00D9", CIRCLE_PLUS),  # joining on: the Circle+ answers (RW capture)
        ("0008" + "00", "00DD", CIRCLE_PLUS),
        ("0009" + C1 + "0204", "00F2", C1),  # reset
        ("004A" + CIRCLE_PLUS + "3C01", "00F1", CIRCLE_PLUS),  # broadcast interval 60 s, on
        ("0058" + C1 + "00", "00F9", C1),  # clear group
        ("0059" + C1 + "FFFF", "00FA", C1),  # whole schedule one value
    ],
)
def test_commands_get_their_ack_codes(line: Line, request_body: str, status: str, mac: str) -> None:
    ack, r = line.ask(request_body)
    node_ack(r, accepted(ack), status, mac)


def test_features_and_relay_init_replies(line: Line) -> None:
    ack, r = line.ask("005F" + C1)
    assert (r.id, r.seq, r.payload) == ("0060", ack.seq, C1 + "FFFFFFFFFFFFFFFE")
    ack, r = line.ask("0138" + C1 + "0000")  # get
    assert (r.id, r.seq, r.payload) == ("0139", ack.seq, C1 + "00" + "01")  # relay on
    line.ask("0017" + C1 + "00")
    ack, r = line.ask("0138" + C1 + "0100")
    assert r.payload == C1 + "01" + "00"


def test_stick_only_requests_get_only_an_ack(line: Line) -> None:
    for body in ("0001", "0004" + "0" * 20 + CIRCLE_PLUS, "004E" + "0" * 16):
        (ack,) = line.ask(body, 1)
        seq = accepted(ack)
        (next_ack, _) = line.ask("000D" + C1)  # nothing came between: the next frame is this ack
        assert next_ack.seq == seq + 1


def test_remove_node_then_join_by_bytes(line: Line) -> None:
    ack, r = line.ask("001C" + CIRCLE_PLUS + C1)
    assert (r.id, r.seq, r.payload) == ("001D", ack.seq, CIRCLE_PLUS + C1 + "01")
    ack, r = line.ask("0018" + CIRCLE_PLUS + "00")
    assert r.payload == CIRCLE_PLUS + "F" * 16 + "00"
    new = "000D6F00DEADBEEF"
    line.net.advertise(new)
    adverts = line.receive(2)  # the new circle, and the removed one asking to join again
    assert sorted((a.id, a.payload) for a in adverts) == [("0006", C1), ("0006", new)]
    (ack,) = line.ask("0007" + "01" + new, 1)  # accept: the MAC goes last
    accepted(ack)
    (joined,) = line.receive(1)
    assert (joined.id, joined.seq, joined.payload) == ("0061", 0xFFFD, new)
    ack, r = line.ask("0018" + CIRCLE_PLUS + "00")
    assert r.payload == CIRCLE_PLUS + new + "00"


# --- schedules: 003B → 003C/003D → 003F ----------------------------------------------------


def _pattern() -> list[int]:
    """672 slots that differ from chunk to chunk, so a misplaced chunk changes the CRC."""
    return [(j * 7) % 41 - 1 for j in range(672)]


def test_schedule_uploaded_by_bytes_reports_its_crc(line: Line) -> None:
    values = _pattern()
    for chunk in range(84):
        body = "003B" + f"{16 * chunk:04X}" + "".join(hex16(v) for v in values[8 * chunk : 8 * chunk + 8])
        (ack,) = line.ask(body, 1)  # only a stick ack: the next frame would be the next ack
        accepted(ack)
    for idx in range(1, 43):
        ack, r = line.ask(f"003C{C1}{idx:02X}")
        assert (r.id, r.seq, r.payload) == ("003D", ack.seq, f"{C1}{idx:02X}")
    want = crc_of_schedule(values)
    assert want not in ("457A", crc_of_schedule(sorted(values)))
    ack, r = line.ask("003E" + C1)
    assert r.payload[26:30] == want
    ack, r = line.ask("0040" + C1 + "0101")
    node_ack(r, ack.seq, "00E4", C1)
    ack, r = line.ask("0040" + C1 + "0001")
    node_ack(r, ack.seq, "00E5", C1)


def test_partial_commit_copies_only_its_sixteen_slots(line: Line) -> None:
    values = [-1] * 672
    values[16:32] = [0] * 16  # what 003C index 2 covers
    for chunk in (2, 3):
        (ack,) = line.ask("003B" + f"{16 * chunk:04X}" + "0000" * 8, 1)
        accepted(ack)
    ack, r = line.ask(f"003C{C1}02")
    assert r.payload == C1 + "02"
    ack, r = line.ask("003E" + C1)
    assert r.payload[26:30] == crc_of_schedule(values)


def test_0059_sets_every_slot(line: Line) -> None:
    ack, r = line.ask("0059" + C1 + "0000")
    node_ack(r, ack.seq, "00FA", C1)
    ack, r = line.ask("003E" + C1)
    assert r.payload[26:30] == crc_of_schedule([0] * 672) == "0000"
    ack, r = line.ask("0059" + C1 + "FFFF")
    ack, r = line.ask("003E" + C1)
    assert r.payload[26:30] == "457A"


def crc_of_schedule(values: list[int]) -> str:
    """PROTOCOL B §8: CRC-16/XMODEM over the 672 values as big-endian int16."""
    return f"{binascii.crc_hqx(struct.pack('>672h', *values), 0):04X}"


# --- log buffer: 0048/0049 and 0057 --------------------------------------------------------


def _entries(p: str) -> list[tuple[int, int]]:
    """0049 payload → [(YYMMmmmm raw, signed pulses)] × 4."""
    return [(int(p[16 + 16 * i : 24 + 16 * i], 16), sint(p[24 + 16 * i : 32 + 16 * i])) for i in range(4)]


def _minutes(raw: int) -> int:
    """Minutes since 2000 of a YYMMmmmm stamp within one month (enough for differences)."""
    return raw & 0xFFFF


def _position(line: Line, mac: str) -> int:
    """The write position (entry index) that 0024 reports."""
    _, r = line.ask("0023" + mac)
    return (int(r.payload[24:32], 16) - 0x44000) // 8


def _block(line: Line, mac: str, block: int) -> list[tuple[int, int]]:
    address = f"{0x44000 + 32 * block:08X}"
    ack, r = line.ask("0048" + mac + address)
    p = r.payload
    assert r.id == "0049" and r.seq == ack.seq and len(p) == 16 + 64 + 8
    assert p[:16] == mac and p[80:88] == address  # the address is echoed last
    return _entries(p)


def test_log_block_reply_layout(line: Line) -> None:
    pos = _position(line, C1)
    block = pos // 4 - 1  # a full block before the one being written
    e = _block(line, C1, block)
    stamps = [_minutes(raw) for raw, _ in e]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [60, 60, 60]  # hourly
    assert all(p >= 0 for _, p in e)
    ahead = _block(line, C1, (block + 20) % 6016)
    assert all(raw == 0xFFFFFFFF for raw, _ in ahead)  # unwritten: FFFFFFFF


def _wait_for_entries(line: Line, mac: str, start: int, count: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        pos = _position(line, mac)
        if pos >= start + count:
            return pos
        assert time.monotonic() < deadline, f"log did not grow: {pos} < {start + count}"
        line.net.read(1, 0.05)  # block on the network's condition for a moment


@pytest.fixture
def fast_line() -> Iterator[Line]:
    ln = Line(f"circles=2&seed=9&latency=0&history=1&speed=14400&start={START}")
    yield ln
    ln.close()


def test_0057_changes_the_interval_the_log_records(fast_line: Line) -> None:
    line = fast_line
    ack, r = line.ask("0057" + C1 + "000F" + "0000")  # 15 min consumption, production off
    node_ack(r, ack.seq, "00F8", C1)
    after = _position(line, C1)  # every entry from here on is written with the new interval
    pos = _wait_for_entries(line, C1, after, 2)
    a, b = (_block(line, C1, i // 4)[i % 4] for i in (pos - 2, pos - 1))
    assert _minutes(b[0]) - _minutes(a[0]) == 15


def test_0057_production_interval_interleaves_entries(fast_line: Line) -> None:
    line = fast_line
    before = _position(line, C1)
    ack, r = line.ask("0057" + C1 + "000F" + "000F")  # production on: pairs with one timestamp
    node_ack(r, ack.seq, "00F8", C1)
    after = _position(line, C1)
    pos = _wait_for_entries(line, C1, after, 4)
    entries = [_block(line, C1, i // 4)[i % 4] for i in range(before, pos)]
    stamps = [raw for raw, _ in entries]
    # hourly consumption entries from before the change never share a timestamp; the new
    # segment starts with a pair that does
    first = next(i for i in range(len(stamps) - 1) if stamps[i] == stamps[i + 1])
    assert before + first <= after
    assert all(_minutes(b) - _minutes(a) == 60 for a, b in itertools.pairwise(stamps[:first]))
    new = entries[first : first + 4]
    assert len(new) == 4
    assert new[0][0] == new[1][0] and new[2][0] == new[3][0]
    assert _minutes(new[2][0]) - _minutes(new[0][0]) == 15
    assert new[0][1] >= 0 and new[1][1] <= 0 and new[3][1] <= 0  # production pulses count down
