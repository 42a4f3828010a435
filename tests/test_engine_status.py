"""What the engine says: status.json while running and after a stop, the schedule in force, the start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_engine import C1, Running, engine_runs

from protocol import schedules
from pwtui import events as E
from pwtui.controlfile import update_row
from pwtui.schedulefile import NamedSchedule, write_schedules


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    yield from engine_runs(tmp_path)


def _headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "pwtui", "--headless", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env=env,
    )


def test_headless_without_a_port_exits_2_and_says_how(tmp_path) -> None:
    out = _headless(tmp_path)  # no config at all
    assert out.returncode == 2, out.stderr
    assert "--port" in out.stderr and "[stick]" in out.stderr
    cfg = tmp_path / "other.toml"
    cfg.write_text('[logging]\npower_interval = 10\n[[circle]]\nmac = "000D6F0001000001"\n')
    out = _headless(tmp_path, "--config", str(cfg))  # a config without [stick] port
    assert out.returncode == 2 and "--port" in out.stderr
    assert not (tmp_path / "data").exists(), "it logged into the data folder anyway"


def test_clean_stop_leaves_status_down_and_not_running(run) -> None:
    r = run("sim://?circles=2&seed=51&latency=0")
    r.wait(lambda: r.cycles() >= 2)
    path = r.config.paths.data / "status.json"
    running = json.loads(path.read_text())
    assert running["link"] == "up" and running["running"] is True and running["pid"] == os.getpid()
    r.close()
    stopped = json.loads(path.read_text())
    assert stopped["link"] == "down" and stopped["running"] is False


def test_status_json_is_fsynced_at_most_once_a_minute(run, monkeypatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if "status.json" in target:
            synced.append(target)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    r = run("sim://?circles=2&seed=52&latency=0")
    r.wait(lambda: r.cycles() >= 6, 15, "six cycles")
    assert len(synced) <= 1, f"{len(synced)} syncs in {r.cycles()} cycles"
    before = (r.config.paths.data / "status.json").stat().st_mtime_ns
    r.wait(lambda: (r.config.paths.data / "status.json").stat().st_mtime_ns != before, 5, "replaced")


def test_changed_active_schedule_is_in_force_at_once(run) -> None:
    r = run("sim://?circles=3&seed=53&latency=0")
    path = r.config.paths.schedules
    write_schedules(path, {"s": NamedSchedule("s", schedules.WeekSchedule.constant(schedules.OFF))})
    r.wait(lambda: r.cycles() >= 2)
    update_row(r.config.paths.control, C1, schedule="s", schedule_state=True)
    r.wait(
        lambda: r.net.circles[C1].schedule_enabled and r.net.circles[C1].relay is False, 8, "off by schedule"
    )
    t0 = time.time()
    write_schedules(path, {"s": NamedSchedule("s", schedules.WeekSchedule.constant(schedules.ON))})
    r.wait(lambda: r.net.circles[C1].relay is True, 5, "the changed schedule in force at once")
    r.wait(lambda: (c := r.engine.snapshot().circle(C1)) is not None and c.schedule_since is not None, 5)
    since = r.engine.snapshot().circle(C1).schedule_since  # type: ignore[union-attr]
    assert since is not None and since.timestamp() >= t0 - 1
    assert any(
        isinstance(e, E.EngineLog) and e.kind == "schedule" and "in force from" in e.message for e in r.events
    )
    r.wait(
        lambda: json.loads((r.config.paths.data / "status.json").read_text())["circles"][0]["schedule_since"]
    )
