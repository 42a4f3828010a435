"""`pwtui import-legacy`: early and later Plugwise-2-py folders become pwtui files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pwtui.config import load_config
from pwtui.controlfile import read_control
from pwtui.schedulefile import read_schedules

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pwtui", "import-legacy", *args], capture_output=True, text=True, timeout=60
    )


def test_early_folder(tmp_path: Path) -> None:
    src = tmp_path / "old"
    src.mkdir()
    (src / "pw-hostconfig.json").write_text(json.dumps({"serial": "/dev/ttyUSB1", "permanent_path": "/x"}))
    (src / "plugwise.cfg").write_text(
        "mac, name, location, category, loginterval, production, always_on\n"
        "000D6F0001000000,     circle+,         hall1,   divers,  60,  False,  False\n"
        "000D6F0001000003,     solar-500,    floor3,   PV,       2,   True,   True\n"
        "000D6F00010000ZZ,     broken,    x,   y,       2,   True,   True\n"
    )
    (src / "plugwise_control.csv").write_text(
        "mac, name, savelog, monitor, switch_state, schedule_state, schedule,\n"
        "000D6F0001000000,     circle+,         \tno, no, on, off, \n"
        "000D6F0001000003,     solar-500, yes, yes, on, on, evening lights\n"
    )
    (src / "schedule.csv").write_text((REPO / "schedule.csv").read_text())
    out = tmp_path / "new"
    out.mkdir()
    p = run(str(src), "--out", str(out))
    assert p.returncode == 0, p.stderr
    cfg = load_config(out / "pwtui.toml")
    assert cfg.stick.port == "/dev/ttyUSB1"
    solar = cfg.circle("000D6F0001000003")
    assert (
        solar
        and solar.production
        and solar.always_on
        and solar.log_interval == 2
        and solar.location == "floor3"
    )
    rows = {r.mac: r for r in read_control(out / "plugwise_control.csv")}
    assert rows["000D6F0001000003"].schedule == "evening lights" and rows["000D6F0001000003"].schedule_state
    assert "evening lights" in read_schedules(out / "schedule.csv")
    assert "000D6F00010000ZZ" in p.stderr and "permanent_path" in p.stderr
    # a second import never overwrites: the configuration written (and maybe edited) stays
    (out / "pwtui.toml").write_text((out / "pwtui.toml").read_text() + "# edited by the user\n")
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    p = run(str(src), "--out", str(out))
    assert p.returncode == 0 and "kept" in p.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before
    # a folder holding only some of the files is refused
    (out / "pwtui.toml").unlink()
    p = run(str(src), "--out", str(out))
    assert p.returncode == 2 and "will not overwrite" in p.stderr


def test_later_folder(tmp_path: Path) -> None:
    src = tmp_path / "old"
    (src / "schedules").mkdir(parents=True)
    (src / "pw-conf.json").write_text(
        json.dumps(
            {
                "static": [
                    {
                        "mac": "000D6F00019E1A25",
                        "category": "verbruik",
                        "name": "meter",
                        "loginterval": "2",
                        "always_on": "False",
                        "production": "False",
                        "location": "wisselend",
                    }
                ]
            }
        )
    )
    (src / "pw-control.json").write_text(
        json.dumps(
            {
                "log_comm": "no",
                "dynamic": [
                    {
                        "switch_state": "off",
                        "monitor": "yes",
                        "schedule": "__PW2PY__winter",
                        "schedule_state": "on",
                        "mac": "000D6F00019E1A25",
                        "savelog": "yes",
                        "name": "meter",
                    }
                ],
            }
        )
    )
    days = [[0] * 66 + [-1] * 26 + [0] * 4 for _ in range(7)]
    (src / "schedules" / "winter.json").write_text(
        json.dumps({"name": "Switching schedule 1", "schedule": days})
    )
    out = tmp_path / "new"
    out.mkdir()
    p = run(str(src), "--out", str(out))
    assert p.returncode == 0, p.stderr
    row = read_control(out / "plugwise_control.csv")[0]
    assert row.schedule == "winter" and row.schedule_state and not row.switch_state and row.monitor
    assert read_schedules(out / "schedule.csv")["winter"].week.day(0) == tuple(days[0])
    assert load_config(out / "pwtui.toml").circles[0].log_interval == 2


def test_missing_folder() -> None:
    p = run("/nonexistent/folder")
    assert p.returncode == 2 and "not a folder" in p.stderr
