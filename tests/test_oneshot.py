"""One-shot commands: JSON keys of DESIGN.md, exit codes, readable errors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pwtui.cli import main
from pwtui.controlfile import read_control
from pwtui.lock import acquire

sys.path.insert(0, str(Path(__file__).parent))
from silent_stick import SilentStick
from waiting import wait_for

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


# --- through a running logger (one owner of the stick) -------------------------------

C3 = "000D6F0001000003"


def logger_config(folder: Path, port: str) -> Path:
    cfg = folder / "pwtui.toml"
    cfg.write_text(
        f'[stick]\nport = "{port}"\ntimeout = 2.0\n[logging]\npower_interval = 2\n'
        f'[[circle]]\nmac = "{C1}"\nname = "fridge"\n[[circle]]\nmac = "{C3}"\nname = "washer"\n'
        "always_on = true\n"
    )
    return cfg


@contextlib.contextmanager
def headless(cfg: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)], stderr=subprocess.DEVNULL
    )
    try:
        status = cfg.parent / "data" / "status.json"
        wait_for(lambda: proc.poll() is not None or ('"link": "up"' in _read(status)))
        assert proc.poll() is None, "the logger did not start"
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_one_shots_go_through_a_running_sim_logger(tmp_path: Path) -> None:
    cfg = logger_config(tmp_path, SIM)
    with headless(cfg) as logger:
        code, out, _ = run("scan", cwd=tmp_path)
        assert code == 0 and out[0]["mac"] == "000D6F0000990000" and len(out) == 5
        # the switch is the logger's own command: its network, its control file
        code, out, err = run("switch", C1, "off", cwd=tmp_path)
        assert (code, out) == (0, [{"mac": C1, "relay": False}]), err
        rows = {r.mac: r for r in read_control(tmp_path / "plugwise_control.csv")}
        assert rows[C1].switch_state is False
        code, out, _ = run("info", C1, cwd=tmp_path)
        assert code == 0 and out[0]["relay"] is False, "info read another network than the logger's"
        code, out, err = run("switch", C3, "off", cwd=tmp_path)
        assert code == 1 and out == [] and "always on" in err
        code, out, _ = run("power", cwd=tmp_path)
        assert code == 0 and [o["mac"] for o in out] == [C1, C3]
        # the same port given explicitly: still the logger's; no circles listed: its node table
        code, out, _ = run("power", "--port", SIM, cwd=tmp_path)
        assert code == 0 and [o["mac"] for o in out] == [f"000D6F00010000{i:02X}" for i in range(4)]
        # C1 is off on the logger's network: its 8-s mean falls to 0 within 8 s of the switch
        deadline = time.monotonic() + 20
        while next(o for o in out if o["mac"] == C1)["watts_8s"] != 0:
            assert time.monotonic() < deadline, "C1 still draws power on the logger's network"
            code, out, _ = run("power", C1, "--port", SIM, cwd=tmp_path)
            assert code == 0
        code, out, _ = run("clock", C1, "--sync", cwd=tmp_path)
        assert code == 0 and abs(out[0]["drift_s"]) < 2
        code, out, _ = run("history", C1, cwd=tmp_path)
        assert code == 0 and out and {o["mac"] for o in out} == {C1}
        code, out, _ = run("info", "000D6F00010000EE", cwd=tmp_path)
        assert code == 1
        proc = subprocess.run(
            [sys.executable, "-m", "pwtui", "status", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        status = json.loads(proc.stdout)
        assert status["pid"] == logger.pid and status["link"] == "up" and status["clients"] == 1
        assert {c["mac"] for c in status["circles"]} >= {C1, C3}


def test_one_shots_share_a_socket_stick_with_the_logger(tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pwtui",
            "simulate",
            "--tcp",
            "127.0.0.1:0",
            "--circles",
            "3",
            "--latency",
            "0",
            "--history",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().strip()
        assert url.startswith("socket://")
        cfg = logger_config(tmp_path, url)
        with headless(cfg):
            for args in (["scan"], ["info", C1], ["power", C1], ["history", C1]):
                code, out, err = run(*args, "--config", str(cfg))
                assert code == 0 and out, f"{args}: {err}"
    finally:
        sim.send_signal(signal.SIGINT)
        _, err = sim.communicate(timeout=10)
    assert err.count("client connected") == 1, "a one-shot opened the stick a second time"


def test_status_without_a_logger_names_the_stale_file(tmp_path: Path) -> None:
    cfg = logger_config(tmp_path, SIM)
    proc = subprocess.run(
        [sys.executable, "-m", "pwtui", "status", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "no pwtui logger runs" in proc.stderr and proc.stdout == ""
    with headless(cfg) as logger:
        logger.kill()  # status.json stays behind, saying "up"
        logger.wait(10)
    proc = subprocess.run(
        [sys.executable, "-m", "pwtui", "status", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"written by pid {logger.pid} (not running)" in proc.stderr and " s ago" in proc.stderr


def test_a_logger_that_does_not_answer_is_not_bypassed(tmp_path: Path) -> None:
    logger_config(tmp_path, SIM)
    lock = acquire(tmp_path / "data")  # a lock holder without a control socket
    try:
        code, out, err = run("info", C1, cwd=tmp_path)
        status = subprocess.run(
            [sys.executable, "-m", "pwtui", "status"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
    assert code == 1 and out == [] and f"pid {os.getpid()}" in err and "does not answer" in err
    assert status.returncode == 1 and f"pid {os.getpid()} owns the stick" in status.stderr


# --- robustness (issue 15.7) ----------------------------------------------------------


def test_history_from_after_to_is_a_usage_error() -> None:
    code, out, err = run("history", C1, "--from", "10", "--to", "5", "--port", SIM)
    assert code == 2 and out == [] and "--from 10 is after --to 5" in err


@pytest.mark.parametrize("args", [["scan"], ["power", C1]])
def test_circles_that_never_answer_end_in_a_message(args: list[str]) -> None:
    stick = SilentStick()
    try:
        code, _, err = run(*args, "--port", stick.url)
    finally:
        stick.close()
    assert code == 1 and "does not answer" in err, err
    assert len(err.strip().splitlines()) == 1


def test_power_uses_the_calibrations_the_logger_cached_for_that_port(tmp_path: Path, capsys) -> None:
    from test_engine import Running

    from protocol import virtual

    url = "sim://?circles=3&seed=71&latency=0"
    logger = Running(tmp_path, url)
    wait_for(lambda: all((c := logger.engine.snapshot().circle(m)) and c.calibration for m in (C1, C3)))
    logger.close()
    net = virtual.network_for(url)
    net.requests_by_id.clear()
    cfg = tmp_path / "pwtui.toml"
    assert main(["power", "--config", str(cfg)]) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and all(isinstance(r["watts_8s"], float) for r in rows)
    assert net.requests_by_id["0026"] == 0, "calibration asked although the logger cached it"
    true = net.circles[C1].true_watts(net.now_ts())
    c1 = next(r for r in rows if r["mac"] == C1)
    assert abs(c1["watts_8s"] - true) <= max(5.0, 0.1 * abs(true))
    # another network on the same MACs: its calibrations are its own
    other = "sim://?circles=3&seed=72&latency=0"
    virtual.forget(other)
    assert main(["power", "--config", str(cfg), "--port", other]) == 0
    assert virtual.network_for(other).requests_by_id["0026"] == 3
