"""The dashboard: one row per circle, updated in place every cycle; switching from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from pwtui import events as E

if TYPE_CHECKING:
    from .app import PwtuiApp

BARS = " ▁▂▃▄▅▆▇█"
# widths fit 80 columns with the table's cell padding (usable over SSH at 80×24)
COLUMNS = (
    ("name", "Circle", 13),
    ("location", "Where", 7),
    ("online", "Link", 7),
    ("relay", "Relay", 5),
    ("schedule", "Schedule", 10),
    ("watts", "Watts", 8),
    ("today", "kWh", 7),
    ("trend", "Trend", 5),
)


def sparkline(values: tuple[float, ...], width: int = 5) -> str:
    vals = [abs(v) for v in values[-width:]]
    if not vals:
        return ""
    top = max(vals) or 1.0
    return "".join(BARS[min(8, round(v / top * 8))] for v in vals)


def fmt_watts(w: float | None, online: bool) -> Text:
    if w is None or not online:
        return Text("—", justify="right", style="dim")
    style = "bold green" if w < 0 else ""
    return Text(f"{w:7.1f}" if abs(w) < 100_000 else f"{w / 1000:6.0f}k", justify="right", style=style)


def row_cells(c: E.CircleStatus, pending: str | None) -> dict[str, Text | str]:
    name = c.name or c.mac[-6:]
    relay = (pending or ("on" if c.relay else "off" if c.relay is not None else "?"))[:5]
    relay_style = "yellow" if pending else "green" if c.relay else "red" if c.relay is not None else "dim"
    sched = "—"
    if c.schedule:
        sched = f"{c.schedule[:6]} {'on' if c.schedule_state else 'off'}"
        if c.schedule_sync == "pending":
            sched += " …"
        elif c.schedule_sync == "failed":
            sched += " !"
    today = c.today_wh / 1000.0
    today_text = f"{today:6.2f}" if not c.production else f"{(c.today_wh_production / 1000.0):5.2f}↑"
    return {
        "name": Text(name + (" ⚑" if c.always_on else ""), style="" if c.configured else "italic"),
        "location": c.location,
        "online": Text("online" if c.online else "offline", style="green" if c.online else "red"),
        "relay": Text(relay, style=relay_style),
        "schedule": sched,
        "watts": fmt_watts(c.watts, c.online),
        "today": Text(today_text, justify="right"),
        "trend": Text(sparkline(c.recent_watts), style="green" if (c.watts or 0) < 0 else "cyan"),
    }


class ChooseSchedule(ModalScreen[str | None]):
    """Pick the schedule for a circle (or none)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="choose_cancel")]

    def __init__(self, names: list[str], current: str | None) -> None:
        super().__init__()
        self.names = names
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Schedule for this circle (enter chooses, escape cancels)")
            yield OptionList(Option("(no schedule)", id="__none__"), *[Option(n, id=n) for n in self.names])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss("" if event.option.id == "__none__" else event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class DashboardScreen(Screen):
    BINDINGS = [
        Binding(
            "space", "toggle_relay", "Switch", id="toggle_relay", tooltip="Switch the selected circle on/off"
        ),
        Binding("e", "toggle_schedule", "Schedule on/off", id="toggle_schedule"),
        Binding("c", "choose_schedule", "Choose schedule", id="choose_schedule"),
        Binding("enter", "detail", "Details", id="detail"),
        Binding("n", "network", "Network", id="network"),
        Binding("s", "schedules", "Schedules", id="schedules"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, dict[str, object]] = {}
        self._pending: dict[str, str] = {}

    @property
    def papp(self) -> PwtuiApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("waiting for the first reading…", id="totals")
        table: DataTable = DataTable(id="circles", cursor_type="row", zebra_stripes=True)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Static("", id="link")
        yield Footer()

    def on_mount(self) -> None:
        self.papp.snapshot_signal.subscribe(self, self.show)
        if self.papp.snapshot is not None:
            self.show(self.papp.snapshot)

    @property
    def table(self) -> DataTable:
        return self.query_one("#circles", DataTable)

    def selected(self) -> E.CircleStatus | None:
        snap = self.papp.snapshot
        table = self.table
        if snap is None or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return snap.circle(str(key))

    def show(self, snap: E.Snapshot) -> None:
        table = self.table
        macs = [c.mac for c in snap.circles]
        with self.app.batch_update():
            if list(self._rows) != macs:
                cursor = table.cursor_row
                table.clear()
                self._rows = {}
                for c in snap.circles:
                    cells = row_cells(c, self._pending.get(c.mac))
                    table.add_row(*[cells[k] for k, _, _ in COLUMNS], key=c.mac)
                    self._rows[c.mac] = cells
                if table.row_count:
                    table.move_cursor(row=min(cursor, table.row_count - 1))
            else:
                for c in snap.circles:
                    cells = row_cells(c, self._pending.get(c.mac))
                    old = self._rows[c.mac]
                    for key, value in cells.items():
                        if str(old.get(key)) != str(value) or getattr(old.get(key), "style", None) != getattr(
                            value, "style", None
                        ):
                            table.update_cell(c.mac, key, value)
                    self._rows[c.mac] = cells
            self.query_one("#totals", Static).update(self._totals(snap))
            self.query_one("#link", Static).update(self._link(snap))

    def _totals(self, snap: E.Snapshot) -> Text:
        online = [c for c in snap.circles if c.online]
        cons = sum(c.watts for c in online if c.watts and c.watts > 0)
        prod = -sum(c.watts for c in online if c.watts and c.watts < 0)
        today_c = sum(c.today_wh for c in snap.circles) / 1000
        today_p = sum(c.today_wh_production for c in snap.circles) / 1000
        t = Text()
        t.append(f" Using {cons:,.0f} W", style="bold")
        t.append(f"   Producing {prod:,.0f} W", style="bold green")
        t.append(f"   Today {today_c:.2f} kWh used, {today_p:.2f} kWh produced")
        t.append(f"   {len(online)}/{len(snap.circles)} online")
        done = sum(c.history_done for c in snap.circles)
        total = sum(c.history_total for c in snap.circles)
        if total and done < total:
            t.append(f"   history {done}/{total} blocks", style="yellow")
        return t

    def _link(self, snap: E.Snapshot) -> Text:
        link = snap.link
        t = Text(" ")
        if link.attached_pid:
            t.append(f"attached to pid {link.attached_pid}  ", style="bold magenta")
        t.append(f"{link.port}  ", style="dim")
        t.append("link up" if link.up else "link down", style="green" if link.up else "bold red")
        if link.last_frame:
            age = (snap.time - link.last_frame).total_seconds()
            t.append(f"  last frame {max(0.0, age):.0f} s ago")
        t.append(f"  errors {link.errors}")
        t.append(
            f"  manual switch: {'keeps schedule' if snap.manual_switch == 'keep_schedule' else 'disables schedule'}",
            style="dim",
        )
        return t

    def mark_pending(self, mac: str, text: str | None) -> None:
        if text is None:
            self._pending.pop(mac, None)
        else:
            self._pending[mac] = text
        if self.papp.snapshot is not None:
            c = self.papp.snapshot.circle(mac)
            if c is not None and mac in self._rows:
                cells = row_cells(c, self._pending.get(mac))
                self.table.update_cell(mac, "relay", cells["relay"])
                self._rows[mac] = cells

    # --- actions ------------------------------------------------------------------------

    def action_toggle_relay(self) -> None:
        c = self.selected()
        if c is None:
            return
        if c.relay is None:
            self.notify(f"the relay state of {c.name or c.mac} is not known yet", severity="warning")
            return
        on = not c.relay
        if not on and c.always_on:
            self.notify(f"{c.name or c.mac} is always on: switching it off is refused", severity="warning")
            return
        if not c.online:
            self.notify(f"{c.name or c.mac} is offline", severity="warning")
            return
        self.mark_pending(c.mac, "on…" if on else "off…")
        self.papp.send(E.Switch(c.mac, on))

    def action_toggle_schedule(self) -> None:
        c = self.selected()
        if c is None:
            return
        if not c.schedule:
            self.notify("no schedule assigned: press c to choose one", severity="warning")
            return
        self.papp.send(E.SetScheduleState(c.mac, not c.schedule_state))

    def action_choose_schedule(self) -> None:
        c = self.selected()
        if c is None:
            return
        names = self.papp.schedule_names()

        def chosen(name: str | None) -> None:
            if name is not None:
                self.papp.send(E.AssignSchedule(c.mac, name or None))

        self.app.push_screen(ChooseSchedule(names, c.schedule), chosen)

    def action_detail(self) -> None:
        c = self.selected()
        if c is not None:
            from .circle_detail import CircleDetailScreen

            self.app.push_screen(CircleDetailScreen(c.mac))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_network(self) -> None:
        from .network import NetworkScreen

        self.app.push_screen(NetworkScreen())

    def action_schedules(self) -> None:
        self.papp.open_schedules(self.selected())

    def action_logs(self) -> None:
        self.papp.open_logs(self.selected())

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.app.exit()
