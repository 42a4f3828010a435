"""The dashboard: one row per circle, updated in place every cycle; switching from here.

Commands go up as `CommandRequested` messages; the footer offers only what works
for the selected circle now (`check_action`), and the link line puts the state
before the (shortened) port so it never scrolls off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from pwtui import events as E
from pwtui.text import safe_markup, safe_text

from .choose_schedule import ChooseSchedule, circle_label
from .dashboard_cells import COLUMNS, LEGEND, row_cells, widths
from .messages import CommandRequested

if TYPE_CHECKING:
    from .app import PwtuiApp


class CircleTable(DataTable[Text]):
    """The circle table; its enter key is shown in the footer as "Details"."""

    BINDINGS = [Binding("enter", "select_cursor", "Details", id="circle_details")]


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding(
            "space", "toggle_relay", "Switch", id="toggle_relay", tooltip="Switch the selected circle on/off"
        ),
        Binding("e", "toggle_schedule", "Sched", id="toggle_schedule", tooltip="Turn its schedule on/off"),
        Binding("c", "choose_schedule", "Choose", id="choose_schedule", tooltip="Choose its schedule"),
        Binding("p", "settings", "Setup", id="circle_settings", tooltip="Name, location, logging, always on"),
        Binding("enter", "detail", "Details", id="detail", tooltip="Everything about the selected circle"),
        Binding("l", "logs", "Logs", id="logs", tooltip="Energy and power history"),
        Binding("s", "schedules", "Edit", id="schedules", tooltip="The schedule editor"),
        Binding(
            "n", "network", "Net", id="network", show=False, tooltip="The Circle+ network: join and remove"
        ),
        Binding("question_mark,f1", "help", "Help", id="help", tooltip="Keys and symbols"),
        Binding("q", "quit", "Quit", id="quit", show=False, tooltip="Leave the console"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, dict[str, Text]] = {}
        self._pending: dict[str, str] = {}
        self._widths: dict[str, int] = {}
        self._keep_row: int | None = None

    @property
    def papp(self) -> PwtuiApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("waiting for the first reading…", id="totals")
        yield Static("", id="notice")
        yield CircleTable(id="circles", cursor_type="row", zebra_stripes=True)
        yield Static(Text(LEGEND, style="dim"), id="legend")
        yield Static("", id="link")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        notice = self.query_one("#notice", Static)
        notice.update(Text(self.papp.demo_notice, style="bold yellow"))
        notice.display = bool(self.papp.demo_notice)
        self._columns()
        self.papp.snapshot_signal.subscribe(self, self.show)
        if self.papp.snapshot is not None:
            self.show(self.papp.snapshot)

    def on_resize(self, event: events.Resize) -> None:
        self._columns()
        if self.papp.snapshot is not None:
            self.show(self.papp.snapshot)

    def _columns(self) -> None:
        """(Re)build the columns when the terminal width or the longest name asks for other widths."""
        snap = self.papp.snapshot
        want = widths(self.size.width or 80, snap.circles if snap else ())
        if want == self._widths:
            return
        self._widths = want
        table = self.table
        if table.row_count:
            self._keep_row = table.cursor_row  # clear(columns=True) moves the cursor to the top
        table.clear(columns=True)
        self._rows = {}
        for key, label, _ in COLUMNS:
            table.add_column(label, key=key, width=want[key])

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#circles", DataTable)

    def selected(self) -> E.CircleStatus | None:
        snap = self.papp.snapshot
        table = self.table
        if snap is None or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return snap.circle(str(key))

    def show(self, snap: E.Snapshot) -> None:
        self._columns()
        table = self.table
        macs = [c.mac for c in snap.circles]
        with self.app.batch_update():
            if list(self._rows) != macs:
                cursor = self._keep_row if self._keep_row is not None else table.cursor_row
                self._keep_row = None
                table.clear()
                self._rows = {}
                for c in snap.circles:
                    cells = row_cells(c, self._pending.get(c.mac))
                    table.add_row(*[cells[k] for k, _, _ in COLUMNS], key=c.mac)
                    self._rows[c.mac] = cells
                if table.row_count:
                    table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
            else:
                for c in snap.circles:
                    cells = row_cells(c, self._pending.get(c.mac))
                    old = self._rows[c.mac]
                    for key, value in cells.items():
                        if old.get(key) != value:
                            table.update_cell(c.mac, key, value)
                    self._rows[c.mac] = cells
            self.query_one("#totals", Static).update(self._totals(snap))
            self.query_one("#link", Static).update(self._link(snap))
        self.refresh_bindings()

    def _totals(self, snap: E.Snapshot) -> Text:
        online = [c for c in snap.circles if c.online]
        cons = sum(c.watts for c in online if c.watts and c.watts > 0)
        prod = -sum(c.watts for c in online if c.watts and c.watts < 0)
        today_c = sum(c.today_wh or 0.0 for c in snap.circles) / 1000
        today_p = sum(c.today_wh_production or 0.0 for c in snap.circles) / 1000
        # circles whose records since midnight are still being read: the sum is a lower bound
        more = "+" if any(c.today_wh is None for c in snap.circles if c.online) else ""
        t = Text()
        t.append(f" Using {cons:,.0f} W", style="bold")
        t.append(f"  Producing {prod:,.0f} W", style="bold green")
        t.append(f"  Today {today_c:.2f}{more} kWh used, {today_p:.2f}{more} produced")
        t.append(f"  {len(online)}/{len(snap.circles)} online")
        done = sum(c.history_done for c in snap.circles)
        total = sum(c.history_total for c in snap.circles)
        if total and done < total:
            t.append(f"  history {100 * done // total} %", style="yellow")
        return t

    def _link(self, snap: E.Snapshot) -> Text:
        """State first, then details; the port is cut in the middle to what is left of the line."""
        link = snap.link
        t = Text(" ")
        if not self.papp.owner_alive:
            t.append(safe_text(self.papp.owner_message) + " — actions off", style="bold red")
            return t
        t.append("link up" if link.up else "link down", style="green" if link.up else "bold red")
        if link.attached_pid:
            t.append(f"  attached to pid {link.attached_pid}", style="bold magenta")
        if link.last_frame:
            age = (snap.time - link.last_frame).total_seconds()
            t.append(f"  last frame {max(0.0, age):.0f} s ago")
        t.append(f"  errors {link.errors}")
        if snap.mqtt != "off":
            t.append(f"  MQTT {snap.mqtt}", style="green" if snap.mqtt == "connected" else "yellow")
        room = (self.size.width or 80) - t.cell_len - 3
        port = safe_text(link.port)
        if room >= 8:
            if len(port) > room:
                half = (room - 1) // 2
                port = port[:half] + "…" + port[len(port) - (room - 1 - half) :]
            t.append(f"  {port}", style="dim")
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

    # --- what works now -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that would only be refused: no circle, offline, always on, no logger."""
        c = self.selected()
        needs_circle = ("toggle_relay", "toggle_schedule", "choose_schedule", "settings", "detail")
        if action in needs_circle and c is None:
            return False
        if (
            action in ("toggle_relay", "toggle_schedule", "choose_schedule", "settings")
            and not self.papp.actions_ok
        ):
            return False
        if action == "toggle_relay" and c is not None:
            return c.online and c.relay is not None and not (c.relay and c.always_on)
        if action == "toggle_schedule" and c is not None:
            return bool(c.schedule)
        return True

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    # --- actions ------------------------------------------------------------------------

    def _send(self, command: E.Command) -> None:
        self.post_message(CommandRequested(command))

    def action_toggle_relay(self) -> None:
        c = self.selected()
        if c is None:
            return
        who = safe_markup(c.name or c.mac)
        if c.relay is None:
            self.notify(f"the relay state of {who} is not known yet", severity="warning")
            return
        on = not c.relay
        if not on and c.always_on:
            self.notify(f"{who} is always on: switching it off is refused", severity="warning")
            return
        if not c.online:
            self.notify(f"{who} is offline", severity="warning")
            return
        self.mark_pending(c.mac, "on…" if on else "off…")
        self._send(E.Switch(c.mac, on))

    def action_toggle_schedule(self) -> None:
        c = self.selected()
        if c is None:
            return
        if not c.schedule:
            self.notify("no schedule assigned: press c to choose one", severity="warning")
            return
        self._send(E.SetScheduleState(c.mac, not c.schedule_state))

    def action_choose_schedule(self) -> None:
        c = self.selected()
        if c is None:
            return
        names = self.papp.schedule_names()

        def chosen(name: str | None) -> None:
            if name is not None:
                self._send(E.AssignSchedule(c.mac, name or None))

        self.app.push_screen(ChooseSchedule(names, c.schedule, circle_label(c)), chosen)

    def action_settings(self) -> None:
        c = self.selected()
        if c is not None:
            from .settings import open_settings

            open_settings(self, c)

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
