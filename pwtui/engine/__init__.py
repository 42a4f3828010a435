"""The engine: a thin orchestrator of small services on one owner thread.

`Engine` keeps the seam of docs/ARCHITECTURE.md ("Engine seam").  All engine
state lives in a `Context` touched only by the owner thread (owner.py); the
console, the control socket, the file watcher and the stick's reader thread
reach it only through the owner's queue.  The services, one module each:
files (control/schedule files), discovery, polling, switching (and
always-on), schedules, clocks, history, recorder (store writes), status
(publishing), commands.  No Textual here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocol import messages as M
from protocol.errors import LinkDown, PlugwiseError
from protocol.stick import Priority, Stick

from .. import events as E
from ..config import Config
from ..legacylogs import LegacyLogs
from ..status import STATUS_NAME
from ..store import CACHE_PORT_KEY, DB_NAME, Store
from .clocks import Clocks
from .commands import Commands
from .discovery import Discovery
from .files import Files
from .history import History
from .owner import Owner
from .polling import Polling
from .recorder import Recorder
from .schedules import Schedules
from .state import Context
from .status import Publisher
from .switching import Switching

__all__ = ["Engine", "local_offset_minutes"]

log = logging.getLogger("pwtui.engine")
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0


def local_offset_minutes() -> int:
    off = datetime.now().astimezone().utcoffset()
    return int(off.total_seconds() // 60) if off else 0


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
        self._listeners: list[Callable[[E.Event], None]] = []
        self.owner = Owner(on_error=self._service_failed)
        self.ctx = Context(self.config, self.owner, self._emit, lambda: self.utc_offset())
        self._commands = Commands(self.ctx)
        self._publisher: Publisher | None = None
        self._initial = E.Snapshot(
            time=datetime.now(UTC),
            link=E.LinkStatus(port=self.port),
            manual_switch=self.config.engine.manual_switch,  # type: ignore[arg-type]
        )
        self._reconnect_s = RECONNECT_FIRST_S
        self._last_link_error = ""

    # --- the seam (any thread) ---------------------------------------------------------------

    @property
    def mqtt_state(self) -> Callable[[], E.MqttState]:
        """How the snapshot learns the MQTT bridge's connection (set by the stick owner)."""
        return self.ctx.mqtt_state

    @mqtt_state.setter
    def mqtt_state(self, fn: Callable[[], E.MqttState]) -> None:
        self.ctx.mqtt_state = fn

    def submit(self, command: E.Command) -> int:
        self.owner.call_soon_threadsafe(lambda: self._commands.run(command), "command")
        return command.id

    def snapshot(self) -> E.Snapshot:
        pub = self._publisher
        return pub.snapshot if pub is not None else self._initial

    @property
    def store_path(self) -> Path:
        """The SQLite file, for read-only users (log browser, MQTT backlog)."""
        return self.data_dir / DB_NAME

    def add_listener(self, callback: Callable[[E.Event], None]) -> Callable[[], None]:
        """Another event consumer (control socket, MQTT); returns a function that removes it."""
        self._listeners = [*self._listeners, callback]

        def remove() -> None:
            self._listeners = [c for c in self._listeners if c is not callback]

        return remove

    def request(self, msg: M.Request, priority: int = Priority.USER) -> Future[Any]:
        """A raw request on the owner's stick (one-shots through the control socket)."""
        stick = self.ctx.stick
        if stick is None or not stick.link_up:
            fut: Future[Any] = Future()
            fut.set_exception(LinkDown("the logger has no link to the stick"))
            return fut
        return stick.submit(msg, priority=priority)

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set; returns within about two seconds of it."""
        self.setup()
        closer = threading.Thread(target=self._close_on_stop, args=(stop,), name="engine-stop", daemon=True)
        closer.start()
        try:
            self.owner.run(stop)
        finally:
            self.shutdown()

    # --- lifecycle (owner thread) --------------------------------------------------------------

    def setup(self) -> None:
        """Open the store, start every service and the first connection attempt."""
        ctx = self.ctx
        self.data_dir.mkdir(parents=True, exist_ok=True)
        legacy = LegacyLogs(self.data_dir / "legacy") if self.config.logging.legacy_files else None
        ctx.recorder = Recorder(Store(self.store_path), self.config.logging.commit_interval, legacy)
        ctx.switching = Switching(ctx)
        ctx.schedule_svc = Schedules(ctx)
        ctx.polling = Polling(ctx)
        ctx.history = History(ctx)
        ctx.clocks = Clocks(ctx)
        ctx.discovery = Discovery(ctx)
        ctx.files = Files(ctx)
        self._publisher = ctx.publisher = Publisher(ctx)
        ctx.files.start()
        ctx.clocks.start()
        ctx.polling.start()
        self._connect()

    def shutdown(self) -> None:
        ctx = self.ctx
        ctx.stopping = True
        if ctx.stick is not None:
            ctx.stick.close()
        try:
            ctx.recorder.commit()
            if self._publisher is not None:
                self._publisher.stopped()
        finally:
            ctx.recorder.store.close()
            self.owner.close()

    def _close_on_stop(self, stop: threading.Event) -> None:
        """Closing the stick fails every pending request at once, so no wait outlives the stop."""
        stop.wait()
        self.ctx.stopping = True
        stick = self.ctx.stick
        if stick is not None:
            stick.close()

    def _emit(self, event: E.Event) -> None:
        for cb in [self.on_event, *self._listeners]:
            if cb is None:
                continue
            try:
                cb(event)
            except Exception:
                log.exception("event handler failed")

    def _service_failed(self, name: str, exc: BaseException) -> None:
        """A service raised in this cycle: an event, stored too; logging goes on."""
        self.ctx.note("error", "engine", f"{name} failed: {exc!r}; logging goes on")

    # --- the link -------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self.ctx.stopping:
            return
        cfg = self.config.stick
        stick = Stick(
            self.port,
            timeout=cfg.timeout,
            window=cfg.window,
            retries=cfg.retries,
            comm_log=self.config.paths.comm_log,
            on_unsolicited=lambda msg: self.owner.call_soon_threadsafe(
                lambda: self.ctx.discovery.unsolicited(msg), "unsolicited"
            ),
            on_link=lambda up: self.owner.call_soon_threadsafe(lambda: self._on_link(stick, up), "link"),
        )
        self.owner.in_worker(stick.open, lambda fut: self._opened(stick, fut), "link.open")

    def _opened(self, stick: Stick, fut: Future[Any]) -> None:
        ctx = self.ctx
        try:
            fut.result()
        except PlugwiseError as exc:
            stick.close()
            if str(exc) != self._last_link_error:
                ctx.note("error", "link", str(exc))
                self._last_link_error = str(exc)
            self._emit(E.LinkChanged(E.LinkStatus(port=self.port)))
            ctx.publisher.publish(cycle=False)
            self.owner.call_later(self._reconnect_s, self._connect, "link.connect")
            self._reconnect_s = min(self._reconnect_s * 2, RECONNECT_MAX_S)
            return
        if ctx.stopping:
            stick.close()
            return
        self._reconnect_s = RECONNECT_FIRST_S
        self._last_link_error = ""
        ctx.stick = stick
        store = ctx.recorder.store
        if store.meta(CACHE_PORT_KEY) != self.port:
            store.set_meta(CACHE_PORT_KEY, self.port)  # one-shots trust the cached calibrations of this port
        ctx.note("info", "link", f"stick {stick.info.mac if stick.info else '?'} on {self.port}")
        self._emit(E.LinkChanged(ctx.publisher.link_status(True)))
        ctx.discovery.link_up()

    def _on_link(self, stick: Stick, up: bool) -> None:
        ctx = self.ctx
        if stick is not ctx.stick:
            return  # the first connection is announced by _opened
        if up:
            ctx.note("info", "link", f"stick back on {self.port}")
            self._emit(E.LinkChanged(ctx.publisher.link_status(True)))
            ctx.discovery.link_up()
        else:
            ctx.note("warning", "link", f"stick lost on {self.port}; retrying")
            self._emit(E.LinkChanged(ctx.publisher.link_status(False)))
            ctx.publisher.publish(cycle=False)
