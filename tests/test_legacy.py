"""`pwtui import-legacy`: early and later Plugwise-2-py folders become pwtui files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.errors import PortError
from pwtui import legacy as legacy_module
from pwtui.cli import main
from pwtui.config import load_config
from pwtui.controlfile import ControlFileError, read_control
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
    (src / "schedule.csv").write_text((REPO / "pwtui" / "examples" / "schedule.csv").read_text())
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
    assert "000D6F00010000ZZ" in p.stderr and "no Plugwise-2-py logs found" in p.stderr
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


# --- every malformed input is a clear message, never a traceback (issue 15.7) ----------------

GOOD_CFG = "mac, name, location, category, loginterval, production, always_on\n000D6F0001000003, solar, roof, PV, 2, True, True\n"


def legacy(folder: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["import-legacy", str(folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("pw-conf.json", b"[]", "pw-conf.json: must be a JSON object"),
        ("pw-conf.json", b'{"static": {"mac": "x"}}', "pw-conf.json: 'static': must be a JSON list"),
        ("pw-conf.json", b'{"static": [', "pw-conf.json: not valid JSON"),
        ("pw-conf.json", b"[" * 100_000, "pw-conf.json: "),
        ("pw-hostconfig.json", b'"serial"', "pw-hostconfig.json: must be a JSON object"),
        ("pw-control.json", b'{"dynamic": 5}', "pw-control.json: 'dynamic': must be a JSON list"),
        (
            "plugwise.cfg",
            b"mac, name\n000D6F0001000003, caf\xe9\n",
            "plugwise.cfg, line 2, column 22: byte 0xE9",
        ),
        (
            "plugwise_control.csv",
            b"mac, name\n# caf\xe9\n",
            "plugwise_control.csv, line 2, column 6: byte 0xE9",
        ),
        ("schedule.csv", b"Name\n\xff\n", "schedule.csv, line 2, column 1: byte 0xFF"),
    ],
    ids=[
        "conf-list",
        "static-not-list",
        "conf-truncated",
        "conf-deep",
        "hostconfig-string",
        "dynamic-not-list",
        "cfg-latin1",
        "control-latin1",
        "schedule-latin1",
    ],
)
def test_malformed_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, needle: str
) -> None:
    src, out = tmp_path / "old", tmp_path / "new"
    src.mkdir()
    (src / name).write_bytes(content)
    rc, err = legacy(src, out, capsys)
    assert rc == 2 and needle in err and str(src) in err
    assert not out.exists() or not any(out.iterdir()), "nothing is written on a failed import"


def test_bad_entries_are_skipped_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "old", tmp_path / "new"
    (src / "schedules").mkdir(parents=True)
    good = {"mac": "000D6F0001000003", "name": "solar"}
    (src / "pw-conf.json").write_text(json.dumps({"static": [5, good, ["x"], {"mac": 7}]}))
    (src / "pw-control.json").write_text(json.dumps({"dynamic": ["x", {**good, "schedule": "\ud800"}]}))
    (src / "schedules" / "list.json").write_text("[1, 2]")
    (src / "schedules" / "huge.json").write_text(json.dumps({"schedule": [[1e300] * 96] * 7}))
    (src / "schedules" / "range.json").write_text(json.dumps({"schedule": [[-5] * 96] * 7}))
    rc, err = legacy(src, out, capsys)
    assert rc == 0, err
    for needle in (
        "pw-conf.json entry 1: not an object; skipped",
        "pw-conf.json entry 3: not an object; skipped",
        "pw-conf.json entry 4: mac '7' is not 16 hex digits",
        "pw-control.json entry 1: not an object; skipped",
        "list.json: not a week schedule",
        "huge.json: not a week schedule",
        "range.json: not a week schedule",
    ):
        assert needle in err
    assert [c.mac for c in load_config(out / "pwtui.toml").circles] == ["000D6F0001000003"]
    assert [r.mac for r in read_control(out / "plugwise_control.csv")] == ["000D6F0001000003"]


def test_byte_order_marks_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "old", tmp_path / "new"
    src.mkdir()
    bom = "\ufeff"
    (src / "pw-hostconfig.json").write_text(bom + json.dumps({"serial": "/dev/ttyUSB3"}), encoding="utf-8")
    (src / "plugwise.cfg").write_text(bom + GOOD_CFG, encoding="utf-8")
    (src / "plugwise_control.csv").write_text(
        bom + "mac, name, savelog, monitor, switch_state, schedule_state, schedule,\n"
        "000D6F0001000003, solar, yes, yes, off, off,\n",
        encoding="utf-8",
    )
    (src / "schedule.csv").write_text(
        bom + (REPO / "pwtui/examples/schedule.csv").read_text(), encoding="utf-8"
    )
    rc, err = legacy(src, out, capsys)
    assert rc == 0, err
    cfg = load_config(out / "pwtui.toml")
    assert cfg.stick.port == "/dev/ttyUSB3" and cfg.circles[0].mac == "000D6F0001000003"
    assert not read_control(out / "plugwise_control.csv")[0].switch_state
    assert "evening lights" in read_schedules(out / "schedule.csv")
    assert "not carried over" not in err


def test_mqtt_settings_are_carried_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "old", tmp_path / "new"
    src.mkdir()
    host = {
        "serial": "/dev/ttyUSB0",
        "mqtt_ip": "192.168.1.5",
        "mqtt_port": "1884",
        "mqtt_user": "pw",
        "mqtt_password": 'se"cret',
    }
    (src / "pw-hostconfig.json").write_text(json.dumps(host))
    (src / "plugwise.cfg").write_text(GOOD_CFG)
    old = os.umask(0o022)
    try:
        rc, err = legacy(src, out, capsys)
    finally:
        os.umask(old)
    assert rc == 0, err
    mqtt = load_config(out / "pwtui.toml").mqtt
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.password) == ("192.168.1.5", 1884, "pw", 'se"cret')
    assert mqtt.enabled and "mqtt_ip" not in err
    assert stat.S_IMODE((out / "pwtui.toml").stat().st_mode) == 0o600  # it holds a password
    assert stat.S_IMODE((out / "plugwise_control.csv").stat().st_mode) == 0o644


def test_bad_mqtt_port_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "old", tmp_path / "new"
    src.mkdir()
    (src / "pw-hostconfig.json").write_text(json.dumps({"mqtt_ip": "broker", "mqtt_port": "99999"}))
    rc, err = legacy(src, out, capsys)
    assert rc == 0 and "mqtt_port '99999' is not a port" in err
    assert load_config(out / "pwtui.toml").mqtt.port == 1883


@pytest.mark.parametrize(
    "exc,rc,needle",
    [
        (TimeoutError(), 1, "pwtui: no answer in time"),
        (PortError("/dev/ttyUSB9: no such port"), 1, "pwtui: /dev/ttyUSB9: no such port"),
        (ControlFileError("c.csv, line 2: bad"), 2, "pwtui: c.csv, line 2: bad"),
        (KeyError("x"), 1, "pwtui: internal error: KeyError: 'x' (set PWTUI_DEBUG=1"),
    ],
)
def test_cli_turns_any_failure_into_a_message_and_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    rc: int,
    needle: str,
) -> None:
    def fail(args: object) -> int:
        raise exc

    monkeypatch.setattr(legacy_module, "main", fail)
    monkeypatch.delenv("PWTUI_DEBUG", raising=False)
    got, err = legacy(tmp_path, tmp_path / "out", capsys)
    assert got == rc and err.startswith(needle)
    monkeypatch.setenv("PWTUI_DEBUG", "1")
    with pytest.raises(type(exc)):
        main(["import-legacy", str(tmp_path)])


def test_subcommands_do_not_import_the_command_line() -> None:
    """UsageError/DeviceError live in pwtui/errors.py: no import circle through cli.py."""
    offenders = [
        p.name
        for p in (REPO / "pwtui").rglob("*.py")
        if p.name not in ("cli.py", "__main__.py")
        and ("from .cli import" in p.read_text() or "pwtui.cli" in p.read_text())
    ]
    assert offenders == []
