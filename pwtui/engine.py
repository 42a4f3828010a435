"""The engine: discovery, live power, energy history, file control, schedules, recovery.

One loop thread polls in cycles aligned to the wall clock; one command thread
carries out user commands at once (with the driver's USER priority, so a key
press never waits behind a history catch-up).  State is published as one
`CycleUpdate` per cycle and in status.json.  No Textual here.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from protocol import messages as M
from protocol import units
from protocol.circle import Circle, CircleInfo, CirclePlus, LogRecord, poll_power
from protocol.errors import LinkDown, PlugwiseError
from protocol.stick import Priority, Stick
from protocol.units import Calibration

from . import events as E
from .config import CircleConfig, Config
from .controlfile import ControlFileError, ControlRow, read_control, write_control
from .legacylogs import LegacyLogs
from .schedulefile import NamedSchedule, ScheduleFileError, read_schedules
from .status import STATUS_NAME, write_status
from .store import DB_NAME, Interval, Store

log = logging.getLogger("pwtui.engine")
SPARK_POINTS = 60
EARLIEST = datetime(2005, 1, 1, tzinfo=UTC)


def local_offset_minutes() -> int:
    off = datetime.now().astimezone().utcoffset()
    return int(off.total_seconds() // 60) if off else 0


@dataclass
class _Node:
    mac: str
    cfg: CircleConfig | None
    circle: Circle
    online: bool = False
    initialised: bool = False
    relay: bool | None = None
    watts: float | None = None
    watts_1s: float | None = None
    wh_hour: float = 0.0
    wh_hour_production: float = 0.0
    last_seen: datetime | None = None
    info: CircleInfo | None = None
    drift: float | None = None
    recent: deque = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    next_block: int | None = None
    history_done: int = 0
    history_total: int = 0
    schedule_sync: str | None = None
    pending: str | None = None
    today_wh: float = 0.0
    today_wh_production: float = 0.0
    failures: int = 0
    read_pos: tuple[int | None, int | None] | None = None  # where the current block was last read


class Engine:
    def __init__(
        self,
        config: Config,
        port: str | None = None,
        on_event: Callable[[E.Event], None] | None = None,
        *,
        utc_offset: Callable[[], int] = local_offset_minutes,
    ) -> None:
        self.config = config.with_port(port)
        self.port = self.config.stick.port
        self.on_event = on_event
        self.utc_offset = utc_offset
        self.data_dir = self.config.paths.data
        self.status_path = self.data_dir / STATUS_NAME
        self._commands: queue.Queue[E.Command] = queue.Queue()
        self._listeners: list[Callable[[E.Event], None]] = []
        self._lock = threading.RLock()
        self._nodes: dict[str, _Node] = {}
        self._stick: Stick | None = None
        self._store: Store | None = None
        self._control: dict[str, ControlRow] = {}
        self._schedules: dict[str, NamedSchedule] = {}
        self._mtimes: dict[str, float] = {}
        self._joining: set[str] = set()
        self._node_table: list[tuple[int, str]] = []
        self._pending_events: list[tuple[str | None, str, str]] = []
        self._unsaved: list[tuple[str, int, float]] = []  # power samples not yet committed
        self._last_commit = time.monotonic()
        self._need_discovery = True
        self._offset = utc_offset()
        self._last_clock_day: str | None = None
        self._stop = threading.Event()
        self._legacy = LegacyLogs(self.data_dir / "legacy") if self.config.logging.legacy_files else None
        self._snapshot = E.Snapshot(
            time=datetime.now(UTC),
            link=E.LinkStatus(port=self.port),
            manual_switch=self.config.engine.manual_switch,
        )  # type: ignore[arg-type]

    # --- public --------------------------------------------------------------------------

    def submit(self, command: E.Command) -> int:
        self._commands.put(command)
        return command.id

    def snapshot(self) -> E.Snapshot:
        return self._snapshot

    @property
    def store_path(self) -> Path:
        """The SQLite file, for read-only users (log browser, MQTT backlog)."""
        return self.data_dir / DB_NAME

    def add_listener(self, callback: Callable[[E.Event], None]) -> Callable[[], None]:
        """Another event consumer (control socket, MQTT); returns a function that removes it."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    def request(self, msg: M.Request, priority: int = Priority.USER) -> Future[Any]:
        """A raw request on the owner's stick (one-shots through the control socket)."""
        stick = self._stick
        if stick is None or not stick.link_up:
            fut: Future[Any] = Future()
            fut.set_exception(LinkDown("the logger has no link to the stick"))
            return fut
        return stick.submit(msg, priority=priority)

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set; returns within about two seconds of it."""
        self._stop = stop
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.data_dir / DB_NAME)
        self._init_files()
        worker = threading.Thread(target=self._command_loop, name="engine-commands", daemon=True)
        worker.start()
        threading.Thread(target=self._close_on_stop, name="engine-stop", daemon=True).start()
        interval = self.config.logging.power_interval
        backoff = 0.5
        try:
            while not stop.is_set():
                if self._stick is None:
                    if not self._connect():
                        stop.wait(backoff)
                        backoff = min(backoff * 2, 30.0)
                        continue
                    backoff = 0.5
                if self._need_discovery and self._stick.link_up:
                    self._discover()
                self._cycle()
                next_due = (int(time.time() // interval) + 1) * interval
                # history catch-up uses the rest of the cycle, a chunk at a time
                while not stop.is_set() and time.time() < next_due - 0.3:
                    self._check_files()
                    if not self._history_step(deadline=min(next_due - 0.3, time.time() + 1.0)):
                        stop.wait(min(1.0, max(0.0, next_due - time.time())))
        finally:
            self._shutdown(worker)

    # --- lifecycle -----------------------------------------------------------------------

    def _emit(self, event: E.Event) -> None:
        for cb in [self.on_event, *self._listeners]:
            if cb is None:
                continue
            try:
                cb(event)
            except Exception:
                log.exception("event handler failed")

    def _note(self, level: str, kind: str, message: str, mac: str | None = None) -> None:
        if self._stop.is_set() and level in ("warning", "error"):
            return  # failures caused by stopping are not news
        self._emit(E.EngineLog(datetime.now(UTC), level, kind, message, mac))  # type: ignore[arg-type]
        with self._lock:
            self._pending_events.append((mac, kind, message))

    def _connect(self) -> bool:
        cfg = self.config.stick
        stick = Stick(
            self.port,
            timeout=cfg.timeout,
            window=cfg.window,
            retries=cfg.retries,
            comm_log=self.config.paths.comm_log,
            on_unsolicited=self._unsolicited,
            on_link=self._on_link,
        )
        try:
            stick.open()
        except PlugwiseError as exc:
            self._note("error", "link", str(exc))
            self._publish_link(False, stick)
            return False
        self._stick = stick
        self._need_discovery = True
        self._note("info", "link", f"stick {stick.info.mac if stick.info else '?'} on {self.port}")
        self._publish_link(True, stick)
        return True

    def _on_link(self, up: bool) -> None:
        if self._stick is None:
            return  # the first connection is announced by _connect
        if up:
            self._need_discovery = True
            self._note("info", "link", f"stick back on {self.port}")
        else:
            self._note("warning", "link", f"stick lost on {self.port}; retrying")
        if self._stick is not None:
            self._publish_link(up, self._stick)

    def _publish_link(self, up: bool, stick: Stick) -> None:
        link = self._link_status(stick, up)
        self._emit(E.LinkChanged(link))

    def _link_status(self, stick: Stick | None, up: bool | None = None) -> E.LinkStatus:
        if stick is None:
            return E.LinkStatus(port=self.port)
        info = stick.info
        last = stick.stats.last_frame
        return E.LinkStatus(
            port=self.port,
            up=stick.link_up if up is None else up,
            stick_mac=info.mac if info else None,
            circle_plus_mac=info.circle_plus_mac if info else None,
            network_online=bool(info and info.network_online),
            last_frame=datetime.fromtimestamp(last, tz=UTC) if last else None,
            errors=stick.stats.timeouts + stick.bad_frames,
        )

    def _close_on_stop(self) -> None:
        """Closing the stick fails every pending request at once, so no wait outlives the stop."""
        self._stop.wait()
        if self._stick is not None:
            self._stick.close()

    def _shutdown(self, worker: threading.Thread) -> None:
        worker.join(1.0)
        if self._stick is not None:
            self._stick.close()
        if self._store is not None:
            self._commit()
            self._store.close()

    # --- files -----------------------------------------------------------------------------

    def _init_files(self) -> None:
        paths = self.config.paths
        if not paths.control.exists():
            rows = [ControlRow(mac=c.mac, name=c.name) for c in self.config.circles]
            write_control(paths.control, rows)
            self._note("info", "config", f"created {paths.control}")
        self._check_files(force=True, initial=True)

    def _check_files(self, force: bool = False, initial: bool = False) -> None:
        paths = self.config.paths
        changed = []
        for key, path in (("control", paths.control), ("schedules", paths.schedules)):
            try:
                m = path.stat().st_mtime_ns
            except OSError:
                m = -1
            if force or self._mtimes.get(key) != m:
                self._mtimes[key] = m
                changed.append(key)
        if not changed:
            return
        if "schedules" in changed:
            try:
                self._schedules = read_schedules(paths.schedules)
            except ScheduleFileError as exc:
                self._note("warning", "config", f"{exc}; keeping the last good schedules")
        try:
            rows = read_control(paths.control)
        except ControlFileError as exc:
            self._note("warning", "config", f"{exc}; keeping the last good control settings")
            return
        new: dict[str, ControlRow] = {}
        known = {c.mac for c in self.config.circles} | set(self._nodes)
        for r in rows:
            if self._nodes and r.mac not in known:  # before discovery every row may still match a node
                self._note(
                    "warning", "config", f"{paths.control}: unknown circle {r.mac}; row skipped", r.mac
                )
                continue
            if r.schedule and r.schedule not in self._schedules:
                self._note(
                    "warning",
                    "config",
                    f"{paths.control}: unknown schedule {r.schedule!r} for {r.mac}; row skipped",
                    r.mac,
                )
                continue
            new[r.mac] = r
        old = self._control
        self._control = new
        if initial:
            return
        for mac, row in new.items():
            node = self._nodes.get(mac)
            if node is None or not node.online:
                continue
            before = old.get(mac)
            sched_changed = "schedules" in changed and row.schedule and row.schedule_state
            if before is None or (before.switch_state != row.switch_state and not row.schedule_state):
                self._apply_switch(node, row.switch_state, from_file=True)
            if (
                before is None
                or (before.schedule_state, before.schedule) != (row.schedule_state, row.schedule)
                or sched_changed
            ):
                self._apply_schedule(node, row)

    def _row(self, mac: str) -> ControlRow:
        row = self._control.get(mac)
        if row is None:
            cfg = self.config.circle(mac)
            row = ControlRow(mac=mac, name=cfg.name if cfg else "")
        return row

    def _update_row(self, mac: str, **changes: object) -> None:
        """Keep the control file in step with what the engine did (UI and file never disagree)."""
        with self._lock:
            row = replace(self._row(mac), **changes)  # type: ignore[arg-type]
            self._control[mac] = row
            rows = []
            try:
                rows = read_control(self.config.paths.control)
            except ControlFileError:
                rows = list(self._control.values())
            found = False
            for i, r in enumerate(rows):
                if r.mac == mac:
                    rows[i] = row
                    found = True
            if not found:
                rows.append(row)
            write_control(self.config.paths.control, rows)
            try:
                self._mtimes["control"] = self.config.paths.control.stat().st_mtime_ns
            except OSError:
                pass

    # --- discovery and (re)initialisation ----------------------------------------------

    def _discover(self) -> None:
        """Rows first, live watts next, the slow work after: configured and
        remembered circles are polled before the node table is read."""
        stick = self._stick
        assert stick is not None and self._store is not None
        self._need_discovery = False
        cp_mac = stick.info.circle_plus_mac if stick.info else None
        known = [c.mac for c in self.config.circles]
        with self._lock:
            remembered = [m for (m,) in self._store.db.execute("SELECT mac FROM circles ORDER BY mac")]
        self._add_nodes([*known, *(m for m in remembered if m not in known)], cp_mac)
        self._publish()
        self._first_poll(list(self._nodes.values()))
        if cp_mac:
            try:
                self._node_table = CirclePlus(stick, cp_mac).node_table(Priority.NORMAL)
            except PlugwiseError as exc:
                self._note("warning", "discovery", f"cannot read the Circle+ node table: {exc}")
            table = [m for _, m in self._node_table]
            new = [m for m in [cp_mac, *table] if m not in self._nodes]
            for m in new:
                if m not in remembered:
                    self._note(
                        "info", "discovery", f"found circle {m} in the node table (not in the config)", m
                    )
            for c in self.config.circles:
                if c.mac != cp_mac and self._node_table and c.mac not in table:
                    self._note(
                        "warning",
                        "discovery",
                        f"configured circle {c.mac} ({c.name}) is not in the Circle+ node table",
                        c.mac,
                    )
            self._add_nodes(new, cp_mac)
            self._first_poll([self._nodes[m] for m in new])
        infos = {m: n.circle.info_future() for m, n in self._nodes.items()}
        ready = []
        for mac, node in self._nodes.items():
            try:
                node.info = infos[mac].result(60)
            except (PlugwiseError, TimeoutError) as exc:
                self._mark_offline(node, exc)
                continue
            ready.append(node)
        self._apply_static(ready)
        for node in ready:
            if self._stop.is_set():
                return
            self._came_online(node, first=True)
        self._sync_clocks(force=True)

    def _add_nodes(self, macs: list[str], cp_mac: str | None) -> None:
        stick = self._stick
        assert stick is not None and self._store is not None
        with self._lock:
            for mac in macs:
                if mac in self._nodes:
                    self._nodes[mac].circle.stick = stick
                    continue
                cfg = self.config.circle(mac)
                cls = CirclePlus if mac == cp_mac else Circle
                node = _Node(mac, cfg, cls(stick, mac, cfg.log_interval if cfg else 60))
                cached = (self._store.circle(mac) or {}).get("info", {}).get("calibration")
                if cached:
                    node.circle._calibration = Calibration(*cached)
                self._nodes[mac] = node

    def _first_poll(self, nodes: list[_Node]) -> None:
        """Live watts in pipelined batches, small first and publishing after each, so
        the first rows come alive within a second even on a network of 64 circles."""
        i, batch = 0, 3
        while i < len(nodes):
            if self._stop.is_set():
                return
            group = nodes[i : i + batch]
            i += batch
            batch = 16
            cals = {n.mac: n.circle.calibration_future(Priority.USER) for n in group}
            for n in group:
                try:
                    cal = cals[n.mac].result(60)
                except (PlugwiseError, TimeoutError) as exc:
                    self._mark_offline(n, exc)
                    continue
                with self._lock:
                    self._store.set_circle(
                        n.mac, info={"calibration": [cal.gain_a, cal.gain_b, cal.off_tot, cal.off_noise]}
                    )
            live = [n for n in group if n.circle._calibration is not None]
            infos = {n.mac: n.circle.info_future(Priority.USER) for n in live}
            for mac, r in poll_power([n.circle for n in live], Priority.USER).items():
                n = self._nodes[mac]
                if isinstance(r, Exception):
                    self._mark_offline(n, r)
                    continue
                n.online = True
                n.watts, n.watts_1s = r.watts_8s, r.watts_1s
                n.wh_hour, n.wh_hour_production = r.wh_hour, r.wh_hour_production
                n.last_seen = r.time
                n.recent.append(r.watts_8s)
                try:
                    n.info = infos[mac].result(60)
                    n.relay = n.info.relay
                except (PlugwiseError, TimeoutError):
                    pass
            with self._lock:
                self._today(datetime.now(UTC))
            self._publish()

    def _came_online(self, node: _Node, first: bool = False) -> None:
        assert self._store is not None
        was = node.online
        node.online = True
        node.failures = 0
        node.last_seen = datetime.now(UTC)
        if node.info:
            node.relay = node.info.relay
        if not was and not first:
            self._note("info", "online", f"circle {self._name(node)} is back online", node.mac)
        with self._lock:
            self._store.set_circle(
                node.mac,
                name=self._name(node),
                info={
                    "node_type": node.info.node_type if node.info else None,
                    "model": node.info.model if node.info else None,
                    "hw_version": node.info.hw_version if node.info else None,
                },
            )
        if not first:
            self._apply_static([node])
        row = self._row(node.mac)
        if row.schedule_state and row.schedule:
            self._apply_schedule(node, row)
        elif row.switch_state != node.relay and node.relay is not None:
            self._apply_switch(node, row.switch_state, from_file=True)
        self._enforce_always_on(node)
        node.initialised = True

    def _mark_offline(self, node: _Node, exc: BaseException) -> None:
        if isinstance(exc, LinkDown):
            return
        node.failures += 1
        if node.online or not node.initialised:
            self._note("warning", "offline", f"circle {self._name(node)} does not answer: {exc}", node.mac)
        node.online = False
        node.initialised = True

    def _apply_static(self, nodes: list[_Node]) -> None:
        """Log intervals (0057) where they differ from what we last set, in one burst."""
        assert self._store is not None and self._stick is not None
        todo = []
        for node in nodes:
            cfg = node.cfg
            if cfg is None:
                continue
            want = [cfg.log_interval, cfg.log_interval if cfg.production else 0]
            with self._lock:
                st = self._store.circle(node.mac) or {}
            if st.get("info", {}).get("log_intervals") != want:
                todo.append(
                    (
                        node,
                        want,
                        self._stick.submit(
                            M.LogIntervalRequest(mac=node.mac, consumption=want[0], production=want[1]),
                            Priority.NORMAL,
                        ),
                    )
                )
        for node, want, fut in todo:
            try:
                fut.result(60)
            except (PlugwiseError, TimeoutError) as exc:
                self._note(
                    "warning",
                    "settings",
                    f"cannot set the log interval of {self._name(node)}: {exc}",
                    node.mac,
                )
                continue
            node.circle.log_interval = want[0]
            with self._lock:
                self._store.set_circle(node.mac, info={"log_intervals": want})
            self._note(
                "info",
                "settings",
                f"{self._name(node)}: log interval {want[0]} min{', production logged' if want[1] else ''}",
                node.mac,
            )

    # --- switching and schedules --------------------------------------------------------

    def _apply_switch(self, node: _Node, on: bool, from_file: bool = False) -> bool:
        cfg = node.cfg
        if not on and cfg is not None and cfg.always_on:
            self._note("warning", "switch", f"{self._name(node)} is always_on: not switched off", node.mac)
            return False
        node.pending = "switching on" if on else "switching off"
        try:
            state = node.circle.switch(on, Priority.USER)
        except PlugwiseError as exc:
            node.pending = None
            self._note(
                "error",
                "switch",
                f"switching {self._name(node)} {'on' if on else 'off'} failed: {exc}",
                node.mac,
            )
            if not isinstance(exc, LinkDown):
                self._mark_offline(node, exc)
            return False
        node.pending = None
        node.relay = state
        self._note(
            "info",
            "switch",
            f"{self._name(node)} switched {'on' if state else 'off'}{' (control file)' if from_file else ''}",
            node.mac,
        )
        return True

    def _apply_schedule(self, node: _Node, row: ControlRow) -> None:
        circle = node.circle
        if not row.schedule_state or not row.schedule:
            try:
                circle.schedule_enable(False, Priority.NORMAL)
                node.schedule_sync = None
            except PlugwiseError as exc:
                self._note(
                    "warning",
                    "schedule",
                    f"cannot disable the schedule of {self._name(node)}: {exc}",
                    node.mac,
                )
            return
        sched = self._schedules.get(row.schedule)
        if sched is None:
            self._note(
                "warning", "schedule", f"unknown schedule {row.schedule!r} for {self._name(node)}", node.mac
            )
            return
        node.schedule_sync = "pending"
        try:
            values = sched.week.to_circle(circle.calibration(), self.utc_offset())
            if node.cfg is not None and node.cfg.always_on:
                values = tuple(-1 if v == 0 else v for v in values)
            uploaded = circle.upload_schedule(values, priority=Priority.NORMAL)
            circle.schedule_enable(True, Priority.NORMAL)
        except PlugwiseError as exc:
            node.schedule_sync = "failed"
            self._note(
                "error",
                "schedule",
                f"schedule {row.schedule!r} to {self._name(node)} failed: {exc}",
                node.mac,
            )
            return
        node.schedule_sync = "done"
        if uploaded:
            self._note(
                "info", "schedule", f"schedule {row.schedule!r} uploaded to {self._name(node)}", node.mac
            )

    def _enforce_always_on(self, node: _Node) -> None:
        if node.cfg is not None and node.cfg.always_on and node.relay is False and node.online:
            self._note(
                "warning", "switch", f"{self._name(node)} is always_on but was off: switching on", node.mac
            )
            self._apply_switch(node, True)

    # --- commands -------------------------------------------------------------------------

    def _command_loop(self) -> None:
        while not self._stop.is_set():
            try:
                cmd = self._commands.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                ok, message, mac = self._execute(cmd)
            except PlugwiseError as exc:
                ok, message, mac = False, str(exc), getattr(cmd, "mac", None)
            except Exception as exc:
                log.exception("command failed")
                ok, message, mac = False, f"internal error: {exc}", getattr(cmd, "mac", None)
            self._emit(E.CommandResult(cmd.id, mac, ok, message))
            self._publish()

    def _execute(self, cmd: E.Command) -> tuple[bool, str, str | None]:
        mac = getattr(cmd, "mac", None)
        if isinstance(cmd, E.ReloadFiles):
            self._check_files(force=True)
            return True, "files reloaded", None
        node = self._nodes.get(mac or "")
        if isinstance(cmd, (E.JoinNode, E.RemoveNode, E.RefreshNodeTable)):
            return self._network_command(cmd)
        if node is None:
            return False, f"unknown circle {mac}", mac
        name = self._name(node)
        if isinstance(cmd, E.Switch):
            if not cmd.on and node.cfg is not None and node.cfg.always_on:
                return False, f"{name} is always on: switching it off is refused", mac
            if not self._apply_switch(node, cmd.on):
                return False, f"switching {name} failed", mac
            changes: dict[str, object] = {"switch_state": cmd.on}
            row = self._row(node.mac)
            if row.schedule_state and self.config.engine.manual_switch == "disable_schedule":
                node.circle.schedule_enable(False, Priority.USER)
                changes["schedule_state"] = False
                node.schedule_sync = None
            self._update_row(node.mac, **changes)
            return True, f"{name} is {'on' if cmd.on else 'off'}", mac
        if isinstance(cmd, E.SetScheduleState):
            row = replace(self._row(node.mac), schedule_state=cmd.on)
            if cmd.on and not row.schedule:
                return False, f"{name} has no schedule assigned", mac
            self._update_row(node.mac, schedule_state=cmd.on)
            self._apply_schedule(node, row)
            return node.schedule_sync != "failed", f"{name}: schedule {'on' if cmd.on else 'off'}", mac
        if isinstance(cmd, E.AssignSchedule):
            if cmd.schedule and cmd.schedule not in self._schedules:
                return False, f"no schedule named {cmd.schedule!r}", mac
            row = replace(
                self._row(node.mac),
                schedule=cmd.schedule or "",
                schedule_state=self._row(node.mac).schedule_state and bool(cmd.schedule),
            )
            self._update_row(node.mac, schedule=row.schedule, schedule_state=row.schedule_state)
            if row.schedule_state:
                self._apply_schedule(node, row)
            return True, f"{name}: schedule {cmd.schedule or 'none'}", mac
        if isinstance(cmd, E.SyncClock):
            node.circle.set_clock(priority=Priority.USER)
            self._note("info", "clock", f"clock of {name} set", mac)
            return True, f"clock of {name} set", mac
        return False, f"unknown command {type(cmd).__name__}", mac

    def _network_command(self, cmd: E.Command) -> tuple[bool, str, str | None]:
        stick = self._stick
        cp_mac = stick.info.circle_plus_mac if stick and stick.info else None
        if stick is None or not cp_mac:
            return False, "no Circle+ network", None
        cp = CirclePlus(stick, cp_mac)
        if isinstance(cmd, E.JoinNode):
            cp.accept_join(cmd.mac)
            self._joining.discard(cmd.mac)
            self._note("info", "network", f"accepted {cmd.mac} into the network", cmd.mac)
            self._need_discovery = True
            return True, f"{cmd.mac} accepted", cmd.mac
        if isinstance(cmd, E.RemoveNode):
            ok = cp.remove_node(cmd.mac)
            self._note("info", "network", f"removed {cmd.mac} from the network", cmd.mac)
            self._node_table = cp.node_table()
            return ok, f"{cmd.mac} {'removed' if ok else 'not removed'}", cmd.mac
        self._node_table = cp.node_table()
        return True, "node table read", None

    def _unsolicited(self, msg: M.Message) -> None:
        if isinstance(msg, M.AdvertiseResponse) and msg.mac not in self._nodes:
            if msg.mac not in self._joining:
                self._note("info", "network", f"circle {msg.mac} asks to join the network", msg.mac)
            self._joining.add(msg.mac)
        elif isinstance(msg, M.JoinedResponse):
            self._joining.discard(msg.mac)
            self._need_discovery = True
        elif isinstance(msg, M.PingResponse):
            node = self._nodes.get(msg.mac)
            if node is not None and not node.online:
                node.failures = 0

    # --- the cycle ------------------------------------------------------------------------

    def _cycle(self) -> None:
        stick = self._stick
        store = self._store
        assert store is not None
        self._check_files()
        if stick is None or not stick.link_up:
            self._publish()
            return
        now = datetime.now(UTC)
        ts = int(now.timestamp())
        nodes = list(self._nodes.values())
        monitored = [n for n in nodes if n.online and self._row(n.mac).monitor]
        readings = poll_power([n.circle for n in monitored], Priority.NORMAL)
        samples = []
        for n in monitored:
            r = readings.get(n.mac)
            if isinstance(r, Exception) or r is None:
                self._mark_offline(n, r or Exception("no reading"))
                continue
            n.watts, n.watts_1s = r.watts_8s, r.watts_1s
            n.wh_hour, n.wh_hour_production = r.wh_hour, r.wh_hour_production
            n.last_seen = r.time
            n.recent.append(r.watts_8s)
            samples.append((n.mac, ts, round(r.watts_8s, 3)))
        for n in nodes:
            if not n.online:
                self._retry_offline(n)
        self._sync_clocks()
        offset = self.utc_offset()
        if offset != self._offset:
            self._offset = offset
            self._note("info", "schedule", f"local UTC offset is now {offset:+d} min: re-uploading schedules")
            for n in nodes:
                row = self._row(n.mac)
                if n.online and row.schedule_state:
                    self._apply_schedule(n, row)
        # node info each cycle: the relay as the circle has it, and where its log is
        infos = {n.mac: n.circle.info_future(Priority.NORMAL) for n in nodes if n.online}
        for n in nodes:
            fut = infos.get(n.mac)
            if fut is None:
                continue
            try:
                n.info = fut.result(60)
            except (PlugwiseError, TimeoutError) as exc:
                self._mark_offline(n, exc)
                continue
            if n.relay != n.info.relay and n.relay is not None and n.pending is None:
                self._note(
                    "info",
                    "switch",
                    f"{self._name(n)} is {'on' if n.info.relay else 'off'} "
                    f"(switched by its schedule or by hand)",
                    n.mac,
                )
            n.relay = n.info.relay
            self._enforce_always_on(n)
        if self._legacy is not None:
            try:
                self._legacy.power(samples)
            except OSError as exc:
                log.warning("legacy power log: %s", exc)
        self._unsaved.extend(samples)
        every = self.config.logging.commit_interval
        if every == 0 or time.monotonic() - self._last_commit >= every:
            self._commit()
        with self._lock:
            self._today(now)
        self._publish()

    def _commit(self) -> None:
        """One transaction for everything gathered since the last commit (SD cards thank us)."""
        store = self._store
        assert store is not None
        with self._lock, store.batch():
            store.add_power(self._unsaved)
            self._flush_events()
        self._unsaved = []
        self._last_commit = time.monotonic()

    def _retry_offline(self, node: _Node) -> None:
        try:
            node.circle.ping(Priority.NORMAL)
            node.info = node.circle.info(Priority.NORMAL)
            node.circle.calibration(Priority.NORMAL)
        except PlugwiseError as exc:
            self._mark_offline(node, exc)
            return
        self._came_online(node)

    def _sync_clocks(self, force: bool = False) -> None:
        """Set clocks at start, daily at the configured hour, and when they drift."""
        stick = self._stick
        if stick is None:
            return
        local = datetime.now().astimezone()
        day = local.date().isoformat()
        daily = local.hour == self.config.engine.clock_sync_hour and self._last_clock_day != day
        online = [n for n in self._nodes.values() if n.online]
        futs = {n.mac: n.circle.clock_future(Priority.NORMAL) for n in online}
        to_set = []
        for n in online:
            try:
                reading = futs[n.mac].result(60)
            except (PlugwiseError, TimeoutError):
                continue
            n.drift = reading.drift_s
            if force or daily or abs(reading.drift_s) > self.config.engine.max_drift:
                to_set.append((n, reading.drift_s))
        # one pipelined burst; each request carries the time it is built at (A §8: log address FFFFFFFF)
        sets = [
            (n, drift, stick.submit(M.ClockSetRequest.at(n.mac, datetime.now(UTC)), Priority.NORMAL))
            for n, drift in to_set
        ]
        for n, drift, fut in sets:
            try:
                fut.result(60)
            except (PlugwiseError, TimeoutError) as exc:
                self._note("warning", "clock", f"cannot set the clock of {self._name(n)}: {exc}", n.mac)
                continue
            n.drift = 0.0
            if not force:
                self._note("info", "clock", f"clock of {self._name(n)} set (drift {drift:+.0f} s)", n.mac)
        if force or daily:
            self._last_clock_day = day
            cp_mac = stick.info.circle_plus_mac if stick.info else None
            if cp_mac and cp_mac in self._nodes and self._nodes[cp_mac].online:
                try:
                    CirclePlus(stick, cp_mac).set_rtc(priority=Priority.NORMAL)
                except PlugwiseError as exc:
                    self._note("warning", "clock", f"cannot set the Circle+ clock: {exc}", cp_mac)

    # --- history --------------------------------------------------------------------------

    def _history_step(self, deadline: float) -> bool:
        """Read one chunk of log blocks for the circle furthest behind; False when all caught up.

        Fully written blocks are read once; the block the circle is writing is
        read again whenever its write position moved."""
        store = self._store
        assert store is not None
        candidates = []
        for n in list(self._nodes.values()):
            if not n.online or n.info is None or not self._row(n.mac).savelog:
                continue
            current = n.info.log_block
            if current is None:
                continue
            if n.next_block is None and not self._start_history(n, current):
                continue
            assert n.next_block is not None
            behind = (
                0
                if n.next_block == (current + 1) % units.LOG_BLOCKS
                else (current - n.next_block) % units.LOG_BLOCKS
            )
            n.history_total = n.history_done + behind
            if behind > 0 or n.read_pos != (current, n.info.log_address.slot):
                candidates.append((behind, n))
        if not candidates:
            return False
        behind, node = max(candidates, key=lambda c: c[0])
        assert node.info is not None and node.next_block is not None
        current = node.info.log_block
        position = (current, node.info.log_address.slot)
        first = node.next_block
        count = min(self.config.engine.history_blocks_per_cycle, behind + 1)
        last = (first + count - 1) % units.LOG_BLOCKS
        try:
            records = node.circle.log_range(first, last, Priority.BACKGROUND)
        except PlugwiseError as exc:
            self._mark_offline(node, exc)
            return True
        self._store_records(node, records)
        advanced = min(count, behind)
        if advanced:
            node.next_block = (first + advanced) % units.LOG_BLOCKS
            node.history_done += advanced
            with self._lock:
                store.set_circle(node.mac, last_block=(node.next_block - 1) % units.LOG_BLOCKS)
        if last == current:
            node.read_pos = position
        return time.time() < deadline

    def _start_history(self, node: _Node, current: int) -> bool:
        store = self._store
        assert store is not None
        with self._lock:
            st = store.circle(node.mac) or {}
        last = st.get("last_block")
        if last is not None:
            node.next_block = (last + 1) % units.LOG_BLOCKS
            return True
        # first run: has the ring wrapped?  The block after the write position tells.
        try:
            after = node.circle.log_range(
                (current + 1) % units.LOG_BLOCKS, (current + 1) % units.LOG_BLOCKS, Priority.BACKGROUND
            )
        except PlugwiseError as exc:
            self._mark_offline(node, exc)
            return False
        node.next_block = (current + 1) % units.LOG_BLOCKS if after else 0
        node.history_done = 0
        self._note(
            "info",
            "history",
            f"{self._name(node)}: reading "
            f"{(current - node.next_block) % units.LOG_BLOCKS + 1} log blocks of history",
            node.mac,
        )
        return True

    def _store_records(self, node: _Node, records: list[LogRecord]) -> None:
        store = self._store
        assert store is not None
        now = datetime.now(UTC)
        good: list[Interval] = []
        for r in records:
            if r.end < EARLIEST or r.end > now + timedelta(days=1) or not 0 < r.minutes <= 1440:
                self._note(
                    "warning",
                    "history",
                    f"{self._name(node)}: implausible log entry set aside "
                    f"(block {r.block}, slot {r.slot}, {units.iso(r.end)}, {r.minutes} min)",
                    node.mac,
                )
                continue
            end_ts = int(r.end.timestamp())
            good.append(Interval(node.mac, end_ts - r.minutes * 60, end_ts, r.wh, r.production, r.block))
        with self._lock, store.batch():
            self._note_gaps(node, good)
            new = store.add_intervals(good)
        if self._legacy is not None and new:
            try:
                self._legacy.intervals(new)
            except OSError as exc:
                log.warning("legacy interval log: %s", exc)

    def _note_gaps(self, node: _Node, intervals: list[Interval]) -> None:
        """A hole before newly read intervals that nothing can fill (the circle's ring
        buffer moved past it) is recorded, so the data says where it is incomplete."""
        store = self._store
        assert store is not None
        for production in (False, True):
            ivs = sorted((i for i in intervals if i.production == production), key=lambda i: i.end_ts)
            if not ivs:
                continue
            prev = store.last_end_before(node.mac, ivs[0].end_ts, production)
            if (
                prev is not None
                and ivs[0].start_ts - prev >= 60
                and not store.db.execute(
                    "SELECT 1 FROM energy WHERE mac=? AND production=? AND end_ts>? AND end_ts<?",
                    (node.mac, int(production), prev, ivs[0].end_ts),
                ).fetchone()
            ):
                start, end = (
                    units.iso(datetime.fromtimestamp(prev, UTC)),
                    units.iso(datetime.fromtimestamp(ivs[0].start_ts, UTC)),
                )
                self._note(
                    "warning",
                    "gap",
                    f"{self._name(node)}: no {'production' if production else 'energy'} "
                    f"data from {start} to {end} (lost from the circle's log)",
                    node.mac,
                )

    # --- publishing -------------------------------------------------------------------------

    def _flush_events(self) -> None:
        assert self._store is not None
        for mac, kind, message in self._pending_events:
            self._store.add_event(mac, kind, message)
        self._pending_events.clear()

    def _today(self, now: datetime) -> None:
        store = self._store
        assert store is not None
        local = now.astimezone()
        midnight = int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        hour_start = int(now.timestamp()) - int(now.timestamp()) % 3600
        for n in self._nodes.values():
            n.today_wh = store.energy_between(n.mac, midnight, hour_start) + n.wh_hour
            n.today_wh_production = (
                store.energy_between(n.mac, midnight, hour_start, True) + n.wh_hour_production
            )

    def _name(self, node: _Node) -> str:
        return node.cfg.name if node.cfg and node.cfg.name else node.mac

    def _publish(self) -> None:
        circles = []
        with self._lock:
            for n in self._nodes.values():
                row = self._row(n.mac)
                cfg = n.cfg
                cal = n.circle._calibration
                circles.append(
                    E.CircleStatus(
                        mac=n.mac,
                        name=cfg.name if cfg else "",
                        location=cfg.location if cfg else "",
                        category=cfg.category if cfg else "",
                        configured=cfg is not None,
                        online=n.online,
                        relay=n.relay,
                        watts=n.watts if n.online else None,
                        watts_1s=n.watts_1s,
                        today_wh=n.today_wh,
                        today_wh_production=n.today_wh_production,
                        schedule=row.schedule or None,
                        schedule_state=row.schedule_state,
                        schedule_sync=n.schedule_sync,
                        monitor=row.monitor,
                        savelog=row.savelog,
                        always_on=bool(cfg and cfg.always_on),
                        production=bool(cfg and cfg.production),
                        log_interval=cfg.log_interval if cfg else 60,
                        last_seen=n.last_seen,
                        pending=n.pending,
                        node_type=n.info.node_type if n.info else None,
                        model=n.info.model if n.info else None,
                        hw_version=n.info.hw_version if n.info else None,
                        fw_version=n.info.fw_version if n.info else None,
                        log_address=n.info.log_block if n.info else None,
                        clock_drift_s=n.drift,
                        calibration=(cal.gain_a, cal.gain_b, cal.off_tot, cal.off_noise) if cal else None,
                        recent_watts=tuple(n.recent),
                        history_done=n.history_done,
                        history_total=n.history_total,
                    )
                )
            snap = E.Snapshot(
                time=datetime.now(UTC),
                link=self._link_status(self._stick),
                circles=tuple(circles),
                manual_switch=self.config.engine.manual_switch,  # type: ignore[arg-type]
                node_table=tuple(self._node_table),
                joining=tuple(sorted(self._joining)),
            )
            self._snapshot = snap
        try:
            write_status(self.status_path, snap, os.getpid())
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_path, exc)
        self._emit(E.CycleUpdate(snap))
