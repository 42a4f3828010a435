"""One-shot commands: JSON keys of DESIGN.md, exit codes, readable errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pwtui.cli import main

SIM = "sim://?circles=3&seed=7&latency=0&history=1"
C1 = "000D6F0001000001"


def run(*args: str, cwd: Path | None = None) -> tuple[int, list[dict], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pwtui", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, [json.loads(ln) for ln in proc.stdout.splitlines()], proc.stderr


def test_scan() -> None:
    code, out, _ = run("scan", "--port", SIM)
    assert code == 0
    assert out[0] == {
        "kind": "stick",
        "mac": "000D6F0000990000",
        "network_online": True,
        "circle_plus_mac": "000D6F0001000000",
    }
    assert out[1] == {"kind": "circle+", "mac": "000D6F0001000000"}
    assert [(o["kind"], o["index"], o["mac"]) for o in out[2:]] == [
        ("node", i, f"000D6F00010000{i + 1:02X}") for i in range(3)
    ]


def test_info_keys() -> None:
    code, out, _ = run("info", C1, "--port", SIM)
    assert code == 0
    (o,) = out
    for key in (
        "mac",
        "node_type",
        "datetime",
        "log_address",
        "relay",
        "hz",
        "hw_version",
        "model",
        "fw_version",
    ):
        assert key in o
    assert o["mac"] == C1 and o["node_type"] == "circle" and o["hz"] == 50 and len(o["hw_version"]) == 12
    assert o["datetime"].endswith("Z") and isinstance(o["relay"], bool) and 0 <= o["log_address"] < 6016


def test_power_switch_clock_history() -> None:
    code, out, _ = run("power", C1, "000D6F0001000002", "--port", SIM)
    assert code == 0 and [o["mac"] for o in out] == [C1, "000D6F0001000002"]
    assert set(out[0]) >= {"mac", "watts_1s", "watts_8s", "wh_hour", "wh_hour_production"}
    code, out, _ = run("switch", C1, "off", "--port", SIM)
    assert code == 0 and out == [{"mac": C1, "relay": False}]
    code, out, _ = run("clock", C1, "--sync", "--port", SIM)
    assert code == 0 and abs(out[0]["drift_s"]) < 2 and len(out[0]["schedule_crc"]) == 4
    code, out, _ = run("history", C1, "--port", SIM)
    assert code == 0 and out
    for o in out:
        assert set(o) >= {"mac", "block", "slot", "end", "minutes", "wh", "watts", "production"}


def test_power_without_macs_uses_config(tmp_path: Path) -> None:
    (tmp_path / "pwtui.toml").write_text(
        f'[stick]\nport = "{SIM}"\n[[circle]]\nmac = "{C1}"\nname = "fridge"\n'
    )
    code, out, _ = run("power", cwd=tmp_path)
    assert code == 0 and [o["mac"] for o in out] == [C1]


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["info", "XYZ", "--port", SIM], 2, "invalid MAC"),
        (["info", "000D6F00010000EE", "--port", SIM], 1, "does not answer"),
        (["switch", C1, "maybe", "--port", SIM], 2, "invalid choice"),
        (["history", C1, "--from", "7000", "--port", SIM], 2, "outside"),
        (["power", "--port", "/dev/ttyUSB_nope"], 1, "no such port"),
        (["power", "--config", "/nonexistent/pwtui.toml"], 2, "no such file"),
    ],
)
def test_errors(args: list[str], code: int, needle: str) -> None:
    got, out, err = run(*args)
    assert got == code and needle in err and out == []
    assert len(err.strip().splitlines()) <= 2


def test_bad_config_names_the_key(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(
        '[stick]\nport = 5\n[[circle]]\nmac = "123"\n[[circle]]\nmac = "000D6F0001000001"\n'
        'log_interval = 0\ncolour = "red"\n'
    )
    assert main(["power", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "'port' must be a string" in err
    assert "'mac' '123' is not 16 hex digits" in err
    assert "'log_interval' must be 1…60 minutes" in err
    assert "unknown key 'colour'" in err
