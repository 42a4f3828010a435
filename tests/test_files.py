"""Bad input of every kind in the files users edit: a clear message naming file, line and field."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from waiting import wait_for

from protocol import virtual
from pwtui import events as E
from pwtui.atomic import write_atomic
from pwtui.config import ConfigError, load_config, parse_config
from pwtui.controlfile import (
    ControlFileError,
    ControlRow,
    parse_control,
    read_control,
    update_row,
    write_control,
)
from pwtui.engine import Engine
from pwtui.schedulefile import (
    ScheduleFileError,
    example_text,
    parse_schedules,
    read_schedules,
    write_schedules,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "pwtui" / "examples" / "schedule.csv"
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
    text = EXAMPLE.read_text()
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


# --- read defensively: BOM, other encodings, huge fields (issue 15.1) ---------------------

CONTROL = HEADER + "000D6F0001000001, fridge, yes, yes, on, off,\n"


def test_bom_is_accepted_everywhere(tmp_path: Path) -> None:
    bom = "\ufeff"
    (tmp_path / "pwtui.toml").write_text(bom + '[stick]\nport = "sim://"\n', encoding="utf-8")
    assert load_config(tmp_path / "pwtui.toml").stick.port == "sim://"
    (tmp_path / "c.csv").write_text(bom + CONTROL, encoding="utf-8")
    assert read_control(tmp_path / "c.csv")[0].name == "fridge"
    (tmp_path / "s.csv").write_text(bom + EXAMPLE.read_text(), encoding="utf-8")
    assert "evening lights" in read_schedules(tmp_path / "s.csv")
    assert parse_control(bom + CONTROL)[0].mac == "000D6F0001000001"
    assert parse_config(bom + '[stick]\nport = "x"\n').stick.port == "x"  # text read elsewhere
    assert "evening lights" in parse_schedules(bom + EXAMPLE.read_text())


@pytest.mark.parametrize("kind", ["toml", "control", "schedule"])
def test_latin1_is_a_clear_error_naming_file_and_line(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "f"
    if kind == "toml":
        p.write_bytes(b'[stick]\nport = "sim://"\n[[circle]]\nmac = "000D6F0001000001"\nname = "caf\xe9"\n')
        with pytest.raises(ConfigError) as exc:
            load_config(p)
        line = 5
    elif kind == "control":
        p.write_bytes((HEADER + "000D6F0001000001, caf").encode() + b"\xe9, yes, yes, on, off,\n")
        with pytest.raises(ControlFileError) as exc:
            read_control(p)
        line = 2
    else:
        text = EXAMPLE.read_text().replace("evening lights", "caf\xe9")
        p.write_bytes(text.encode("latin-1"))
        with pytest.raises(ScheduleFileError) as exc:
            read_schedules(p)
        line = 2
    assert f"{p}, line {line}" in str(exc.value) and "0xE9 is not UTF-8" in str(exc.value)


def test_huge_fields_and_files_are_clear_errors(tmp_path: Path) -> None:
    big = "x" * 200_000
    with pytest.raises(ControlFileError, match=r"c\.csv, line 3: a field is longer than"):
        parse_control(CONTROL + f"000D6F0001000002, {big}, yes, yes, on, off,\n", "c.csv")
    text = EXAMPLE.read_text()
    with pytest.raises(ScheduleFileError, match=r"s\.csv, line 5: a field is longer than"):
        parse_schedules(text + f"9,,{big}\n", "s.csv")
    p = tmp_path / "c.csv"
    p.write_text(CONTROL + "#" * 5_000_000)
    with pytest.raises(ControlFileError, match="more than the"):
        read_control(p)


def test_the_running_logger_keeps_its_last_good_control_file(tmp_path: Path) -> None:
    """A Latin-1 control file or a huge field used to end the logger with a traceback."""
    url = "sim://?circles=1&seed=5&latency=0"
    virtual.forget(url)
    (tmp_path / "pwtui.toml").write_text(
        f'[stick]\nport = "{url}"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        '[[circle]]\nmac = "000D6F0001000001"\nname = "fridge"\n'
    )
    cfg = load_config(tmp_path / "pwtui.toml")
    cfg.paths.control.write_text(CONTROL)
    logs: list[E.EngineLog] = []
    cycles: list[E.CycleUpdate] = []

    def on_event(ev: E.Event) -> None:
        if isinstance(ev, E.EngineLog):
            logs.append(ev)
        elif isinstance(ev, E.CycleUpdate):
            cycles.append(ev)

    engine = Engine(cfg, on_event=on_event)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(cycles) >= 2)
        for bad, where in (
            ((HEADER + "000D6F0001000001, caf").encode() + b"\xe9, yes, yes, on, off,\n", "line 2"),
            ((CONTROL + "000D6F0001000002, " + "x" * 200_000 + ", yes, yes, on, off\n").encode(), "line 3"),
        ):
            cfg.paths.control.write_bytes(bad)
            wait_for(lambda: any(f"{cfg.paths.control}, {where}" in m.message for m in logs))  # noqa: B023
            logs.clear()
            before = len(cycles)
            wait_for(lambda before=before: len(cycles) >= before + 2)  # type: ignore[misc]
            assert thread.is_alive()
            assert cfg.paths.control.read_bytes() == bad  # never overwritten
    finally:
        stop.set()
        thread.join(10)


# --- the control file edited in place (comments, order, unknown columns) ---------------------

COMMENTED = (
    "# my circles — do not reorder\r\n"
    "mac, name, savelog, monitor, switch_state, schedule_state, schedule, room,\r\n"
    "\r\n"
    "000D6F0001000002, tv, yes, yes, on, off, , living,\r\n"
    "# the fridge must stay on\r\n"
    "000D6F0001000001, fridge, yes, yes, on, off, , kitchen,\r\n"
)


def test_update_row_keeps_comments_order_unknown_columns_and_line_endings(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(("\ufeff" + COMMENTED).encode())
    row = update_row(p, "000D6F0001000001", switch_state=False, name="big, cold fridge")
    assert row.name == "big, cold fridge" and not row.switch_state
    text = p.read_bytes().decode()
    assert text == "\ufeff" + COMMENTED.replace(
        "000D6F0001000001, fridge, yes, yes, on, off, , kitchen,",
        '000D6F0001000001,"big, cold fridge",yes,yes,off,off,,kitchen',
    )
    assert [r.mac for r in read_control(p)] == ["000D6F0001000002", "000D6F0001000001"]


def test_update_row_adds_a_row_and_a_column_only_when_set(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text(COMMENTED)
    update_row(p, "000d6f0001000003", name="lamp", switch_state=False)
    assert "log_interval" not in p.read_bytes().decode()
    assert p.read_bytes().endswith(b"\n000D6F0001000003, lamp, yes, yes, off, off\r\n")
    update_row(p, "000D6F0001000002", log_interval=5, always_on=True)
    lines = p.read_bytes().decode().splitlines()
    assert lines[1] == (
        "mac, name, savelog, monitor, switch_state, schedule_state, schedule, room, log_interval, always_on,"
    )
    assert lines[0] == "# my circles — do not reorder" and lines[4] == "# the fridge must stay on"
    rows = {r.mac: r for r in read_control(p)}
    assert rows["000D6F0001000002"].log_interval == 5 and rows["000D6F0001000002"].always_on is True
    assert rows["000D6F0001000001"].log_interval is None and rows["000D6F0001000001"].always_on is None
    assert rows["000D6F0001000003"].name == "lamp" and not rows["000D6F0001000003"].switch_state


def test_update_row_never_overwrites_a_file_it_cannot_parse(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    half_typed = COMMENTED + "000D6F0001000005, hea"
    p.write_text(half_typed)
    with pytest.raises(ControlFileError, match=r"line 7.*not rewritten"):
        update_row(p, "000D6F0001000001", switch_state=False)
    assert p.read_bytes().decode() == half_typed
    p.write_bytes(COMMENTED.encode() + b"# caf\xe9\n")
    with pytest.raises(ControlFileError, match="not UTF-8"):
        update_row(p, "000D6F0001000001", switch_state=False)


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"log_interval": 0}, "log_interval must be 1…60"),
        ({"log_interval": 61}, "log_interval must be 1…60"),
        ({"always_on": "yes"}, "always_on must be true or false"),
        ({"name": "a\x1b[2Jb"}, "control characters"),
        ({"colour": "red"}, "unknown control column"),
    ],
)
def test_update_row_refuses_bad_values(tmp_path: Path, changes: dict[str, object], needle: str) -> None:
    p = tmp_path / "c.csv"
    p.write_text(COMMENTED)
    with pytest.raises(ControlFileError, match=needle):
        update_row(p, "000D6F0001000001", **changes)
    assert p.read_bytes().decode() == COMMENTED


@pytest.mark.parametrize(
    "cells,needle",
    [
        ("0", "column 8 (log_interval): 0 is not 1…60"),
        ("often", "column 8 (log_interval): 'often' is not a number"),
    ],
)
def test_optional_columns_are_validated(cells: str, needle: str) -> None:
    text = (
        HEADER.replace("schedule,", "schedule, log_interval,")
        + f"000D6F0001000001,a,yes,no,on,off,,{cells}\n"
    )
    with pytest.raises(ControlFileError, match=re.escape(needle)):
        parse_control(text, "c.csv")
    ok = HEADER.replace("schedule,", "schedule, location, production,") + (
        "000D6F0001000001,a,yes,no,on,off,,roof,yes\n000D6F0001000002,b,yes,no,on,off,,,\n"
    )
    a, b = parse_control(ok)
    assert (a.location, a.production, b.location, b.production) == ("roof", True, None, None)


def test_update_row_creates_a_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "new" / "c.csv"
    update_row(p, "000D6F0001000001", name="x", location="hall")
    assert read_control(p) == [ControlRow("000D6F0001000001", "x", location="hall")]
    row = update_row(p, "000D6F0001000001", location="")  # back to pwtui.toml's location
    assert read_control(p) == [row] and row.location is None


# --- schedule file writes --------------------------------------------------------------------


def test_schedule_save_keeps_column_order_extra_columns_and_refuses_broken_files(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    days = ",".join(";".join(["-1"] * 96) for _ in range(7))
    original = f"Name,Notes,{','.join(f'Day_{i}' for i in range(7))}\r\nall on,keep me,{days}\r\n"
    p.write_text(original, newline="")
    scheds = read_schedules(p)
    write_schedules(p, scheds)
    again = p.read_bytes().decode()
    assert again.startswith("Name,Notes,Day_0") and "\r\n" in again and "keep me" in again
    assert read_schedules(p) == scheds
    p.write_text(original.replace("-1;", "x;", 1), newline="")
    broken = p.read_text()
    with pytest.raises(ScheduleFileError, match="not overwritten"):
        write_schedules(p, scheds)
    assert p.read_text() == broken


def test_a_missing_schedule_file_is_seeded_from_the_shipped_example(tmp_path: Path) -> None:
    cfg = parse_config('[paths]\ndata = "d"\n', tmp_path / "pwtui.toml")
    assert cfg.paths.schedules == tmp_path / "d" / "schedule.csv"  # never the checkout's file
    assert not cfg.paths.schedules.exists()
    scheds = read_schedules(cfg.paths.schedules)
    assert cfg.paths.schedules.read_text() == example_text() == EXAMPLE.read_text()
    assert "evening lights" in scheds
    assert read_schedules(tmp_path / "other.csv", seed=False) == {}


def test_the_shipped_config_keeps_schedules_in_the_data_folder() -> None:
    cfg = load_config(REPO / "pwtui.toml")
    assert cfg.paths.schedules == cfg.paths.data / "schedule.csv"
    assert (
        "data/schedule.csv"
        not in subprocess.run(
            ["git", "ls-files", "data"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout
    )


# --- atomic writes follow the umask (issue 15.8) ---------------------------------------------


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.json", "{}")
        update_row(tmp_path / "c.csv", "000D6F0001000001", name="x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "c.csv").stat().st_mode) == mode


def test_atomic_write_keeps_an_existing_mode_and_can_skip_fsync(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "status.json"
    p.write_text("old")
    p.chmod(0o640)
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    write_atomic(p, "new", fsync=False)
    assert synced == [] and p.read_text() == "new"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    write_atomic(p, "newer")
    assert len(synced) == 2  # the file and its folder
    write_atomic(p, "secret", mode=0o600)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_a_file_with_several_byte_order_marks_round_trips(tmp_path: Path) -> None:
    """Found by the fuzz test: BOMs stacked by editors are all dropped, one is written back."""
    p = tmp_path / "s.csv"
    p.write_bytes(b"\xef\xbb\xbf" * 3 + EXAMPLE.read_bytes())
    scheds = read_schedules(p)
    write_schedules(p, scheds)
    assert p.read_bytes() == b"\xef\xbb\xbf" + EXAMPLE.read_bytes() and read_schedules(p) == scheds


def test_write_control_edits_in_place_and_never_over_a_broken_file(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_bytes(COMMENTED.encode())
    rows = read_control(p)
    tv, fridge = rows
    write_control(p, [replace(fridge, switch_state=False), ControlRow("000D6F0001000009", "new")])
    assert p.read_bytes().decode() == (
        "# my circles — do not reorder\r\n"
        "mac, name, savelog, monitor, switch_state, schedule_state, schedule, room,\r\n"
        "\r\n"
        "# the fridge must stay on\r\n"
        "000D6F0001000001, fridge, yes, yes, off, off, , kitchen\r\n"
        "000D6F0001000009, new, yes, yes, on, off\r\n"
    )
    before = p.read_bytes()
    write_control(p, read_control(p))  # nothing changed: not one byte either
    assert p.read_bytes() == before
    p.write_bytes(before + b"000D6F00010000")
    with pytest.raises(ControlFileError, match="not rewritten"):
        write_control(p, [tv])
    assert p.read_bytes() == before + b"000D6F00010000"


def test_a_switch_from_the_console_keeps_comments_and_a_half_typed_row(tmp_path: Path) -> None:
    """The reported case: the engine's rewrite after a switch lost the user's comments and
    the row being typed."""
    url = "sim://?circles=2&seed=9&latency=0"
    virtual.forget(url)
    (tmp_path / "pwtui.toml").write_text(
        f'[stick]\nport = "{url}"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        '[[circle]]\nmac = "000D6F0001000001"\nname = "fridge"\n'
        '[[circle]]\nmac = "000D6F0001000002"\nname = "tv"\n'
    )
    cfg = load_config(tmp_path / "pwtui.toml")
    cfg.paths.control.write_bytes(COMMENTED.encode())
    events: list[E.Event] = []
    engine = Engine(cfg, on_event=events.append)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()

    def result(cid: int) -> E.CommandResult | None:
        return next((e for e in events if isinstance(e, E.CommandResult) and e.command_id == cid), None)

    try:
        wait_for(lambda: any(c.online for c in engine.snapshot().circles if c.mac == "000D6F0001000002"))
        cid = engine.submit(E.Switch("000D6F0001000002", False))
        wait_for(lambda: result(cid) is not None)
        assert cfg.paths.control.read_bytes().decode() == COMMENTED.replace(
            "000D6F0001000002, tv, yes, yes, on, off, , living,",
            "000D6F0001000002, tv, yes, yes, off, off, , living",
        )
        half = cfg.paths.control.read_bytes() + b"000D6F0001000003, lam"
        cfg.paths.control.write_bytes(half)
        cid = engine.submit(E.Switch("000D6F0001000002", True))
        wait_for(lambda: result(cid) is not None)
        assert cfg.paths.control.read_bytes() == half  # not overwritten
        said = [e.message for e in events if isinstance(e, E.CommandResult | E.EngineLog)]
        assert any(f"{cfg.paths.control}, line 7" in m for m in said), said
    finally:
        stop.set()
        thread.join(10)
