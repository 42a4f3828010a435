"""The 59 frames of `frames-peers.json` (Plugwise-2-py's and plugwise-usb's own classes), both ways.

The key mapping lives in tests/test_vectors.py (one mapping for both files). Where a vector's
notes record that the peers disagree, PROTOCOL.md decides; the tests at the end pin each of
those decisions so that a codec following the other peer fails.
"""

from __future__ import annotations

import pytest

from protocol import messages as M
from protocol.frames import encode_frame
from tests.conftest import frame_bytes
from tests.test_vectors import (
    BUILDERS,
    Vector,
    body_of,
    check_request_bytes,
    check_vector,
    decode_vector,
    load_peer_vectors,
)

PEERS = load_peer_vectors()
VALID = [v for v in PEERS if v["crc_ok"]]
REQUESTS = [v for v in VALID if v["direction"] == "host->stick"]
RESPONSES = [v for v in VALID if v["direction"] != "host->stick"]


def _id(i: int, v: Vector) -> str:
    peer = "7W" if v["source"].startswith("plugwise-2-py") else "usb"
    return f"{i}-{v['message_id']}-{peer}"


def test_the_file_is_whole() -> None:
    assert len(PEERS) == 59 and all(v["crc_ok"] for v in PEERS)
    ids = {v["message_id"] for v in PEERS}
    assert len(ids) == 20


@pytest.mark.parametrize("v", VALID, ids=[_id(i, v) for i, v in enumerate(VALID)])
def test_peer_vector_decodes_to_every_stated_value(v: Vector) -> None:
    assert check_vector(v) == len(v["decoded"]) + len(v["derived"])


@pytest.mark.parametrize("v", REQUESTS, ids=[_id(i, v) for i, v in enumerate(REQUESTS)])
def test_peer_request_built_from_stated_values_gives_the_exact_bytes(v: Vector) -> None:
    assert v["message_id"] in BUILDERS
    check_request_bytes(v)


@pytest.mark.parametrize("v", RESPONSES, ids=[_id(i, v) for i, v in enumerate(RESPONSES)])
def test_peer_response_reencodes_byte_identically(v: Vector) -> None:
    msg = decode_vector(v)
    assert encode_frame(M.encode(msg)) == frame_bytes(v["frame"])


def test_both_peers_build_the_same_bytes_where_both_implement_a_request() -> None:
    by_key: dict[tuple[str, str], set[str]] = {}
    for v in REQUESTS:
        peer = v["source"].split(":")[0]
        by_key.setdefault((v["message_id"], v["frame"]), set()).add(peer)
    shared = [k for k, peers in by_key.items() if len(peers) == 2]
    assert {mid for mid, _ in shared} >= {"0001", "0004", "0057", "0059"}


# --- disagreements, decided by PROTOCOL.md ------------------------------------------------


def _frame(mid: str, needle: str = "") -> M.Message:
    return decode_vector(next(v for v in VALID if v["message_id"] == mid and needle in v["frame"]))


def test_000e_rssi_is_a_signed_dbm_byte() -> None:
    """7W reads C5/B2 unsigned (197/178); plugwise-usb signed (−59/−78). Issue 11 decides dBm."""
    msg = _frame("000E", "C5B2")
    assert isinstance(msg, M.PingResponse)
    assert (msg.rssi_in_dbm, msg.rssi_out_dbm, msg.ping_ms) == (-59, -78, 30)
    assert M.to_json(msg) == {
        "mac": "000D6F0001A20F97",
        "rssi_in_dbm": -59,
        "rssi_out_dbm": -78,
        "ping_ms": 30,
    }
    assert M.encode(
        M.PingResponse(seq=0x101, mac=msg.mac, rssi_in_dbm=-59, rssi_out_dbm=-78, ping_ms=30)
    ) == ("000E0101000D6F0001A20F97C5B2001E")
    strong = _frame("000E", "45460432")
    assert (strong.rssi_in_dbm, strong.rssi_out_dbm) == (69, 70)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mid", ["0002", "0003", "0005"])
