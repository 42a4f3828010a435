"""Bad input of every kind in the files users edit: a clear message naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pwtui.config import ConfigError, parse_config
from pwtui.controlfile import (
    ControlFileError,
    ControlRow,
    parse_control,
    read_control,
    update_row,
    write_control,
)
from pwtui.schedulefile import ScheduleFileError, parse_schedules, read_schedules, write_schedules

REPO = Path(__file__).resolve().parent.parent
HEADER = "mac, name, savelog, monitor, switch_state, schedule_state, schedule,\n"


def test_real_plugwise_2_py_control_file_reads() -> None:
    rows = parse_control(
        HEADER + "000D6F0001000000,     circle+,         \tno, no, on, off, \n"
        "000D6F0001000001,     circle1,         \tyes, no, on, off, Switching schedule 1\n"
    )
    assert rows[1] == ControlRow(
        "000D6F0001000001", "circle1", True, False, True, False, "Switching schedule 1"
    )


@pytest.mark.parametrize(
    "line,needle",
    [
        ("000D6F000100000, a, yes, no, on, off,", "line 2, column 1 (mac)"),
        ("000D6F0001000001, a, maybe, no, on, off,", "line 2, column 3 (savelog)"),
        ("000D6F0001000001, a, yes, no, dim, off,", "line 2, column 5 (switch_state)"),
        ("000D6F0001000001, a, yes, no, on, off, x, extra, more", "line 2: 9 fields"),
    ],
)
def test_control_file_errors(line: str, needle: str) -> None:
    with pytest.raises(ControlFileError, match=None) as exc:
        parse_control(HEADER + line + "\n", "plugwise_control.csv")
    assert needle in str(exc.value) and "plugwise_control.csv" in str(exc.value)


def test_control_duplicate_and_header() -> None:
    with pytest.raises(ControlFileError, match="appears twice"):
        parse_control(HEADER + "000D6F0001000001,a,yes,no,on,off,\n000D6F0001000001,b,yes,no,on,off,\n")
    with pytest.raises(ControlFileError, match="header lacks"):
        parse_control("mac, name\n")


def test_control_update_is_atomic_and_keeps_other_rows(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    write_control(p, [ControlRow("000D6F0001000001", "a"), ControlRow("000D6F0001000002", "b")])
    update_row(p, "000D6F0001000002", switch_state=False)
    rows = read_control(p)
    assert [r.switch_state for r in rows] == [True, False] and not list(tmp_path.glob(".*tmp"))


def test_schedule_file_round_trip_and_errors(tmp_path: Path) -> None:
    text = (REPO / "schedule.csv").read_text()
    scheds = parse_schedules(text)
    p = tmp_path / "s.csv"
    write_schedules(p, scheds)
    assert p.read_text() == text and read_schedules(p) == scheds
    bad = text.replace(";-1;", ";x;", 1)
    with pytest.raises(
        ScheduleFileError, match=r"line 2, column \d+ \(Day_\d\), slot \d+: 'x' is not a number"
    ):
        parse_schedules(bad, "schedule.csv")
    short = text.replace("0;0;0;", "0;", 1)
    with pytest.raises(ScheduleFileError, match="values, expected 96"):
        parse_schedules(short)
    with pytest.raises(ScheduleFileError, match="-2 is not -1"):
        parse_schedules(text.replace(";-1;", ";-2;", 1))


def test_plugwise_source_export_reads() -> None:
    # values like `07` occur in real exports
    days = ",".join(";".join(["07"] + ["-1"] * 95) for _ in range(7))
    text = (
        "ID,Type,Name,Status,CreatedDate,DeletedDate,Day_0,Day_1,Day_2,Day_3,Day_4,Day_5,Day_6,UUID,Parameters,"
        f"ChangedDate\n2,,Switching schedule 1,1,2012-5-31 9:35:33,2007-6-1 0:00:00,{days},7C4E,,2012-6-13\n"
    )
    s = parse_schedules(text)["Switching schedule 1"]
    assert s.week.at(0, 0) == 7 and s.extra["UUID"] == "7C4E"


@pytest.mark.parametrize(
    "toml,needle",
    [
        ("[stick]\nport = 5\n", "[stick]: 'port' must be a string"),
        ("[logging]\npower_interval = 0\n", "'power_interval' must be 1…3600"),
        ('[engine]\nmanual_switch = "sometimes"\n', "'manual_switch' must be one of"),
        ("[colours]\nx = 1\n", "unknown table [colours]"),
        ('[[circle]]\nname = "x"\n', "'mac' is missing"),
        ('[[circle]]\nmac = "000D6F0001000001"\n[[circle]]\nmac = "000d6f0001000001"\n', "duplicate mac"),
        ('[[circle]]\nmac = "000D6F0001000001"\nalways_on = "yes"\n', "'always_on' must be true or false"),
        ("[stick\nport=1", "pwtui.toml"),
    ],
)
def test_config_errors(toml: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(toml)
    assert needle in str(exc.value)


def test_config_defaults_and_relative_paths(tmp_path: Path) -> None:
    cfg = parse_config('[paths]\ndata = "d"\n[[circle]]\nmac = "000d6f0001000001"\n', tmp_path / "pwtui.toml")
    assert cfg.paths.data == tmp_path / "d" and cfg.circles[0].mac == "000D6F0001000001"
    assert cfg.logging.power_interval == 10 and cfg.circles[0].log_interval == 60
