"""`pwtui web` in a real headless Chromium: live dashboard, keys, one stick owner, token, clean stop.

The page draws the terminal on a <canvas>, so the screen is read from what the server
sends over the websocket, fed into a terminal emulator (pyte). Screenshots are kept in
`build/web-screenshots/` as artefacts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pyte
import pytest

from pwtui.lock import holder

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
playwright_sync = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "web-screenshots"
TOKEN = "s3cret-token"
FRIDGE = "000D6F0001000001"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(
    cond: Callable[[], object], timeout: float, what: str, pump: Callable[[], None] | None = None
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        if pump is not None:
            pump()
        else:
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _processes_with(text: str) -> list[int]:
    """Pids whose command line mentions `text` (our tmp config path)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                pids.append(int(d.name))
    return pids


class Session:
    """One browser tab and the terminal screen its websocket draws."""

    def __init__(self, page: object, name: str) -> None:
        self.page = page
        self.name = name
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        page.on("websocket", self._on_websocket)  # type: ignore[attr-defined]

    def _on_websocket(self, ws: object) -> None:
        size = re.search(r"width=(\d+)&height=(\d+)", ws.url)  # type: ignore[attr-defined]
        if size:
            self.screen.resize(int(size[2]), int(size[1]))
        ws.on("framereceived", self._received)  # type: ignore[attr-defined]
        ws.on("framesent", self._sent)  # type: ignore[attr-defined]

    def _received(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            self.stream.feed(payload)

    def _sent(self, payload: bytes | str) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            data = json.loads(payload)[1]
            self.screen.resize(int(data["height"]), int(data["width"]))

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self) -> None:
        self.page.wait_for_timeout(50)  # type: ignore[attr-defined]  # lets Playwright deliver events

    def wait_text(self, pattern: str, timeout: float = 30.0) -> None:
        rx = re.compile(pattern)
        try:
            _wait(lambda: rx.search(self.text()), timeout, f"{pattern!r} on {self.name}", self.pump)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.text()}") from None

    def wait_gone(self, pattern: str, timeout: float = 30.0) -> None:
        rx = re.compile(pattern)
        try:
            _wait(lambda: not rx.search(self.text()), timeout, f"{pattern!r} gone on {self.name}", self.pump)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.text()}") from None

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))  # type: ignore[attr-defined]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(
        '[stick]\nport = "sim://?circles=3&seed=5"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        f'[[circle]]\nmac = "{FRIDGE}"\nname = "fridge"\n'
    )
    (tmp_path / "plugwise_control.csv").write_text(
        f"mac,name,savelog,monitor,switch_state,schedule_state,schedule\n{FRIDGE},fridge,yes,yes,on,off,\n"
    )
    port = _free_port()
    env = dict(os.environ, PWTUI_WEB_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "web", "--config", str(cfg), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        assert TOKEN not in line  # never logged
        if "pwtui web on" in line:
            break
    else:
        raise AssertionError(f"pwtui web did not start (rc {proc.wait()})")
    try:
        yield proc, port, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _processes_with(str(cfg)):
            os.kill(pid, signal.SIGKILL)


def _relay(data: Path) -> bool | None:
    try:
        status = json.loads((data / "status.json").read_text())
    except (OSError, ValueError):
        return None
    for c in status.get("circles", []):
        if c["mac"] == FRIDGE:
            return bool(c["relay"])
    return None


def test_the_console_in_a_browser(served: tuple[subprocess.Popen[str], int, Path]) -> None:
    proc, port, tmp = served
    base = f"http://127.0.0.1:{port}/"
    cfg = str(tmp / "pwtui.toml")
    data = tmp / "data"

    # a wrong or missing token is refused, on the page and on the websocket
    for url in (base, base + "?token=wrong", base + "ws"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=10)
        assert err.value.code == 403

    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            tabs = browser.new_context(viewport={"width": 1100, "height": 700})  # one browser, shared cookies
            one = Session(tabs.new_page(), "tab 1")
            one.page.goto(base + f"?token={TOKEN}")  # type: ignore[attr-defined]
            # the dashboard with live readings, attached to the one owner
            one.wait_text(r"fridge")
            one.wait_text(r"fridge.*\d+\.\d")  # its live watts
            one.wait_text(r"attached to pid \d+")
            one.shot("dashboard")

            # keys: ? opens help, escape closes it
            one.page.click("#terminal")  # type: ignore[attr-defined]  # keys go to the terminal
            one.page.keyboard.press("?")  # type: ignore[attr-defined]
            one.wait_text(r"Schedule editor")  # a screen only help describes
            one.shot("help")
            one.page.keyboard.press("Escape")  # type: ignore[attr-defined]
            one.wait_gone(r"Schedule editor")  # help closed (its frames may come after the dashboard's)
            one.wait_text(r"fridge.*\d+\.\d")

            # two sessions, one process owns the stick: the logger `pwtui web` started
            two = Session(tabs.new_page(), "tab 2")
            two.page.goto(base)  # type: ignore[attr-defined]  # the cookie carries the token
            two.wait_text(r"fridge")
            owner = holder(data)
            assert owner is not None
            loggers = [
                p for p in _processes_with(cfg) if b"--headless" in Path(f"/proc/{p}/cmdline").read_bytes()
            ]
            assert loggers == [owner]
            consoles = [
                p
                for p in _processes_with(cfg)
                if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[2:3] == [b"pwtui"]
                and b"--headless" not in Path(f"/proc/{p}/cmdline").read_bytes()
                and b"web" not in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
            ]
            assert len(consoles) == 2, consoles

            # the first tab closes; the second keeps working and switches the fridge
            one.page.close()  # type: ignore[attr-defined]
            _wait(lambda: _relay(data) is not None, 20, "status.json")
            before = _relay(data)
            two.page.click("#terminal")  # type: ignore[attr-defined]
            two.page.keyboard.press(" ")  # type: ignore[attr-defined]
            _wait(lambda: _relay(data) == (not before), 20, "the fridge to switch", two.pump)
            two.wait_text(r"(?i)\boff\b" if before else r"(?i)\bon\b")
            two.shot("after-switch")
            assert holder(data) == owner  # logging never stopped
        finally:
            browser.close()

    # SIGTERM stops the server, its sessions and the logger it started: nothing left
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    _wait(lambda: not _processes_with(cfg), 20, "every process to end")
    assert holder(data) is None


def test_binding_beyond_localhost_needs_a_token(tmp_path: Path) -> None:
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text('[stick]\nport = "sim://?circles=1"\n')
    env = {k: v for k, v in os.environ.items() if k != "PWTUI_WEB_TOKEN"}
    r = subprocess.run(
        [sys.executable, "-m", "pwtui", "web", "--config", str(cfg), "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "token" in r.stderr and "ssh -L" in r.stderr
    assert not (tmp_path / "data" / "pwtui.lock").exists() or holder(tmp_path / "data") is None
