"""Discovery and (re)initialisation of circles.

On link-up the nodes come from pwtui.toml and the store's cached node table,
and are polled at once (the first samples within one cycle); the Circle+ node
table is read after that.  A circle that answers for the first time, or again
after being offline, is initialised: node info, log interval, its control row
(switch or schedule), always-on, clock, and its history is caught up.
"""

from __future__ import annotations

import time
from concurrent.futures import Future

from protocol import messages as M
from protocol.circle import Circle, CircleInfo, CirclePlus, PowerReading
from protocol.stick import Priority
from protocol.units import Calibration

from ..store import Interval
from .state import Context, Node


class Discovery:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cal_checked: set[str] = set()
        self.table_read = False

    # --- link up ---------------------------------------------------------------------------

    def link_up(self) -> None:
        ctx = self.ctx
        stick = ctx.stick
        assert stick is not None
        cp_mac = stick.info.circle_plus_mac if stick.info else None
        known = [c.mac for c in ctx.config.circles]
        remembered = ctx.recorder.store.circle_macs()
        macs = [*known, *(m for m in remembered if m not in known)]
        if cp_mac and cp_mac not in macs:
            macs.append(cp_mac)
        self.add(macs, cp_mac)
        for n in ctx.nodes.values():  # all are asked again on a new link
            n.initialised = False
            n.noted_offline = False
            n.online = False
        ctx.polling.poll(ctx.polling.slot_now())
        if cp_mac:
            self.read_node_table(cp_mac, remembered)

    def add(self, macs: list[str], cp_mac: str | None) -> list[Node]:
        ctx = self.ctx
        stick = ctx.stick
        assert stick is not None
        added = []
        for mac in macs:
            node = ctx.nodes.get(mac)
            cls = CirclePlus if mac == cp_mac else Circle
            circle = cls(stick, mac, ctx.settings(mac).log_interval)
            if node is None:
                node = Node(mac, ctx.config.circle(mac), circle)
                ctx.nodes[mac] = node
                added.append(node)
            else:
                node.circle = circle
        return added

    def read_node_table(self, cp_mac: str, remembered: list[str]) -> None:
        """The Circle+ table, 64 requests at once; a circle found is polled as its slot answers."""
        ctx = self.ctx
        node = ctx.nodes[cp_mac]
        cp = node.circle
        assert isinstance(cp, CirclePlus)
        started = ctx.table_changes
        # BACKGROUND: the first power polls of the circles known already go first
        futures = cp.node_table_futures(Priority.BACKGROUND)
        entries: dict[int, str] = {}
        failures: list[BaseException] = []
        left = [len(futures)]

        def slot(fut: Future[M.NodeTableResponse]) -> None:
            left[0] -= 1
            if ctx.table_changes != started:
                return  # a join or removal came in between: this read is out of date
            try:
                r = fut.result()
            except Exception as exc:
                failures.append(exc)
            else:
                if not r.empty:
                    entries[r.index] = r.node_mac
                    self._found(r.node_mac, cp_mac, remembered)
            if left[0] == 0:
                self._table_read(cp_mac, sorted(entries.items()), failures)

        for f in futures:
            ctx.owner.when_done(f, slot, "discovery.node_table")

    def _found(self, mac: str, cp_mac: str, remembered: list[str]) -> None:
        ctx = self.ctx
        if mac in ctx.nodes:
            return
        if mac not in remembered:
            ctx.note("info", "discovery", f"found circle {mac} in the node table (not in the config)", mac)
        if self.add([mac], cp_mac):
            ctx.polling.first_contacts()

    def _table_read(self, cp_mac: str, table: list[tuple[int, str]], failures: list[BaseException]) -> None:
        ctx = self.ctx
        if failures:
            ctx.note("warning", "discovery", f"cannot read the Circle+ node table: {failures[0]}")
            return
        ctx.node_table = table
        self.table_read = True
        macs = [m for _, m in table]
        for c in ctx.config.circles:
            if c.mac != cp_mac and c.mac not in macs:
                ctx.note(
                    "warning",
                    "discovery",
                    f"configured circle {c.mac} ({c.name}) is not in the Circle+ node table",
                    c.mac,
                )
        ctx.files.check(force=True)  # rows of circles found just now are accepted now

    # --- per circle ---------------------------------------------------------------------------

    def cache_calibration(self, node: Node, cal: Calibration) -> None:
        """Calibration in the store for one-shots; a different one means the circle was replaced."""
        node.calibration = cal
        if node.mac in self._cal_checked:
            return
        self._cal_checked.add(node.mac)
        store = self.ctx.recorder.store
        want = [cal.gain_a, cal.gain_b, cal.off_tot, cal.off_noise]
        cached = (store.circle(node.mac) or {}).get("info", {}).get("calibration")
        if cached == want:
            return
        if cached is not None:
            self.ctx.note(
                "info", "discovery", f"{self.ctx.name(node)}: new calibration (circle replaced?)", node.mac
            )
            store.forget_cache(node.mac, ("log_intervals", "node_type", "model", "hw_version", "fw_version"))
        store.set_circle(node.mac, info={"calibration": want})

    def read_info(self, node: Node, then: object = None) -> None:
        ctx = self.ctx
        node.info_pending = True

        def done(fut: Future[CircleInfo]) -> None:
            node.info_pending = False
            try:
                info = fut.result()
            except Exception as exc:
                ctx.mark_offline(node, exc)
                return
            before = node.relay
            node.failures = 0
            node.info = info
            node.info_at = time.time()
            node.relay = info.relay
            if node.initialised and before is not None and before != info.relay and node.pending is None:
                ctx.note(
                    "info",
                    "switch",
                    f"{ctx.name(node)} is {'on' if info.relay else 'off'} (switched by its schedule or by hand)",
                    node.mac,
                )
            if not node.initialised:
                self._initialised(node)
            else:
                ctx.switching.enforce_always_on(node)
            ctx.history.kick()

        ctx.owner.when_done(node.circle.info_future(Priority.NORMAL), done, "discovery.info")

    def initialise(self, node: Node) -> None:
        if not node.info_pending:
            self.read_info(node)

    def _initialised(self, node: Node) -> None:
        ctx = self.ctx
        info = node.info
        assert info is not None
        node.initialised = True
        if node.noted_offline:
            ctx.note("info", "online", f"circle {ctx.name(node)} is back online", node.mac)
        node.noted_offline = False
        ctx.recorder.store.set_circle(
            node.mac,
            name=ctx.name(node),
            info={"node_type": info.node_type, "model": info.model, "hw_version": info.hw_version},
        )
        s = ctx.settings(node.mac)
        if s.in_control:
            self.apply_static([node])
            row = ctx.row(node.mac)
            assert row is not None
            if row.schedule_state and row.schedule:
                ctx.schedule_svc.apply(node)
            elif row.switch_state != node.relay:
                ctx.switching.apply(node, row.switch_state, "control file")
            ctx.switching.enforce_always_on(node)
        ctx.clocks.check(node, force=True)

    def apply_static(self, nodes: list[Node]) -> None:
        """Log intervals where they differ from what we last set (circles in the control file only)."""
        ctx = self.ctx
        store = ctx.recorder.store
        for node in nodes:
            s = ctx.settings(node.mac)
            if not s.in_control or (
                node.cfg is None and getattr(ctx.row(node.mac), "log_interval", None) is None
            ):
                continue
            want = [s.log_interval, s.log_interval if s.production else 0]
            if (store.circle(node.mac) or {}).get("info", {}).get("log_intervals") == want:
                continue
            old = (store.circle(node.mac) or {}).get("info", {}).get("log_intervals") or [60, 0]
            self._set_intervals(node, old, want)

    def _set_intervals(self, node: Node, old: list[int], want: list[int]) -> None:
        """Set the log intervals; a change from hourly keeps the hour so far as a partial interval.

        The circle starts a new interval at the change and never logs the part of
        the hour before it; its hour counter (from a power reading just before the
        change) holds that energy, stored with its true length."""
        ctx = self.ctx
        store = ctx.recorder.store
        circle = node.circle
        partial = old[0] == 60 and want[0] != 60

        def work() -> PowerReading | None:
            reading = circle.power(Priority.NORMAL) if partial else None
            circle.set_log_interval(want[0], want[1], Priority.NORMAL)
            return reading

        def done(fut: Future[PowerReading | None]) -> None:
            try:
                reading = fut.result()
            except Exception as exc:
                ctx.note(
                    "warning", "settings", f"cannot set the log interval of {ctx.name(node)}: {exc}", node.mac
                )
                return
            now = int(time.time())
            since = now - now % (want[0] * 60)  # the circle's first new interval starts here
            if reading is not None:
                t = reading.time.timestamp()
                since = int(t - t % (want[0] * 60))
                hour = since - since % 3600
                # the hour counter runs up to the reading; the part after `since` is in the
                # circle's first new record, so it comes off (at the 8-s power of the moment)
                after = (t - since) / 3600.0
                ivs = [
                    Interval(
                        node.mac,
                        hour,
                        since,
                        max(0.0, reading.wh_hour - max(0.0, reading.watts_8s) * after),
                        False,
                    )
                ]
                if want[1] or old[1]:
                    produced = max(0.0, reading.wh_hour_production - max(0.0, -reading.watts_8s) * after)
                    ivs.append(Interval(node.mac, hour, since, produced, True))
                if since > hour:
                    ctx.recorder.add_intervals(ivs)
            store.set_circle(
                node.mac,
                info={"log_intervals": want, "log_intervals_before": old, "log_intervals_since": since},
            )
            ctx.note(
                "info",
                "settings",
                f"{ctx.name(node)}: log interval {want[0]} min{', production logged' if want[1] else ''}",
                node.mac,
            )

        ctx.owner.in_worker(work, done, "settings")

    # --- from the stick's reader thread (posted to the owner) ----------------------------------

    def unsolicited(self, msg: M.Message) -> None:
        ctx = self.ctx
        members = {m for _i, m in ctx.node_table}
        if isinstance(msg, M.AdvertiseResponse) and msg.mac not in members:  # a removed one may rejoin
            if msg.mac not in ctx.joining:
                ctx.note("info", "network", f"circle {msg.mac} asks to join the network", msg.mac)
            ctx.joining.add(msg.mac)
        elif isinstance(msg, M.JoinedResponse):
            ctx.joining.discard(msg.mac)
            stick = ctx.stick
            if stick is not None and stick.info and stick.info.circle_plus_mac:
                self.read_node_table(stick.info.circle_plus_mac, ctx.recorder.store.circle_macs())
        elif isinstance(msg, M.PingResponse):
            node = ctx.nodes.get(msg.mac)
            if node is not None:
                node.rssi_in, node.rssi_out = msg.rssi_in, msg.rssi_out
                if not node.online:
                    node.retry_at = 0.0  # it speaks: probe it in the next slot
