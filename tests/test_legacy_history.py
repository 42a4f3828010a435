"""Plugwise-2-py's logged history imported into the store, checked against the simulator's truth.

The fixture (../shared/fixtures/plugwise-2-py-run) was written by Plugwise-2-py's own
logger against `pwtui simulate --circles 6 --seed 7`; its `sim/state.json` gives the
true energy of every interval, so every imported interval is checked, not counted.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from protocol.virtual.network import VirtualNetwork
from protocol.virtual.state import load_state
from pwtui import cli, queries
from pwtui.legacy_history import ImportReport, LegacyFile, energy_intervals, parse_energy
from pwtui.store import DB_NAME, IMPORTED, IMPORTED_APPROX, IMPORTED_NET, Store

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "plugwise-2-py-run"
assert FIXTURE.is_dir(), f"the shared fixture is missing: {FIXTURE} (shared/ lies beside the repository)"
SOLAR, WASHER, FRIDGE = "000D6F0001000006", "000D6F0001000003", "000D6F0001000001"


def _copy_fixture(tmp_path: Path) -> Path:
    dest = tmp_path / "pw2py"
    shutil.copytree(FIXTURE, dest)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def _import(folder: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, dict]:
    rc = cli.main(["import-legacy", str(folder), "--out", str(out), "--json", *extra])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert lines[-1]["kind"] == "summary"
    assert any(x["kind"] == "progress" for x in lines)
    return captured.err, lines[-1]


def _truth() -> VirtualNetwork:
    net = VirtualNetwork(circles=6, seed=7)
    load_state(net, FIXTURE / "sim" / "state.json")
    return net


def _file_lines(folder: Path, pattern: str) -> int:
    return sum(
        1
        for p in folder.rglob(pattern)
        for line in p.read_text().splitlines()
        if line.strip() and line.split(",")[1].strip()
    )


def test_every_imported_interval_matches_the_true_energy(tmp_path: Path, capsys) -> None:
    src = _copy_fixture(tmp_path)
    out = tmp_path / "out"
    err, summary = _import(src / "Plugwise-2-py" / "config", out, capsys)
    # the absolute paths of pw-hostconfig.json don't exist here: datalog/ is found above
    assert "importing logs from" in err and str(src / "datalog") in err

    store = Store(out / "data" / DB_NAME)
    try:
        assert summary["power_new"] == _file_lines(src / "datalog", "pwact-*.log")
        assert summary["energy_new"] == _file_lines(src / "datalog", "pw-*.log")
        assert store.imported_count("power") == summary["power_new"]
        net = _truth()
        rows = store.db.execute(
            "SELECT mac, start_ts, end_ts, production, wh, imported FROM energy"
        ).fetchall()
        assert len(rows) == summary["energy_new"]
        approx = []
        for mac, start, end, production, wh, mark in rows:
            assert mark & IMPORTED
            assert end - start in (60, 120, 300, 3600), (mac, start, end)
            a, b = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
            true = net.true_energy_wh(mac, a, b) - net.true_energy_wh(mac, a, b, production=True)
            if mac == SOLAR:
                assert mark & IMPORTED_NET  # summed by Plugwise-2-py: stored as net
            value = -wh if production else wh
            if mark & IMPORTED_APPROX:
                approx.append((mac, end))
                continue
            assert value == pytest.approx(true, abs=0.001), (mac, end)
        # exactly the first entry after each interval change has a corrected length
        assert sorted(approx) == sorted([(FRIDGE, 1796149320), (WASHER, 1796149500), (SOLAR, 1796149320)])
        assert summary["corrected"] == 3
        assert err.count("length corrected") == 3
        assert f"pw-{WASHER}.log, line" in err
    finally:
        store.close()


def test_importing_twice_adds_nothing_and_the_circle_value_wins(tmp_path: Path, capsys) -> None:
    src = _copy_fixture(tmp_path)
    out = tmp_path / "out"
    _import(src / "Plugwise-2-py", out, capsys)  # the Plugwise-2-py folder itself works too
    store = Store(out / "data" / DB_NAME)
    # pwtui read this hour from the circle itself, with another value
    store.db.execute(
        "UPDATE energy SET wh = 99.0, imported = 0 WHERE mac = '000D6F0001000000' AND end_ts = 1796148000"
    )
    store.close()
    err, summary = _import(src / "Plugwise-2-py" / "config", out, capsys)
    assert summary["power_new"] == 0 and summary["energy_new"] == 0
    assert summary["energy_kept"] > 0 and summary["differences"] == 1
    assert "the store holds 99.0000 Wh" in err and "kept" in err
    store = Store(out / "data" / DB_NAME)
    try:
        (wh,) = store.db.execute(
            "SELECT wh FROM energy WHERE mac = '000D6F0001000000' AND end_ts = 1796148000"
        ).fetchone()
        assert wh == 99.0
    finally:
        store.close()


def test_log_browser_and_export_show_the_imported_days(tmp_path: Path, capsys) -> None:
    src = _copy_fixture(tmp_path)
    out = tmp_path / "out"
    _import(src / "Plugwise-2-py" / "config", out, capsys)
    db = queries.connect(out / "data" / DB_NAME)
    try:
        day = int(datetime(2026, 11, 29, tzinfo=UTC).timestamp())
        rows = list(queries.intervals(db, day, day + 86400))
        assert len(rows) >= 5 * 24  # five hourly circles and the fridge for the whole day
    finally:
        db.close()
    rc = cli.main(
        ["export", "--config", str(out / "pwtui.toml"), "--from", "2026-11-29", "--to", "2026-11-30"]
    )
    csv_out = capsys.readouterr().out
    assert rc == 0 and csv_out.count("\n") > 100


def test_flawed_lines_are_reported_and_never_stop_the_import(tmp_path: Path, capsys) -> None:
    src = _copy_fixture(tmp_path)
    log = src / "datalog" / "2026" / "pwlog" / f"pw-{FRIDGE}.log"
    log.write_text(
        "2026-11-27 10:00:00,         30.0000,         30.0000\n"  # the non-epoch format
        "garbage line\n"
        "1796000000,         1.0000\n"
        "1796003600,         25.0000,    25."  # truncated last line, no newline
    )
    act = src / "datalog" / "2026" / "pwact" / f"pwact-2026-11-27-{FRIDGE}.log"
    act.write_bytes(b"36000,    12.50\n36010, \n36020,    \xff13.00\n")  # seconds since local midnight
    err, summary = _import(src / "Plugwise-2-py" / "config", tmp_path / "out", capsys)
    assert f"pw-{FRIDGE}.log, line 2: expected 'end, W, Wh'" in err
    assert f"pw-{FRIDGE}.log, line 3: expected 'end, W, Wh'" in err
    assert f"pw-{FRIDGE}.log, line 4: truncated last line" in err
    assert f"pwact-2026-11-27-{FRIDGE}.log, line 3: not a number" in err
    store = Store(tmp_path / "out" / "data" / DB_NAME)
    try:
        ten_am = int(datetime(2026, 11, 27, 10, 0).astimezone().timestamp())
        assert store.db.execute(
            "SELECT wh FROM energy WHERE mac = ? AND end_ts = ?", (FRIDGE, ten_am)
        ).fetchone() == (30.0,)
        assert store.db.execute(
            "SELECT watts FROM power WHERE mac = ? AND ts = ?", (FRIDGE, ten_am)
        ).fetchone() == (12.5,)
    finally:
        store.close()
    assert summary["energy_new"] > 0


def test_logs_override_and_missing_logs(tmp_path: Path, capsys) -> None:
    src = _copy_fixture(tmp_path)
    moved = tmp_path / "elsewhere"
    shutil.move(src / "datalog", moved)
    rc = cli.main(["import-legacy", str(src / "Plugwise-2-py" / "config"), "--out", str(tmp_path / "a")])
    assert rc == 0 and "no Plugwise-2-py logs found" in capsys.readouterr().err
    _, summary = _import(src / "Plugwise-2-py" / "config", tmp_path / "b", capsys, "--logs", str(moved))
    assert summary["energy_new"] > 0
    rc = cli.main(["import-legacy", str(src), "--out", str(tmp_path / "c"), "--logs", str(tmp_path / "nope")])
    assert rc == 2 and "--logs" in capsys.readouterr().err


def test_production_lines_are_stored_as_net() -> None:
    report = ImportReport()
    lines = list(
        parse_energy(
            LegacyFile("energy", SOLAR, FIXTURE / "datalog" / "2026" / "pwlog" / f"pw-{SOLAR}.log", None), []
        )
    )
    # a sunny hour: production exceeded consumption, Plugwise-2-py summed them (negative)
    lines[5] = type(lines[5])(lines[5].end, -250.0, -250.0, lines[5].where)
    out = list(energy_intervals(SOLAR, lines, True, report))
    sunny = out[5]
    assert sunny[0].production and sunny[0].wh == 250.0 and sunny[1] & IMPORTED_NET
    assert not out[4][0].production and out[4][1] & IMPORTED_NET


def test_the_log_browser_shows_the_imported_days(tmp_path: Path, capsys) -> None:
    """After an import, the console's log browser (a Pilot run) shows Plugwise-2-py's days."""
    import asyncio

    from textual.app import App

    from screens.log_browser import LogBrowserScreen

    src = _copy_fixture(tmp_path)
    out = tmp_path / "out"
    _import(src / "Plugwise-2-py" / "config", out, capsys)
    db = out / "data" / DB_NAME
    day = datetime(2026, 11, 29, 12, 0).astimezone()
    store = Store(db)
    want = store.energy_between(
        "000D6F0001000000",
        int(day.replace(hour=0).timestamp()),
        int(day.replace(hour=0).timestamp()) + 86400,
    )
    store.close()
    assert want > 600  # the Circle+ draws ~28 W all day

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(
                LogBrowserScreen(db, circles=[("000D6F0001000000", "circle+")], mac=None, now=day)
            )

    async def go() -> None:
        app = Host()
        async with app.run_test(size=(100, 40)) as pilot:
            scr = app.screen
            assert isinstance(scr, LogBrowserScreen)
            for _ in range(200):
                if scr.loaded >= 1:
                    break
                await pilot.pause(0.05)
            assert scr.period.zoom == "day" and len(scr.buckets) == 24
            assert sum(b.consumption_wh for b in scr.buckets) > want  # all circles, the Circle+ included
            await pilot.press("tab")  # to the Circle+ alone
            for _ in range(200):
                if scr.choices[scr.choice][0] == "000D6F0001000000" and scr.loaded >= 2:
                    break
                await pilot.pause(0.05)
            assert sum(b.consumption_wh for b in scr.buckets) == pytest.approx(want)

    asyncio.run(go())
