"""The Circle+ node table and circles asking to join; join and remove with confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from pwtui import events as E

from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from .app import PwtuiApp


class NetworkScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="network_back"),
        Binding("j", "join", "Join", id="join"),
        Binding("delete,r", "remove", "Remove", id="remove"),
        Binding("ctrl+r", "refresh_table", "Re-read table", id="refresh_table"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="net_head", classes="detail")
        t: DataTable = DataTable(id="nodes", cursor_type="row")
        t.add_column("Slot", key="slot", width=5)
        t.add_column("MAC", key="mac", width=18)
        t.add_column("Name", key="name", width=18)
        t.add_column("State", key="state", width=22)
        yield t
        yield Footer()

    @property
    def papp(self) -> PwtuiApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.papp.snapshot_signal.subscribe(self, self.show)
        if self.papp.snapshot:
            self.show(self.papp.snapshot)

    def show(self, snap: E.Snapshot) -> None:
        t = self.query_one("#nodes", DataTable)
        cursor = t.cursor_row
        t.clear()
        names = {c.mac: c for c in snap.circles}
        if snap.link.circle_plus_mac:
            c = names.get(snap.link.circle_plus_mac)
            t.add_row(
                "C+",
                snap.link.circle_plus_mac,
                c.name if c else "",
                "coordinator",
                key=snap.link.circle_plus_mac,
            )
        for index, mac in snap.node_table:
            c = names.get(mac)
            t.add_row(
                str(index), mac, c.name if c else "", "online" if c and c.online else "offline", key=mac
            )
        for mac in snap.joining:
            t.add_row("—", mac, "", "asks to join (press j)", key=f"join:{mac}")
        if t.row_count:
            t.move_cursor(row=min(cursor, t.row_count - 1))
        self.query_one("#net_head", Static).update(
            f"Circle+ {snap.link.circle_plus_mac or '—'}: {len(snap.node_table)} nodes, "
            f"{len(snap.joining)} asking to join"
        )

    def _selected_key(self) -> str | None:
        t = self.query_one("#nodes", DataTable)
        if not t.row_count:
            return None
        return str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)

    def action_join(self) -> None:
        key = self._selected_key()
        if not key or not key.startswith("join:"):
            self.notify("select a circle that asks to join", severity="warning")
            return
        mac = key[5:]
        self.app.push_screen(
            ConfirmScreen(f"Accept {mac} into the network?"),
            lambda yes: yes and self.papp.send(E.JoinNode(mac)),
        )

    def action_remove(self) -> None:
        key = self._selected_key()
        snap = self.papp.snapshot
        if not key or key.startswith("join:") or (snap and key == snap.link.circle_plus_mac):
            self.notify("select a node of the table", severity="warning")
            return
        self.app.push_screen(
            ConfirmScreen(f"Remove {key} from the network? It must be joined again to come back."),
            lambda yes: yes and self.papp.send(E.RemoveNode(key)),
        )

    def action_refresh_table(self) -> None:
        self.papp.send(E.RefreshNodeTable())
