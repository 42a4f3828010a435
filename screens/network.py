"""The Circle+ node table and circles asking to join; join and remove with confirmation.

Removing a node takes the Circle+ several seconds: the row says "removing… N s"
until the engine answers, and the answer is shown once (the app's toast; the
header line keeps it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from pwtui import events as E
from pwtui.text import safe_markup, safe_text

from .confirm import ConfirmScreen
from .messages import CommandRequested

if TYPE_CHECKING:
    from .app import PwtuiApp


class NetworkScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="network_back"),
        Binding("j", "join", "Join", id="join", tooltip="Accept the selected circle into the network"),
        Binding("delete,r", "remove", "Remove", id="remove", tooltip="Remove the selected node"),
        Binding(
            "ctrl+r", "refresh_table", "Re-read", id="refresh_table", tooltip="Read the node table again"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.removing: dict[str, tuple[int, float]] = {}  # mac → (command id, started)
        self.outcome = ""  # the last removal's result, kept in the header line

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="net_head", classes="detail")
        t: DataTable[Any] = DataTable(id="nodes", cursor_type="row")
        t.add_column("Slot", key="slot", width=5)
        t.add_column("MAC", key="mac", width=18)
        t.add_column("Name", key="name", width=18)
        t.add_column("State", key="state", width=28)
        yield t
        yield Footer(compact=True)

    @property
    def papp(self) -> PwtuiApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.papp.snapshot_signal.subscribe(self, self.show)
        self.papp.result_signal.subscribe(self, self.result)
        self.set_interval(0.5, self._tick)
        if self.papp.snapshot:
            self.show(self.papp.snapshot)

    def _state(self, mac: str, online: bool | None) -> Text:
        if mac in self.removing:
            secs = time.monotonic() - self.removing[mac][1]
            return Text(f"removing… {secs:.0f} s", style="yellow")
        if online is None:
            return Text("coordinator")
        return Text("online" if online else "offline", style="green" if online else "red")

    def show(self, snap: E.Snapshot) -> None:
        t: DataTable[Any] = self.query_one("#nodes", DataTable)
        cursor = t.cursor_row
        names = {c.mac: c for c in snap.circles}

        def name(mac: str) -> Text:
            c = names.get(mac)
            return Text(safe_text(c.name) if c else "")

        with self.app.batch_update():
            t.clear()
            if snap.link.circle_plus_mac:
                mac = snap.link.circle_plus_mac
                t.add_row("C+", mac, name(mac), self._state(mac, None), key=mac)
            for index, mac in snap.node_table:
                c = names.get(mac)
                t.add_row(str(index), mac, name(mac), self._state(mac, bool(c and c.online)), key=mac)
            for mac in snap.joining:
                t.add_row("—", mac, "", "asks to join (press j)", key=f"join:{mac}")
            if t.row_count:
                t.move_cursor(row=min(max(cursor, 0), t.row_count - 1))
        self._head(snap)
        self.refresh_bindings()

    def _head(self, snap: E.Snapshot) -> None:
        text = Text(
            f"Circle+ {snap.link.circle_plus_mac or '—'}: {len(snap.node_table)} nodes, "
            f"{len(snap.joining)} asking to join"
        )
        if self.outcome:
            text.append(f"   {self.outcome}", style="bold")
        self.query_one("#net_head", Static).update(text)

    def _tick(self) -> None:
        """Count the seconds of a running removal in its row."""
        t: DataTable[Any] = self.query_one("#nodes", DataTable)
        for mac in self.removing:
            if mac in t.rows:
                t.update_cell(mac, "state", self._state(mac, None))

    def result(self, ev: E.CommandResult) -> None:
        """The engine answered a removal: the row returns to normal, the header keeps the result."""
        for mac, (cid, _) in list(self.removing.items()):
            if cid == ev.command_id:
                del self.removing[mac]
                self.outcome = safe_text(ev.message)
                if self.papp.snapshot:
                    self.show(self.papp.snapshot)

    def _selected_key(self) -> str | None:
        t: DataTable[Any] = self.query_one("#nodes", DataTable)
        if not t.row_count:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def _label(self, mac: str) -> str:
        snap = self.papp.snapshot
        c = snap.circle(mac) if snap else None
        name = safe_text(c.name) if c else ""
        return safe_markup(f"{name} ({mac})" if name else mac)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        key = self._selected_key()
        snap = self.papp.snapshot
        if action == "join":
            return self.papp.actions_ok and bool(key and key.startswith("join:"))
        if action == "remove":
            is_node = bool(key) and not str(key).startswith("join:")
            plus = snap is not None and key == snap.link.circle_plus_mac
            return self.papp.actions_ok and is_node and not plus and key not in self.removing
        if action == "refresh_table":
            return self.papp.actions_ok
        return True

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def action_join(self) -> None:
        key = self._selected_key()
        if not key or not key.startswith("join:"):
            self.notify("select a circle that asks to join", severity="warning")
            return
        mac = key[5:]

        def answer(yes: bool | None) -> None:
            if yes:
                self.post_message(CommandRequested(E.JoinNode(mac)))

        self.app.push_screen(ConfirmScreen(f"Accept circle {mac} into the network?"), answer)

    def action_remove(self) -> None:
        key = self._selected_key()
        snap = self.papp.snapshot
        if not key or key.startswith("join:") or (snap and key == snap.link.circle_plus_mac):
            self.notify("select a node of the table", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            cmd = E.RemoveNode(key)
            self.removing[key] = (cmd.id, time.monotonic())
            self.outcome = ""
            self.post_message(CommandRequested(cmd))
            self._tick()
            self.refresh_bindings()

        self.app.push_screen(
            ConfirmScreen(
                f"Remove {self._label(key)} from the network? It must be joined again to come back."
            ),
            answer,
        )

    def action_refresh_table(self) -> None:
        self.post_message(CommandRequested(E.RefreshNodeTable()))