def test_network_setup_replies_carry_no_mac(mid: str) -> None:
    """7W reads no MAC after SEQ; plugwise-usb expects one. PROTOCOL B §3.1 follows 7W, so the
    same body with a MAC inserted is the wrong length for us."""
    v = next(v for v in VALID if v["message_id"] == mid)
    body = body_of(v)
    assert "mac" not in {fl.name for fl in M.wire_fields(M.CATALOGUE[mid])}
    with pytest.raises(M.DecodeError):
        M.decode(body[:8] + "000D6F0001A59EDC" + body[8:])


def test_0002_new_node_mac_gets_00_in_place_of_the_pan_byte() -> None:
    msg = _frame("0002")
    assert isinstance(msg, M.NetworkInfoResponse)
    assert msg.new_node_mac_raw == "FD0D6F0001A5A372" and msg.new_node_mac == "000D6F0001A5A372"
    assert M.to_json(msg)["new_node_mac"] == "000D6F0001A5A372"


def test_0105_temperature_is_an_unsigned_word() -> None:
    """plugwise-usb reads it signed (8A3D → −30147); PROTOCOL B §3.4's formula takes it unsigned."""
    msg = _frame("0105", "40008A3D")
    assert isinstance(msg, M.SenseReportResponse)
    assert (msg.humidity_raw, msg.temperature_raw) == (0x4000, 0x8A3D)
    empty = _frame("0105", "FFFFFFFF")
    assert (empty.humidity_raw, empty.temperature_raw) == (0xFFFF, 0xFFFF)  # type: ignore[attr-defined]


def test_0050_config_stays_raw_because_its_layout_is_disputed() -> None:
    msg = _frame("0050", "0A05A0003C012760")
    assert isinstance(msg, M.SleepConfigRequest)
    assert msg.config == "0A05A0003C012760" and [fl.name for fl in M.wire_fields(type(msg))] == [
        "mac",
        "config",
    ]


def test_0139_first_byte_is_the_set_flag_whatever_plugwise_usb_calls_it() -> None:
    msg = _frame("0139", "0D6F0001A20F970100")
    assert isinstance(msg, M.RelayInitResponse)
    assert (msg.set, msg.relay) == (1, 0)


def test_004e_sixteen_characters_named_value() -> None:
    """plugwise-usb sends a MAC there, Source sent zeros (ROH): one 16-char field either way."""
    msg = _frame("004E")
    assert isinstance(msg, M.NetworkUnknownRequest) and msg.value == "000D6F0001A20F97"


def test_0057_consumption_then_production() -> None:
    """7W (usage, production), OH (0, interval) for production only, plugwise-usb (consumption,
    production): the same order. 15 min consumption with 60 min production tells them apart."""
    msg = _frame("0057", "000F003C")
    assert isinstance(msg, M.LogIntervalRequest)
    assert (msg.consumption, msg.production) == (15, 60)


def test_003b_offset_is_a_byte_offset_and_values_are_signed() -> None:
    msg = _frame("003B", "0530")
    assert isinstance(msg, M.ScheduleBufferRequest)
    assert msg.offset == 16 * 83 and msg.values == (0, 0, 0, 0, -1, -1, -1, 32767)


def test_003c_mac_then_index() -> None:
    msg = _frame("003C", "2ABB13")
    assert isinstance(msg, M.ScheduleCommitRequest)
    assert (msg.mac, msg.index) == ("000D6F0001A20F97", 42)


def test_0100_is_mac_then_status_the_reverse_of_a_long_0000() -> None:
    msg = _frame("0100", "0123000D6F000076B9D300B3")
    assert isinstance(msg, M.AckV2)
    assert (msg.seq, msg.mac, msg.status, msg.status_name) == (
        0x0123,
        "000D6F000076B9D3",
        0x00B3,
        "sense_interval_ack",
    )
    long_0000 = M.decode("0000012300B3000D6F000076B9D3")
    assert isinstance(long_0000, M.Ack) and (long_0000.status, long_0000.mac) == (msg.status, msg.mac)
