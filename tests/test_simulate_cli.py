"""`pwtui simulate --pty/--tcp`: any serial client can talk to it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import serial

from protocol import messages as M
from protocol.circle import Circle
from protocol.frames import FrameDecoder, encode_frame
from protocol.stick import Stick


def start(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "simulate", "--latency", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().strip()
    return proc, first


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    return err


def test_pty_with_plain_pyserial() -> None:
    proc, path = start("--pty", "--circles", "2")
    try:
        assert path.startswith("/dev/")
        ser = serial.Serial(path, 115200, timeout=0.1)
        ser.write(encode_frame(M.encode(M.StickInitRequest())))
        dec = FrameDecoder()
        frames = []
        deadline = time.monotonic() + 5
        while len(frames) < 2 and time.monotonic() < deadline:
            frames += dec.feed(ser.read(200))
        assert [f.message_id for f in frames] == ["0000", "0011"]
        ser.close()
    finally:
        err = stop(proc)
    assert "simulating" in err


def test_tcp_with_our_driver(tmp_path) -> None:
    state = tmp_path / "sim.json"
    proc, url = start("--tcp", "127.0.0.1:0", "--circles", "2", "--state", str(state))
    try:
        assert url.startswith("socket://127.0.0.1:")
        with Stick(url, timeout=2.0) as s:
            assert s.info.circle_plus_mac == "000D6F0001000000"
            assert Circle(s, "000D6F0001000002").switch(False) is False
    finally:
        stop(proc)
    assert '"relay": false' in state.read_text()
    # the state survives a restart
    proc, url = start("--tcp", "127.0.0.1:0", "--circles", "2", "--state", str(state))
    try:
        with Stick(url, timeout=2.0) as s:
            assert Circle(s, "000D6F0001000002").info().relay is False
    finally:
        stop(proc)


def test_bad_arguments_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pwtui", "simulate", "--circles", "99"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "0…63" in proc.stderr
