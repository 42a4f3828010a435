"""Every CRC-valid frame of vectors/frames.json decodes to the values it states."""

from __future__ import annotations

import pytest

from protocol import messages, units
from protocol.frames import FrameDecoder, encode_frame
from tests.conftest import frame_bytes, load_vectors

VALID = [v for v in load_vectors() if v["crc_ok"]]


def _decode(v: dict) -> messages.Message:
    frames = FrameDecoder().feed(frame_bytes(v["frame"]))
    assert len(frames) == 1, v["frame"]
    return messages.decode(frames[0].body)


def _iso(text: str) -> str:
    # '2017-11-02 14:55' or '2009-09-08 14:00:32' → ISO UTC
    date, time = text.split(" ")
    if time.count(":") == 1:
        time += ":00"
    return f"{date}T{time}Z"


def _expected(v: dict, msg: messages.Message) -> dict[str, object]:
    """Translate a vector's `derived` keys into our field names and units."""
    d = v["derived"]
    mid = v["message_id"]
    exp: dict[str, object] = {}
    for key, val in d.items():
        if key == "seq":
            if "none" in str(val):
                exp["@seq"] = None
            else:
                exp["@seq"] = int(val, 16)
        elif key in ("mac", "stick_mac", "circle_plus_mac") or key in ("payload",):
            exp["mac"] = val
        elif key == "status":
            exp["status"] = int(val, 16)
        elif key in ("unknown1", "two_bytes"):
            exp["unknown"] = int(val[:2], 16)
        elif key == "network_online":
            exp["network_online"] = val == "01"
        elif key in ("network_id_long", "network_key"):
            exp["network_id"] = val
        elif key in ("network_id_short", "short_key"):
            exp["short_network_id"] = val
        elif key == "trailer":
            if len(val) == 2:
                exp["trailer"] = val
        elif key == "circle_plus_mac_derived":
            exp["circle_plus_mac"] = val
        elif key in ("pulses_1s", "pulses_8s"):
            exp[key] = val
        elif key == "pulses_hour_consumed":
            exp["pulses_hour"] = val
        elif key == "pulses_hour_produced":
            exp["pulses_hour_production"] = val
        elif key == "last_field_raw":
            exp["offset"] = int(val, 16)
        elif key == "datetime":
            if val is None or str(val).startswith("invalid"):
                exp["datetime"] = None
            else:
                exp["datetime"] = _iso(val)
        elif key == "log_address":
            raw = int(val["raw"], 16)
            exp["log_address.raw"] = raw
        elif key == "relay_state":
            exp["relay"] = bool(val)
        elif key == "hz_raw":
            exp["hz"] = val
        elif key == "hw_version":
            exp["hw_version"] = val
        elif key == "fw_version_utc":
            exp["fw_version"] = _iso(val)
        elif key == "node_type":
            exp["node_type"] = val
        elif key in (
            "gain_a",
            "gain_b",
            "off_tot",
            "off_noise",
            "hour",
            "minute",
            "second",
            "day_of_week",
            "day",
            "month",
            "year",
            "features",
            "removed_mac",
            "schedule_crc",
            "accept",
        ):
            if key == "accept":
                exp["accept"] = val == "01"
            else:
                exp[key] = val
        elif key == "unknown" and mid == "003F":
            exp["unknown"] = int(val, 16)
        elif key == "node_mac":
            exp["node_mac"] = val
        elif key == "node_index":
            exp["index"] = val
        elif key == "arg":
            exp["enable"] = val == "01"
        elif key == "args":
            exp.update(_args(mid, val))
        elif key == "entries":
            exp["entries"] = val
    if mid == "001D":
        exp["status"] = int(d["status"], 16)
    return exp


def _args(mid: str, val: str) -> dict[str, object]:
    if mid == "0017":
        return {"relay": val == "01"}
    if mid == "0018":
        return {"index": int(val, 16)}
    if mid == "001C":
        return {"remove_mac": val}
    if mid == "0009":
        return {"node_type": int(val[:2], 16), "timeout": int(val[2:], 16)}
    if mid == "0040":
        return {"enabled": val[:2] == "01", "flag": int(val[2:], 16)}
    if mid == "004A":
        return {"seconds": int(val[:2], 16), "enable": val[2:] == "01"}
    if mid == "0058":
        return {"task_id": int(val, 16)}
    raise AssertionError(f"no args mapping for {mid}")


def _value(msg: messages.Message, key: str) -> object:
    if key == "@seq":
        return msg.seq
    obj: object = msg
    for part in key.split("."):
        obj = getattr(obj, part)
    if key == "datetime":
        return units.iso(obj)  # type: ignore[arg-type]
    if key == "fw_version":
        return units.iso(obj)  # type: ignore[arg-type]
    return obj


@pytest.mark.parametrize("v", VALID, ids=[f"{i}-{v['message_id']}" for i, v in enumerate(VALID)])
def test_vector_decodes_to_stated_values(v: dict) -> None:
    msg = _decode(v)
    assert v["message_id"] == msg.ID
    exp = _expected(v, msg)
    assert exp or not v["derived"], "vector states values but none were mapped"
    for key, want in exp.items():
        if key == "entries":
            got = msg.entries  # type: ignore[attr-defined]
            for entry, w in zip(got, want, strict=False):
                assert entry.pulses == w["pulses"]
                if w["datetime"].startswith("invalid"):
                    assert entry.when is None and entry.raw_datetime == int(w["datetime_raw"], 16)
                else:
                    assert units.iso(entry.when) == _iso(w["datetime"])
            continue
        got = _value(msg, key)
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-6), key
        else:
            assert got == want, key


@pytest.mark.parametrize(
    "v", [v for v in VALID if v["direction"] == "host->stick"], ids=lambda v: v["message_id"]
)
def test_request_vectors_reencode_byte_identically(v: dict) -> None:
    msg = _decode(v)
    assert not msg.RESPONSE
    assert encode_frame(messages.encode(msg)) == frame_bytes(v["frame"])


def test_response_vectors_reencode_byte_identically() -> None:
    for v in VALID:
        if v["direction"] == "host->stick":
            continue
        msg = _decode(v)
        if msg.seq is None:
            continue  # v1 firmware frames carry no SEQ; we never produce those
        assert encode_frame(messages.encode(msg)) == frame_bytes(v["frame"]), v["frame"]


def test_power_vector_watts_with_its_calibration() -> None:
    by_id = {}
    for v in VALID:
        if (
            v["derived"].get("mac") == "000D6F00002366BB"
            or v["derived"].get("circle_plus_mac") == "000D6F00002366BB"
        ):
            by_id.setdefault(v["message_id"], v)
    cal = _decode(by_id["0027"]).calibration  # type: ignore[attr-defined]
    power = _decode(by_id["0013"])
    d = by_id["0013"]["derived"]
    assert cal.watts(power.pulses_1s, 1) == pytest.approx(d["watts_1s_with_0027_of_same_circle"], abs=5e-4)
    assert cal.watts(power.pulses_8s, 8) == pytest.approx(d["watts_8s_with_0027_of_same_circle"], abs=5e-4)


def test_bad_crc_vector_is_rejected_by_stream_and_flagged_when_kept() -> None:
    bad = [v for v in load_vectors() if not v["crc_ok"]]
    assert bad
    for v in bad:
        dec = FrameDecoder()
        assert dec.feed(frame_bytes(v["frame"])) == []
        assert dec.stats.bad_crc == 1
        kept = FrameDecoder(keep_bad=True).feed(frame_bytes(v["frame"]))
        assert len(kept) == 1 and not kept[0].crc_ok
