"""The console against sim:// with the Pilot, plus a deterministic SVG snapshot."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    """Plays back one fixed snapshot (so the SVG never depends on timing) and records commands."""

    def __init__(self, snapshot: E.Snapshot) -> None:
        self.snap = snapshot
        self.on_event = None
        self.commands: list[E.Command] = []

    def run(self, stop: threading.Event) -> None:
        self.on_event(E.CycleUpdate(self.snap))
        stop.wait()

    def emit(self, event: E.Event) -> None:
        """What the engine would say next (called from the test)."""
        if isinstance(event, E.CycleUpdate):
            self.snap = event.snapshot
        self.on_event(event)

    def submit(self, command: E.Command) -> int:
        self.commands.append(command)
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
            today_wh_production=0.0,
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
            today_wh=0.0,
            today_wh_production=0.0,
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
            today_wh=0.0,
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


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_dashboard_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    cfg = load_config(make_config(tmp_path, "sim://?circles=1&latency=0"))
    app = PwtuiApp(cfg, engine=FixedEngine(fixed_snapshot()))
    app.sub_title = "sim://?circles=4"

    async def ready(pilot) -> None:
        await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


def start(tmp_path: Path, snap: E.Snapshot | None = None) -> tuple[PwtuiApp, FixedEngine]:
    cfg = load_config(make_config(tmp_path, "sim://?circles=1&latency=0"))
    engine = FixedEngine(snap or fixed_snapshot())
    return PwtuiApp(cfg, engine=engine), engine


def footer_keys(app: PwtuiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


def cell(table, row: str, col: str) -> str:
    return table.get_cell(row, col).plain


def test_layout_names_offline_link_state_and_footer(tmp_path: Path) -> None:
    snap = fixed_snapshot()
    long_port = "socket://raspberrypi-in-the-garden-shed.example.org:3333/plugwise-stick-usb0"
    snap = replace(
        snap,
        link=replace(snap.link, port=long_port),
        circles=(
            replace(snap.circles[0], name="washing machine", location="utility room"),
            *snap.circles[1:],
        ),
    )
    app, _engine = start(tmp_path, snap)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            dash = app.screen
            table = dash.table
            assert cell(table, C1, "name") == "washing machine"
            assert table.ordered_columns[0].width >= len("washing machine")
            assert cell(table, C1, "location") == "utility room"
            nas = "000D6F0001000004"
            assert cell(table, nas, "online") == "offline" and "?" not in cell(table, nas, "relay")
            assert "always on" in str(dash.query_one("#legend").render())
            # the footer offers only what works for the selected circle
            assert {"toggle_relay", "choose_schedule", "settings"} <= footer_keys(app)
            assert "toggle_schedule" not in footer_keys(app)  # the fridge has no schedule
            table.move_cursor(row=2)  # solar: always on and on, so no switching off
            await pilot.pause()
            assert "toggle_relay" not in footer_keys(app)
            table.move_cursor(row=3)  # nas: offline
            await pilot.pause()
            assert "toggle_relay" not in footer_keys(app)
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert table.cursor_row == 3, "a resize moved the cursor"
            table.move_cursor(row=1)  # the tv: every dashboard key applies, and all fit in 80 columns
            await pilot.pause()
            footer = app.screen.query_one("Footer")
            keys = [w for w in footer.query("FooterKey") if w.description != "palette"]
            assert {k.description for k in keys} >= {
                "Details",
                "Switch",
                "Sched",
                "Choose",
                "Setup",
                "Logs",
                "Help",
            }
            assert max(k.region.right for k in keys) <= 80 - len("^p palette")
            link = str(dash.query_one("#link").render())
            assert link.strip().startswith("link up") and "…" in link and len(link.rstrip()) <= 80

    run(go())


def test_owner_gone_turns_actions_off_and_back_on(tmp_path: Path) -> None:
    app, engine = start(tmp_path)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            assert "toggle_relay" in footer_keys(app)
            engine.emit(E.OwnerStatus(pid=4242, alive=False))
            await until(pilot, lambda: "toggle_relay" not in footer_keys(app), timeout=5)
            link = str(app.screen.query_one("#link").render())
            assert "4242" in link and "actions off" in link
            assert any("4242" in n.message for n in app._notifications)
            await pilot.press("space")  # refused: nothing reaches the engine
            await pilot.press("p")
            assert not engine.commands and app.screen.__class__.__name__ == "DashboardScreen"
            engine.emit(E.OwnerStatus(pid=4242, alive=True))
            await until(pilot, lambda: "toggle_relay" in footer_keys(app), timeout=5)
            await pilot.press("space")
            await until(pilot, lambda: any(isinstance(c, E.Switch) for c in engine.commands))

    run(go())


def test_settings_dialog_sends_set_control_and_refuses_bad_values(tmp_path: Path) -> None:
    from textual.widgets import Checkbox, Input

    from screens.settings import CircleSettings

    snap = fixed_snapshot()
    snap = replace(
        snap, circles=(snap.circles[0], replace(snap.circles[1], in_control=False), *snap.circles[2:])
    )
    app, engine = start(tmp_path, snap)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            assert cell(app.screen.table, C2, "name") == "tv ○"  # not in control file, see the legend
            await pilot.press("p")
            dlg = app.screen
            assert isinstance(dlg, CircleSettings)
            assert "fridge" in str(dlg.query_one("Static").render())
            dlg.query_one("#log_interval", Input).value = "90"
            await pilot.press("ctrl+s")
            assert app.screen is dlg and "1…60" in str(dlg.query_one("#problem").render())
            dlg.query_one("#log_interval", Input).value = "ten"
            await pilot.press("ctrl+s")
            assert app.screen is dlg and "whole number" in str(dlg.query_one("#problem").render())
            dlg.query_one("#name", Input).value = "fridge\x1b[2J"
            dlg.query_one("#log_interval", Input).value = "10"
            await pilot.press("ctrl+s")
            assert app.screen is dlg and "control characters" in str(dlg.query_one("#problem").render())
            assert not engine.commands
            dlg.query_one("#name", Input).value = "big fridge"
            dlg.query_one("#location", Input).value = "cellar"
            dlg.query_one("#always_on", Checkbox).value = True
            await pilot.press("ctrl+s")
            await until(pilot, lambda: bool(engine.commands))
            cmd = engine.commands[-1]
            assert isinstance(cmd, E.SetControl) and cmd.mac == C1
            assert dict(cmd.changes) == {
                "name": "big fridge",
                "location": "cellar",
                "log_interval": 10,
                "always_on": True,
            }
            # a circle without a control row: saving unchanged values adds its row with all of them
            await pilot.press("down", "p")
            dlg = app.screen
            assert "not in control file" in " ".join(str(w.render()) for w in dlg.query("Static"))
            await pilot.press("ctrl+s")
            await until(pilot, lambda: len(engine.commands) == 2)
            cmd = engine.commands[-1]
            assert cmd.mac == C2 and dict(cmd.changes)["name"] == "tv" and len(cmd.changes) == 7

    run(go())


def test_choose_schedule_names_the_circle_and_preselects_its_schedule(tmp_path: Path) -> None:
    from screens.dashboard import ChooseSchedule

    app, engine = start(tmp_path)
    week = WeekSchedule.constant(-1)
    write_schedules(
        app.config.paths.schedules,
        {n: NamedSchedule(n, week) for n in ("morning", "evening", "night")},
    )

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            await pilot.press("down", "c")  # the tv uses "evening"
            dlg = app.screen
            assert isinstance(dlg, ChooseSchedule)
            assert "tv" in str(dlg.query_one("Static").render()) and C2 in str(
                dlg.query_one("Static").render()
            )
            ol = dlg.query_one("OptionList")
            assert ol.get_option_at_index(ol.highlighted).id == "evening"
            await pilot.press("enter")
            await until(pilot, lambda: bool(engine.commands))
            assert engine.commands == [E.AssignSchedule(C2, "evening", id=engine.commands[0].id)]

    run(go())


def test_network_removal_shows_progress_and_the_result_once(tmp_path: Path) -> None:
    from screens.confirm import ConfirmScreen

    snap = replace(fixed_snapshot(), node_table=((0, C1), (1, C2), (2, C3)))
    app, engine = start(tmp_path, snap)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            await pilot.press("n")
            net = app.screen
            assert isinstance(net, NetworkScreen)
            nodes = net.query_one("#nodes")
            await until(pilot, lambda: nodes.row_count == 4)
            nodes.move_cursor(row=1)
            await pilot.press("r")
            assert isinstance(app.screen, ConfirmScreen) and "fridge" in app.screen.question
            await pilot.press("y")
            await until(pilot, lambda: bool(engine.commands))
            cmd = engine.commands[0]
            assert isinstance(cmd, E.RemoveNode) and cmd.mac == C1
            await until(pilot, lambda: nodes.get_cell(C1, "state").plain.startswith("removing…"))
            assert "remove" not in footer_keys(app)  # not twice
            engine.emit(E.CommandResult(cmd.id, C1, True, "fridge removed from the network"))
            await until(pilot, lambda: not net.removing)
            await pilot.pause()
            assert "removing" not in nodes.get_cell(C1, "state").plain
            assert "fridge removed" in str(net.query_one("#net_head").render())
            toasts = [n.message for n in app._notifications if "fridge removed" in n.message]
            assert len(toasts) == 1

    run(go())


def test_help_lists_keys_as_typed_and_readme_matches(tmp_path: Path) -> None:
    from screens.help import markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- keys:start -->\n", 1)[1].split("<!-- keys:end -->", 1)[0]
    assert block == markdown(), (
        "README's key list differs from the help screen: paste screens.help.markdown()"
    )
    app, _engine = start(tmp_path)

    async def go() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.pause()
            from rich.console import Console

            console = Console(width=100, record=True, file=io.StringIO())
            for w in app.screen.query("Static"):
                console.print(w.content)
            text = console.export_text()
            for raw in ("question_mark", "left_square_bracket", "ctrl+s", "?", "["):
                assert (raw in text) == (raw in ("ctrl+s", "?", "[")), raw
            assert "always on" in text and "not in control file" in text

    run(go())


def test_details_live_scrollable_with_signal_in_dbm(tmp_path: Path) -> None:
    snap = fixed_snapshot()
    app, engine = start(tmp_path, snap)

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            await pilot.press("enter")
            det = app.screen
            assert isinstance(det, CircleDetailScreen)
            await until(pilot, lambda: det.shown >= 1)

            def text() -> str:
                from rich.console import Console

                console = Console(width=80, record=True, file=io.StringIO())
                console.print(det.query_one("#info").content)
                return console.export_text()

            assert "block None" not in text() and "Signal" in text()
            c1 = replace(snap.circles[0], rssi_in=-61, rssi_out=-70, clock_drift_s=42.0, log_address=77)
            engine.emit(E.CycleUpdate(replace(snap, circles=(c1, *snap.circles[1:]))))
            await until(pilot, lambda: "-61 dBm" in text())
            assert "-70 dBm" in text() and "+42 s" in text() and "block 77" in text()
            scroll = det.query_one("#detail_scroll")
            assert scroll.max_scroll_y > 0, "the page fits: nothing to scroll"
            await pilot.press("end")
            await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y)
            await pilot.press("k")
            await until(pilot, lambda: bool(engine.commands))
            assert engine.commands == [E.SyncClock(C1, id=engine.commands[0].id)]
            await pilot.press("p")  # the settings dialog from the details screen too
            from screens.settings import CircleSettings

            assert isinstance(app.screen, CircleSettings) and app.screen.circle.mac == C1
            app.screen.query_one("#location").value = "garage"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: len(engine.commands) == 2)
            assert engine.commands[1].changes == (("location", "garage"),)

    run(go())


def test_without_a_config_the_simulator_is_said_on_screen(tmp_path: Path, monkeypatch) -> None:
    from pwtui.config import parse_config

    monkeypatch.chdir(tmp_path)
    cfg = parse_config("", None)
    assert cfg.path is None and cfg.stick.port.startswith("sim://")
    app = PwtuiApp(cfg, engine=FixedEngine(fixed_snapshot()))

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            notice = app.screen.query_one("#notice")
            assert notice.display and "simulator" in str(notice.render())
            assert "No pwtui.toml" in str(notice.render())

    run(go())


@given(
    total=st.integers(min_value=80, max_value=240),
    names=st.lists(st.text(alphabet="abcdefghij klmn", max_size=30), min_size=1, max_size=8),
    where=st.text(alphabet="xyz ", max_size=20),
)
def test_column_widths_fit_and_never_cut_a_name_while_there_is_room(
    total: int, names: list[str], where: str
) -> None:
    from screens.dashboard_cells import COLUMNS, MIN_WIDTH, PADDING, SCROLLBAR, name_text, widths

    circles = tuple(
        E.CircleStatus(mac=f"000D6F00010000{i:02d}", name=n, location=where) for i, n in enumerate(names)
    )
    w = widths(total, circles)
    used = sum(w.values()) + PADDING * len(COLUMNS) + SCROLLBAR
    assert used <= total
    longest = max(len(name_text(c)) for c in circles)
    fixed = sum(width for _, _, width in COLUMNS if width is not None)
    room = total - fixed - PADDING * len(COLUMNS) - SCROLLBAR - MIN_WIDTH["location"] - MIN_WIDTH["schedule"]
    if longest <= room:
        assert w["name"] >= longest


def test_untrusted_names_are_shown_as_text(tmp_path: Path) -> None:
    """An ESC sequence or Rich markup in a name never reaches the terminal or gets interpreted."""
    from rich.text import Text

    evil = "\x1b]0;pwned\x07[bold red]boom[/] \x9b31m"
    snap = fixed_snapshot()
    circles = (replace(snap.circles[0], name=evil, location="[i]x[/i]", online=False), *snap.circles[1:])
    app, engine = start(tmp_path, replace(snap, circles=circles))

    async def go() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.screen.table.row_count == 4)
            name = cell(app.screen.table, C1, "name")
            assert "\x1b" not in name and "\x9b" not in name and "[bold red]boom[/]" in name
            assert cell(app.screen.table, C1, "location") == "[i]x[/i]"
            engine.emit(E.CommandResult(1, C1, False, f"{evil}: switching refused"))
            await until(pilot, lambda: len(list(app._notifications)) > 0)
            toast = list(app._notifications)
            assert toast, "no toast"
            shown = [Text.from_markup(n.message).plain for n in toast]
            assert any("[bold red]boom[/]" in m and "\x1b" not in m for m in shown)
            await pilot.press("c")
            title = str(app.screen.query_one("Static").render())
            assert "[bold red]boom[/]" in title and "\x1b" not in title
            await pilot.press("escape", "p")
            title = str(app.screen.query_one("Static").render())
            assert "[bold red]boom[/]" in title and "\x1b" not in title
            await pilot.press("escape", "enter")
            await pilot.pause()
            svg = app.export_screenshot()
            assert "\x1b" not in svg and "\x9b" not in svg and "boom" in svg

    run(go())


def test_every_dashboard_action_is_in_the_palette(tmp_path: Path) -> None:
    cfg = load_config(make_config(tmp_path, "sim://?circles=1&latency=0"))

    async def go() -> None:
        from textual.command import CommandList

        app = PwtuiApp(cfg, engine=FixedEngine(fixed_snapshot()))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            dash = app.screen
            for b in DashboardScreen.BINDINGS:
                offered = any(t.split(":")[0] == b.description for t in titles)
                assert offered == (dash.check_action(b.action, ()) is True), b.action
            assert "Sched" not in [t.split(":")[0] for t in titles]  # the fridge has no schedule
            await pilot.press("ctrl+p", *"network")
            await pilot.pause(0.5)
            cl = app.screen.query_one(CommandList)
            assert cl.option_count >= 1
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, NetworkScreen))

    run(go())


def test_link_line_shows_the_broker_connection(tmp_path: Path) -> None:
    app, engine = start(tmp_path, dataclasses.replace(fixed_snapshot(), mqtt="retrying"))

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            await until(pilot, lambda: "MQTT retrying" in str(app.screen.query_one("#link").render()))
            engine.emit(E.CycleUpdate(dataclasses.replace(fixed_snapshot(), mqtt="off")))
            await until(pilot, lambda: "MQTT" not in str(app.screen.query_one("#link").render()))

    asyncio.run(go())


def test_today_not_known_yet_shows_as_pending_never_as_a_number() -> None:
    from screens.circle_detail import today_text
    from screens.dashboard_cells import row_cells

    reading = E.CircleStatus(mac=C1, name="fridge", online=True, relay=True, watts=80.0)
    assert reading.today_wh is None
    assert row_cells(reading, None)["today"].plain == "…"
    assert row_cells(replace(reading, online=False), None)["today"].plain == "—"
    assert row_cells(replace(reading, today_wh=1500.0), None)["today"].plain.strip() == "1.50"
    assert today_text(reading).startswith("…")
    assert "1.500 kWh used" in today_text(replace(reading, today_wh=1500.0))
    # the day's total says it is a lower bound while a circle's today is not known
    snap = E.Snapshot(time=datetime.now(UTC), link=E.LinkStatus(port="sim://"), circles=(reading,))
    assert "Today 0.00+ kWh" in DashboardScreen._totals(None, snap).plain  # type: ignore[arg-type]
    known = E.Snapshot(time=snap.time, link=snap.link, circles=(replace(reading, today_wh=1500.0),))
    assert "Today 1.50 kWh" in DashboardScreen._totals(None, known).plain  # type: ignore[arg-type]
