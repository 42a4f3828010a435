"""`pwtui decode`: every vector frame, each input form, errors per line, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from protocol import commlog, messages
from protocol.frames import crc16
from pwtui import decode
from pwtui.cli import main
from tests.conftest import frame_bytes, load_vectors
from tests.test_vectors import load_peer_vectors


def run_cli(args: list[str], stdin: str | None = None) -> tuple[int, list[dict], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pwtui", "decode", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, [json.loads(ln) for ln in proc.stdout.splitlines()], proc.stderr


def test_every_vector_frame_through_stdin() -> None:
    vecs = load_vectors() + load_peer_vectors()
    code, out, err = run_cli(["-"], "\n".join(v["frame"] for v in vecs) + "\n")
    assert len(out) == len(vecs)
    assert "Traceback" not in err
    for v, obj in zip(vecs, out, strict=True):
        assert obj["id"] == v["message_id"]
        assert obj["crc_ok"] is v["crc_ok"]
        raw = frame_bytes(v["frame"])[4:-2].decode()
        if not v["crc_ok"]:
            assert obj["error"] == f"CRC mismatch: frame says {raw[-4:]}, body gives {v['crc_expected']}"
            continue
        assert "error" not in obj, obj
        assert obj["name"] == messages.CATALOGUE[v["message_id"]].NAME
        seq = v["derived"].get("seq")
        assert obj["seq"] == (seq if seq and "none" not in seq else None)
        assert obj["direction"] == ("request" if v["direction"] == "host->stick" else "response")
        mac = v["derived"].get("mac") or v["derived"].get("stick_mac") or v["derived"].get("circle_plus_mac")
        if mac and v["message_id"] not in ("004E",):  # 004E's 16 chars are 'value', not a MAC
            assert obj["mac"] == mac
        assert obj["fields"] == messages.to_json(messages.decode(raw[:-4]))
    assert code == 2  # the one published frame with a bad CRC is bad input


def test_keys_and_units() -> None:
    out = decode.decode_item(
        r"\x05\x05\x03\x03002400D3000D6F0000D3595D0B051B4300044D9001856539070140234CCEC0C202BEE5\r\n"
    )
    (obj,) = out
    assert obj["seq"] == "00D3" and obj["mac"] == "000D6F0000D3595D" and obj["crc_ok"] is True
    f = obj["fields"]
    assert f["datetime"] == "2011-05-05T20:19:00Z"
    assert f["log_address"] == 108 and f["relay"] is True and f["hz"] == 50
    assert f["hw_version"] == "653907014023" and f["node_type"] == "circle"
    assert f["fw_version"] == "2010-11-01T13:29:38Z" and f["log_slot"] == 2 and f["model"] == "Circle F"
    assert set(f) == {
        "mac",
        "datetime",
        "log_address",
        "relay",
        "hz",
        "hw_version",
        "fw_version",
        "node_type",
        "log_slot",
        "model",
    }
    (ack,) = decode.decode_item("0000000900E15666")
    assert ack["fields"]["status"] == "00E1" and ack["fields"]["status_name"] == "timeout"
    (req,) = decode.decode_item("0012000D6F00002366BB")  # body without CRC
    assert req["seq"] is None and req["mac"] == "000D6F00002366BB" and req["crc_ok"] is None


def test_bare_body_with_wrong_crc_is_reported() -> None:
    (obj,) = decode.decode_item("0012000D6F00002366BB0000")
    assert obj["crc_ok"] is False and "CRC" in obj["error"]


def test_comm_log_lines_decode() -> None:
    body = "0000000100C1"
    line = commlog.format_line(commlog.IN, body + crc16(body))
    (obj,) = decode.decode_item(line)
    assert obj["name"] == "ack" and obj["crc_ok"] is True


def test_garbage_lines_give_errors_and_processing_continues() -> None:
    buf = io.StringIO()
    code = decode.run(["hello world", "0000000100C1FEED", "", "\\x05\\x05\\x03\\x03ZZ"], buf)
    lines = [json.loads(ln) for ln in buf.getvalue().splitlines()]
    assert code == 2
    assert lines[0] == {"error": "not a frame, body or log line: 'hello world'"}
    assert lines[1]["fields"] == {"status": "00C1", "status_name": "accepted"} and lines[1]["seq"] == "0001"
    assert lines[2] == {"error": "no complete frame found (expected 05 05 03 03, hex body, CRC, CR LF)"}
    assert len(lines) == 3


def test_garbage_on_the_command_line_exits_two(capsys) -> None:
    assert main(["decode", "not-a-frame"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"error": "not a frame, body or log line: 'not-a-frame'"}
    assert "Traceback" not in captured.err


def test_all_good_exits_zero(capsys) -> None:
    assert main(["decode", "000AB43C"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "stick_init"


def test_bad_usage_exits_two(capsys) -> None:
    assert main(["--no-such-flag"]) == 2
    assert "Traceback" not in capsys.readouterr().err
