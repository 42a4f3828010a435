"""The schedule editor with the Pilot: edit, save, reload, undo/redo, copy day, fill, bad watts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App

from protocol import schedules, virtual
from pwtui import events as E
from pwtui.config import load_config
from pwtui.controlfile import update_row
from pwtui.schedulefile import read_schedules
from screens.app import PwtuiApp
from screens.dialogs import AskText
from screens.schedule_editor import ScheduleEditorScreen

REPO_SCHEDULES = Path(__file__).resolve().parent.parent / "schedule.csv"


class Host(App):
    def __init__(self, path: Path, engine=None) -> None:
        super().__init__()
        self.path, self.engine = path, engine

    def on_mount(self) -> None:
        self.push_screen(ScheduleEditorScreen(self.path, engine=self.engine))


class Recorder:
    def __init__(self) -> None:
        self.commands: list[E.Command] = []

    def submit(self, cmd: E.Command) -> int:
        self.commands.append(cmd)
        return cmd.id


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    p = tmp_path / "schedule.csv"
    p.write_text(REPO_SCHEDULES.read_text())
    return p


def run(coro) -> None:
    asyncio.run(coro)


def test_unchanged_save_round_trips_exactly(csv: Path) -> None:
    before = csv.read_bytes()

    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.press("ctrl+s")
            await pilot.pause()

    run(go())
    assert csv.read_bytes() == before


def test_edit_fill_copy_undo_redo_save_reload(csv: Path) -> None:
    rec = Recorder()
    first = next(iter(read_schedules(csv)))

    async def go() -> None:
        app = Host(csv, rec)
        async with app.run_test(size=(110, 30)) as pilot:
            ed = app.screen
            assert isinstance(ed, ScheduleEditorScreen)
            grid = ed.grid
            # Monday 00:00-00:45 on (a range of 4 slots)
            await pilot.press("shift+right", "shift+right", "shift+right", "o")
            assert grid.slots[0:4] == [-1] * 4 and grid.slots[4] == 0
            assert ed.dirty
            await pilot.press("u")
            assert grid.slots[0:4] == [0] * 4
            await pilot.press("r")
            assert grid.slots[0:4] == [-1] * 4
            # copy Monday to all weekdays
            await pilot.press("d")
            await pilot.press("enter")  # first option: all weekdays
            await pilot.pause()
            for d in range(5):
                assert grid.slots[d * 96 : d * 96 + 4] == [-1] * 4
            assert grid.slots[5 * 96] == 0  # Saturday untouched
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert not ed.dirty

    run(go())
    saved = read_schedules(csv)[first].week
    assert all(saved.slots[d * 96 : d * 96 + 4] == (-1,) * 4 for d in range(5))
    assert any(isinstance(c, E.ReloadFiles) for c in rec.commands)


def test_invalid_watts_refused(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            grid = app.screen.grid
            await pilot.press("w")
            assert isinstance(app.screen, AskText)
            await pilot.press("ctrl+a", "backspace", "backspace", *"abc", "enter")
            assert isinstance(app.screen, AskText), "invalid watts were accepted"
            inp = app.screen.query_one("#answer")
            inp.value = "25"
            await pilot.press("enter")
            await pilot.pause()
            assert grid.slots[0] == 25

    run(go())


def test_leaving_with_unsaved_changes_asks(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.press("o", "escape")
            assert type(app.screen).__name__ == "ConfirmScreen"
            await pilot.press("n")
            assert isinstance(app.screen, ScheduleEditorScreen)

    run(go())


def test_create_duplicate_and_delete(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.press("ctrl+n")
            await pilot.press(*"holiday", "enter")
            await pilot.pause()
            assert app.screen.current == "holiday" and "holiday" in read_schedules(csv)
            await pilot.press("delete", "y")
            await pilot.pause()
            assert "holiday" not in read_schedules(csv)

    run(go())


def test_save_reaches_the_simulator_circle_and_delete_refused_in_use(tmp_path: Path) -> None:
    url = "sim://?circles=2&seed=31&latency=0"
    virtual.forget(url)
    mac = virtual.circle_mac(1)
    cfg_path = tmp_path / "pwtui.toml"
    cfg_path.write_text(
        f'[stick]\nport = "{url}"\ntimeout = 2.0\n[logging]\npower_interval = 1\n'
        f'[[circle]]\nmac = "{mac}"\nname = "lamp"\n'
    )
    (tmp_path / "schedule.csv").write_text(REPO_SCHEDULES.read_text())
    cfg = load_config(cfg_path)
    net = virtual.network_for(url)
    name = next(iter(read_schedules(cfg.paths.schedules)))

    async def go() -> None:
        app = PwtuiApp(cfg)
        async with app.run_test(size=(110, 30)) as pilot:
            loop = asyncio.get_running_loop()
            end = loop.time() + 10
            while loop.time() < end and not (app.snapshot and app.snapshot.circle(mac)):
                await pilot.pause(0.05)
            update_row(cfg.paths.control, mac, schedule=name, schedule_state=True)
            while loop.time() < end + 5 and app.snapshot.circle(mac).schedule_sync != "done":
                await pilot.pause(0.05)
            await pilot.press("s")
            ed = app.screen
            assert isinstance(ed, ScheduleEditorScreen) and ed.current == name
            await pilot.press("o", "ctrl+s")
            week = read_schedules(cfg.paths.schedules)[name].week
            want = schedules.schedule_crc(
                week.to_circle(net.circles[mac].calibration, app.engine.utc_offset())
            )
            end = loop.time() + 10
            while loop.time() < end and net.circles[mac].schedule_crc != want:
                await pilot.pause(0.05)
            assert net.circles[mac].schedule_crc == want
            await pilot.press("delete")
            await pilot.pause()
            assert name in read_schedules(cfg.paths.schedules), "deleted a schedule in use"

    run(go())


def test_marking_as_in_an_editor(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            grid = app.screen.grid
            # m starts a mark, plain arrows extend it, an edit applies to it and ends it
            await pilot.press("m", "right", "right", "right", "down")
            assert len(grid.selection()) == 8
            await pilot.press("o")
            assert grid.slots[0:4] == [-1] * 4 and grid.slots[96:100] == [-1] * 4 and grid.slots[4] == 0
            assert grid.mark_start is None and not grid.marking
            await pilot.press("right")
            assert len(grid.selection()) == 1
            # shift+arrows mark too; Home/End move without extending, shift+End extends
            await pilot.press("shift+right", "shift+right")
            assert len(grid.selection()) == 3
            await pilot.press("home")
            assert grid.mark_start is None and grid.cursor.quarter == 0
            await pilot.press("shift+end")
            assert len(grid.selection()) == 96
            await pilot.press("escape")  # ends the mark, stays in the editor
            assert grid.mark_start is None and isinstance(app.screen, ScheduleEditorScreen)
            # m again ends a mark
            await pilot.press("m", "left", "m", "left")
            assert grid.mark_start is None

    run(go())


def test_mark_visible_on_every_cell_kind(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            grid = app.screen.grid
            grid.slots[0:3] = [-1, 0, 25]  # on, off, standby
            grid.slots[96:99] = [-1, 0, 25]
            await pilot.press("down", "m", "right", "right")  # mark Tuesday's three cells only
            await pilot.pause()
            x = int(grid.scroll_offset.x)
            mon = list(grid.render_line(1 - int(grid.scroll_offset.y)))
            tue = list(grid.render_line(2 - int(grid.scroll_offset.y)))

            def cells(strip_segments) -> list[tuple[str, object]]:
                out = []
                for seg in strip_segments:
                    out += [(ch, seg.style) for ch in seg.text]
                return out[5 - x : 8 - x]

            for (mch, mstyle), (tch, tstyle) in zip(cells(mon), cells(tue), strict=True):
                assert (mch, mstyle) != (tch, tstyle), "a marked cell looks like an unmarked one"

    run(go())


def test_80_columns_labels_stay_and_title_does_not_wrap(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(80, 24)) as pilot:
            ed = app.screen
            grid = ed.grid
            await pilot.press("end")
            await pilot.pause()
            assert grid.cursor.quarter == 95 and grid.scroll_offset.x > 0
            for day in range(7):
                line = "".join(s.text for s in grid.render_line(1 + day - int(grid.scroll_offset.y)))
                assert line.startswith(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day])
            row = list(grid.render_line(1 - int(grid.scroll_offset.y)))
            cursor_cols = [ch for seg in row if seg.style and seg.style.reverse for ch in seg.text]
            assert cursor_cols, "the cursor at 23:45 is not on screen"
            await pilot.press("o")
            title = ed.query_one("#sched_title")
            assert "(unsaved)" in str(title.render()) and title.size.height == 1

    run(go())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_editor_snapshot(snap_compare, csv: Path, monkeypatch, size: tuple[int, int]) -> None:
    for var in ("NO_COLOR", "TEXTUAL_THEME", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    presses = ["right", "right", "down", "m", "right", "right", "down"]
    assert snap_compare(Host(csv), terminal_size=size, press=presses)


def test_rename_and_duplicate(csv: Path) -> None:
    first = next(iter(read_schedules(csv)))

    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.press("ctrl+d")
            inp = app.screen.query_one("#answer")
            inp.value = "copy one"
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen.current == "copy one"
            assert read_schedules(csv)["copy one"].week == read_schedules(csv)[first].week
            await pilot.press("f2")
            app.screen.query_one("#answer").value = "renamed"
            await pilot.press("enter")
            await pilot.pause()
            names = list(read_schedules(csv))
            assert "renamed" in names and "copy one" not in names

    run(go())


def test_a_file_broken_meanwhile_is_not_overwritten_and_the_editor_stays(csv: Path) -> None:
    async def go() -> None:
        app = Host(csv)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.press("o")
            broken = "Day_0;Day_1\nnot;a;schedule;\xe9\n"
            csv.write_text(broken, encoding="latin-1")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ScheduleEditorScreen)
            assert csv.read_text(encoding="latin-1") == broken

    run(go())
