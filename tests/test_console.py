"""The console against sim:// with the Pilot, plus a deterministic SVG snapshot."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from protocol import virtual
from protocol.schedules import WeekSchedule
from pwtui import events as E
from pwtui.config import load_config
from pwtui.controlfile import read_control
from pwtui.schedulefile import NamedSchedule, write_schedules
from screens.app import PwtuiApp
from screens.circle_detail import CircleDetailScreen
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.network import NetworkScreen

C1, C2, C3 = (virtual.circle_mac(i) for i in (1, 2, 3))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("NO_COLOR", "TEXTUAL_THEME", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)


def make_config(tmp_path: Path, url: str) -> Path:
    virtual.forget(url)
    cfg = tmp_path / "pwtui.toml"
    cfg.write_text(f"""
[stick]
port = "{url}"
timeout = 2.0
[logging]
power_interval = 1
[[circle]]
mac = "{C1}"
name = "fridge"
location = "kitchen"
[[circle]]
mac = "{C2}"
name = "tv"
always_on = true
[[circle]]
mac = "{C3}"
name = "washer"
""")
    return cfg


async def until(pilot, cond, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def run(coro) -> None:
    asyncio.run(coro)


def test_dashboard_rows_switching_and_control_file(tmp_path: Path) -> None:
    url = "sim://?circles=3&seed=21&latency=0"
    cfg = load_config(make_config(tmp_path, url))
    net = virtual.network_for(url)

    async def go() -> None:
        app = PwtuiApp(cfg)
        async with app.run_test(size=(110, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and len(app.snapshot.circles) == 4)
            dash = app.screen
            assert isinstance(dash, DashboardScreen)
            table = dash.table
            await until(pilot, lambda: table.row_count == 4)
            assert str(table.get_cell(C1, "name")).startswith("fridge")
            # cursor stays put across cycles
            await pilot.press("down", "down")
            row = table.cursor_row
            cycles = id(app.snapshot)
            await until(pilot, lambda: id(app.snapshot) != cycles)
            assert table.cursor_row == row
            # switch the washer (row 3) off with the keyboard
            key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            assert key == C3
            await pilot.press("space")
            await until(pilot, lambda: net.circles[C3].relay is False)
            await until(pilot, lambda: any(r.ok and r.mac == C3 for r in app.results))
            rows = {r.mac: r for r in read_control(cfg.paths.control)}
            assert rows[C3].switch_state is False
            await until(pilot, lambda: str(table.get_cell(C3, "relay")) == "off")
            # the tv is always on: switching it off is refused and nothing is sent
            await pilot.press("up")
            sent = len(app.results)
            await pilot.press("space")
            await pilot.pause(0.3)
            assert net.circles[C2].relay is True and len(app.results) == sent

    run(go())


def test_choose_schedule_detail_network_help(tmp_path: Path) -> None:
    url = "sim://?circles=3&seed=22&latency=0"
    cfg = load_config(make_config(tmp_path, url))
    write_schedules(cfg.paths.schedules, {"night": NamedSchedule("night", WeekSchedule.constant(-1))})
    net = virtual.network_for(url)

    async def go() -> None:
        app = PwtuiApp(cfg)
        async with app.run_test(size=(110, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and len(app.snapshot.circles) == 4)
            await pilot.press("c")
            await pilot.press("down", "enter")  # (no schedule) → night
            await until(
                pilot, lambda: {r.mac: r for r in read_control(cfg.paths.control)}[C1].schedule == "night"
            )
            await pilot.press("e")  # schedule on
            await until(pilot, lambda: net.circles[C1].schedule_enabled)
            await pilot.press("enter")
            assert isinstance(app.screen, CircleDetailScreen)
            await pilot.press("escape", "n")
            assert isinstance(app.screen, NetworkScreen)
            net.advertise("000D6F00DEADBEEF")
            await until(pilot, lambda: app.snapshot and "000D6F00DEADBEEF" in app.snapshot.joining)
            nodes = app.screen.query_one("#nodes")
            await until(pilot, lambda: nodes.row_count == 5)
            nodes.move_cursor(row=4)
            await pilot.press("j", "y")
            await until(pilot, lambda: "000D6F00DEADBEEF" in net.circles)
            await pilot.press("escape", "question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "l")
            assert type(app.screen).__name__ == "LogBrowserScreen"
            await pilot.press("escape", "s")
            assert type(app.screen).__name__ == "ScheduleEditorScreen"

    run(go())


class FixedEngine:
    """Plays back one fixed snapshot, so the SVG never depends on timing."""

    def __init__(self, snapshot: E.Snapshot) -> None:
        self.snap = snapshot
        self.on_event = None

    def run(self, stop: threading.Event) -> None:
        self.on_event(E.CycleUpdate(self.snap))
        stop.wait()

    def submit(self, command: E.Command) -> int:
        return command.id

    def snapshot(self) -> E.Snapshot:
        return self.snap


def fixed_snapshot() -> E.Snapshot:
    t = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    circles = (
        E.CircleStatus(
            mac=C1,
            name="fridge",
            location="kitchen",
            online=True,
            relay=True,
            watts=84.2,
            today_wh=1234.0,
            recent_watts=(1.5, 84.0, 85.0, 1.5, 1.5, 84.2),
            last_seen=t,
        ),
        E.CircleStatus(
            mac=C2,
            name="tv",
            location="living",
            online=True,
            relay=False,
            watts=0.0,
            schedule="evening",
            schedule_state=True,
            schedule_sync="done",
            last_seen=t,
        ),
        E.CircleStatus(
            mac=C3,
            name="solar",
            location="roof",
            online=True,
            relay=True,
            watts=-812.5,
            production=True,
            always_on=True,
            today_wh_production=4321.0,
            recent_watts=(-100.0, -400.0, -812.5),
            last_seen=t,
        ),
        E.CircleStatus(mac="000D6F0001000004", name="nas", location="study", online=False, relay=None),
    )
    link = E.LinkStatus(
        port="sim://?circles=4",
        up=True,
        stick_mac=virtual.STICK_MAC,
        circle_plus_mac=virtual.CIRCLE_PLUS_MAC,
        last_frame=t,
        errors=2,
    )
    return E.Snapshot(time=t, link=link, circles=circles)


def test_dashboard_snapshot(snap_compare, tmp_path: Path) -> None:
    cfg = load_config(make_config(tmp_path, "sim://?circles=1&latency=0"))
    app = PwtuiApp(cfg, engine=FixedEngine(fixed_snapshot()))
    app.sub_title = "sim://?circles=4"

    async def ready(pilot) -> None:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


def test_every_dashboard_action_is_in_the_palette(tmp_path: Path) -> None:
    cfg = load_config(make_config(tmp_path, "sim://?circles=1&latency=0"))

    async def go() -> None:
        from textual.command import CommandList

        app = PwtuiApp(cfg, engine=FixedEngine(fixed_snapshot()))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for b in DashboardScreen.BINDINGS:
                assert b.description in titles
            await pilot.press("ctrl+p", *"network")
            await pilot.pause(0.5)
            cl = app.screen.query_one(CommandList)
            assert cl.option_count >= 1
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, NetworkScreen))

    run(go())
