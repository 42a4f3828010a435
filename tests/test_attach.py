"""An attached console against real `pwtui --headless` processes: events pushed,
commands answered, a killed (or hung) owner noticed within 5 s, re-attached
when a logger is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from waiting import wait_for

from protocol import virtual
from pwtui import events as E
from pwtui.attach import AttachedEngine
from pwtui.config import Config, load_config

C1, C2, C3 = (virtual.circle_mac(i) for i in (1, 2, 3))


def write_config(folder: Path, latency: int = 0) -> Config:
    cfg = folder / "pwtui.toml"
    cfg.write_text(f"""
[stick]
port = "sim://?circles=3&seed=3&latency={latency}"
timeout = 2.0
[logging]
power_interval = 1
[[circle]]
mac = "{C1}"
name = "fridge"
[[circle]]
mac = "{C3}"
name = "washer"
always_on = true
""")
    return load_config(cfg)


def start_logger(config: Config) -> subprocess.Popen[bytes]:
    assert config.path is not None
    proc = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "--headless", "--config", str(config.path)],
        stderr=subprocess.DEVNULL,
    )
    sock = config.paths.data / "pwtui.sock"
    wait_for(lambda: sock.exists() or proc.poll() is not None)
    assert proc.poll() is None, "the logger did not start"
    return proc


class Console:
    """An AttachedEngine run the way the console runs it: in a thread, events collected."""

    def __init__(self, config: Config) -> None:
        self.events: list[tuple[float, E.Event]] = []
        self.engine = AttachedEngine(config, None, lambda e: self.events.append((time.monotonic(), e)))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.engine.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def owner(self, alive: bool, after: float = 0.0) -> list[tuple[float, E.OwnerStatus]]:
        return [
            (t, e) for t, e in self.events if isinstance(e, E.OwnerStatus) and e.alive is alive and t >= after
        ]

    def of(self, kind: type, after: float = 0.0) -> list[E.Event]:
        return [e for t, e in self.events if isinstance(e, kind) and t >= after]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "run() did not return after stop"


def test_events_pushed_and_commands_answered(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    logger = start_logger(config)
    console = Console(config)
    try:
        wait_for(lambda: console.owner(True))
        assert console.owner(True)[0][1].pid == logger.pid
        first = console.events[0][1]
        assert isinstance(first, E.OwnerStatus), "an event came before the attach was announced"
        assert console.engine.snapshot().link.attached_pid == logger.pid
        # pushed, not polled: several cycle updates arrive, each with the owner's state
        wait_for(lambda: len(console.of(E.CycleUpdate)) >= 3)
        wait_for(lambda: console.engine.snapshot().circle(C1) is not None)
        console.engine.submit(E.Switch(mac=C1, on=False, id=901))
        wait_for(
            lambda: any(
                isinstance(e, E.CommandResult) and e.command_id == 901 for e in console.of(E.CommandResult)
            )
        )
        done = next(
            e for e in console.of(E.CommandResult) if isinstance(e, E.CommandResult) and e.command_id == 901
        )
        assert done.ok, done.message
        console.engine.submit(E.Switch(mac=C3, on=False, id=902))
        wait_for(
            lambda: any(
                isinstance(e, E.CommandResult) and e.command_id == 902 for e in console.of(E.CommandResult)
            )
        )
        refused = next(
            e for e in console.of(E.CommandResult) if isinstance(e, E.CommandResult) and e.command_id == 902
        )
        assert not refused.ok and "always on" in refused.message
        wait_for(lambda: (c := console.engine.snapshot().circle(C1)) is not None and c.relay is False)
    finally:
        console.close()
        logger.send_signal(signal.SIGTERM)
        logger.wait(10)
    assert not (config.paths.data / "pwtui.sock").exists(), "a stopped logger left its socket behind"


def test_owner_killed_is_noticed_within_5_s_and_reattached(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = start_logger(config)
    console = Console(config)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: console.owner(True))
        wait_for(lambda: console.of(E.CycleUpdate))
        killed = time.monotonic()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: console.owner(False, killed), 10)
        noticed, status = console.owner(False, killed)[0]
        assert noticed - killed < 5.0, f"noticed after {noticed - killed:.1f} s"
        assert status.pid == first.pid and "stopped" in status.message
        links = [e for e in console.of(E.LinkChanged, killed) if isinstance(e, E.LinkChanged)]
        assert links and links[0].link.up is False
        assert console.engine.snapshot().link.up is False and not console.engine.alive
        # actions while no owner runs are refused at once, never "sent" into the void
        console.engine.submit(E.Switch(mac=C1, on=True, id=903))
        wait_for(lambda: console.of(E.CommandResult, killed))
        (refused,) = console.of(E.CommandResult, killed)
        assert isinstance(refused, E.CommandResult) and not refused.ok and "no logger" in refused.message
        # a new logger: the console attaches again by itself and gets a fresh snapshot
        back = time.monotonic()
        second = start_logger(config)
        wait_for(lambda: console.owner(True, back), 20)
        assert console.owner(True, back)[0][1].pid == second.pid
        wait_for(
            lambda: [
                e
                for e in console.of(E.CycleUpdate, back)
                if isinstance(e, E.CycleUpdate) and e.snapshot.link.up
            ]
        )
        assert console.engine.snapshot().link.attached_pid == second.pid and console.engine.alive
    finally:
        console.close()
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)


def test_a_command_in_progress_when_the_owner_dies_gets_a_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path, latency=600)  # 7.5x the capture: a clock sync then takes seconds
    logger = start_logger(config)
    console = Console(config)
    try:
        wait_for(lambda: (c := console.engine.snapshot().circle(C1)) is not None and c.online, 60)
        console.engine.submit(E.SyncClock(mac=C1, id=905))
        wait_for(lambda: console.engine.awaiting_results() == [905], 10)  # accepted, at work
        killed = time.monotonic()
        logger.kill()
        logger.wait(10)
        wait_for(lambda: console.of(E.CommandResult, killed), 10)
        (lost,) = console.of(E.CommandResult, killed)
        assert isinstance(lost, E.CommandResult) and lost.command_id == 905 and not lost.ok
        assert "before answering" in lost.message and console.engine.awaiting_results() == []
    finally:
        console.close()
        if logger.poll() is None:
            logger.kill()
            logger.wait(10)


def test_hung_owner_is_noticed_by_its_silence(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    logger = start_logger(config)
    console = Console(config)
    try:
        wait_for(lambda: console.owner(True))
        stopped = time.monotonic()
        os.kill(logger.pid, signal.SIGSTOP)
        console.engine.submit(E.Switch(mac=C1, on=False, id=904))  # sent, never answered
        wait_for(lambda: console.owner(False, stopped), 10)
        assert console.owner(False, stopped)[0][0] - stopped < 5.0
        wait_for(lambda: console.of(E.CommandResult, stopped))
        (lost,) = console.of(E.CommandResult, stopped)
        assert isinstance(lost, E.CommandResult) and lost.command_id == 904 and not lost.ok
        assert "went away" in lost.message
        resumed = time.monotonic()
        os.kill(logger.pid, signal.SIGCONT)
        wait_for(lambda: console.owner(True, resumed), 20)
        wait_for(lambda: len(console.of(E.CycleUpdate, resumed)) >= 2)
        assert len(console.of(E.CommandResult, stopped)) == 1, "a command got two results"
    finally:
        console.close()
        os.kill(logger.pid, signal.SIGCONT)
        logger.send_signal(signal.SIGTERM)
        logger.wait(10)


def test_no_logger_at_start_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    console = Console(config)
    try:
        wait_for(lambda: console.owner(False), 5)
        assert "no logger" in console.owner(False)[0][1].message
        assert not console.owner(True)
    finally:
        console.close()


def test_run_returns_promptly_while_the_owner_hangs(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    logger = start_logger(config)
    console = Console(config)
    try:
        wait_for(lambda: console.owner(True))
        os.kill(logger.pid, signal.SIGSTOP)
        wait_for(lambda: console.owner(False), 10)
        tried = console.engine.attempts
        wait_for(lambda: console.engine.attempts > tried, 10)  # inside a re-attach to the hung owner
        asked = time.monotonic()
        console.stop.set()
        console.thread.join(10)
        assert time.monotonic() - asked < 1.8, "run() did not return within 2 s of stop"
    finally:
        os.kill(logger.pid, signal.SIGCONT)
        logger.send_signal(signal.SIGTERM)
        logger.wait(10)
