"""`pwtui decode`: every vector frame, each input form, errors per line, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from protocol import commlog
from protocol.frames import crc16
from pwtui import decode
from pwtui.cli import main
from tests.conftest import load_vectors


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
    vecs = load_vectors()
    code, out, err = run_cli(["-"], "\n".join(v["frame"] for v in vecs) + "\n")
    assert len(out) == len(vecs)
    assert "Traceback" not in err
    for v, obj in zip(vecs, out, strict=False):
        assert obj["id"] == v["message_id"]
        assert obj["crc_ok"] is v["crc_ok"]
        if v["crc_ok"]:
            assert "error" not in obj, obj
            assert obj["name"] and isinstance(obj["fields"], dict)
    assert code == 1  # the one published frame with a bad CRC fails


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
    assert f["fw_version"].startswith("2010-11-01") or f["fw_version"].endswith("Z")
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
    assert code == 1
    assert "error" in lines[0]
    assert lines[1]["fields"]["status"] == "00C1"
    assert "error" in lines[2]


def test_all_good_exits_zero(capsys) -> None:
    assert main(["decode", "000AB43C"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "stick_init"


def test_bad_usage_exits_two(capsys) -> None:
    assert main(["--no-such-flag"]) == 2
    assert "Traceback" not in capsys.readouterr().err
