"""End to end: the real `pwtui` command in tmux against the simulator, switched with keys."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import wait_for

from pwtui.controlfile import read_control

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
C1, C3 = "000D6F0001000001", "000D6F0001000003"


def config(tmp_path: Path, port: str) -> Path:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(
        f'[stick]\nport = "{port}"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        f'[[circle]]\nmac = "{C1}"\nname = "fridge"\n[[circle]]\nmac = "{C3}"\nname = "washer"\n'
    )
    return cfg


@pytest.fixture
def tmux(tmp_path):
    env = dict(os.environ, TMUX_TMPDIR=str(tmp_path), TERM="xterm-256color")
    base = ["tmux", "-L", "pwtui-e2e"]

    def t(*args: str) -> str:
        return subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=10).stdout

    yield t
    subprocess.run([*base, "kill-server"], env=env, capture_output=True, timeout=10)


def test_switch_a_circle_with_keys(tmp_path: Path, tmux) -> None:
    state = tmp_path / "sim.json"
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
            "--state",
            str(state),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = sim.stdout.readline().strip()
        cfg = config(tmp_path, url)
        tmux(
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "110",
            "-y",
            "30",
            f"{sys.executable} -m pwtui --config {cfg}",
        )
        # ready when the washer's row shows its relay state and the footer offers switching
        wait_for(
            lambda: any(
                "washer" in line and " on " in line
                for line in tmux("capture-pane", "-p", "-t", "e2e").splitlines()
            )
        )
        wait_for(lambda: "Switch" in tmux("capture-pane", "-p", "-t", "e2e"))
        screen = tmux("capture-pane", "-p", "-t", "e2e")
        assert "fridge" in screen and "link up" in screen
        tmux("send-keys", "-t", "e2e", "Down", "Space")
        wait_for(
            lambda: any(
                r.mac == C3 and not r.switch_state for r in read_control(tmp_path / "plugwise_control.csv")
            )
        )
        tmux("send-keys", "-t", "e2e", "C-q")
        wait_for(lambda: "e2e" not in tmux("list-sessions"), 10)
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(10)
    relays = {mac: c["relay"] for mac, c in json.loads(state.read_text())["circles"].items()}
    assert relays[C3] is False and relays[C1] is True


def test_attach_to_a_running_logger(tmp_path: Path, tmux) -> None:
    cfg = config(tmp_path, "sim://?circles=3&latency=0")
    logger = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)], stderr=subprocess.DEVNULL
    )
    try:
        status = tmp_path / "data" / "status.json"
        wait_for(status.exists)
        tmux(
            "new-session",
            "-d",
            "-s",
            "att",
            "-x",
            "110",
            "-y",
            "30",
            f"{sys.executable} -m pwtui --config {cfg}",
        )
        wait_for(lambda: f"attached to pid {logger.pid}" in tmux("capture-pane", "-p", "-t", "att"))
        wait_for(
            lambda: any(
                "washer" in line and " on " in line
                for line in tmux("capture-pane", "-p", "-t", "att").splitlines()
            )
        )
        tmux("send-keys", "-t", "att", "Down", "Space")

        def washer_off() -> bool:
            data = json.loads(status.read_text())
            return any(c["mac"] == C3 and c["relay"] is False for c in data["circles"])

        wait_for(washer_off)
        tmux("send-keys", "-t", "att", "q")
        wait_for(lambda: "att" not in tmux("list-sessions"), 10)
        assert logger.poll() is None, "quitting the console stopped the logger"
    finally:
        logger.send_signal(signal.SIGTERM)
        try:
            logger.wait(15)
        except subprocess.TimeoutExpired:  # never leave a logger behind
            logger.kill()
            logger.wait(5)
            raise


def test_lost_terminal_stops_cleanly_and_frees_the_stick(tmp_path: Path, tmux) -> None:
    from pwtui.lock import holder

    cfg = config(tmp_path, "sim://?circles=3&latency=0")
    tmux(
        "new-session", "-d", "-s", "hup", "-x", "100", "-y", "30", f"{sys.executable} -m pwtui --config {cfg}"
    )
    wait_for(lambda: "washer" in tmux("capture-pane", "-p", "-t", "hup"))
    assert holder(tmp_path / "data") is not None
    tmux("kill-server")  # the ssh link drops: the console gets SIGHUP
    wait_for(lambda: holder(tmp_path / "data") is None, 10)
