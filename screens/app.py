"""The Textual console.  The App (not a screen) runs the engine in one thread worker
and hands it the worker's cancel event as its stop signal; the engine's events
arrive as messages, one per poll cycle for the state."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState, get_current_worker

from pwtui import events as E
from pwtui.attach import AttachedEngine
from pwtui.config import Config
from pwtui.control.server import serve_owner
from pwtui.engine import Engine
from pwtui.lock import Lock, LockHeld, acquire, holder
from pwtui.schedulefile import ScheduleFileError, read_schedules
from pwtui.store import DB_NAME
from pwtui.text import safe_markup, safe_text

from .dashboard import DashboardScreen
from .keys import key_label
from .messages import CommandRequested, CycleMessage, EngineMessage


class PwtuiApp(App[int]):
    """The console.  Screens post `CommandRequested`; the app alone talks to the engine."""

    TITLE = "pwtui"
    CSS_PATH = "pwtui.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="app_quit", show=False, priority=True)]

    def __init__(self, config: Config, attach_pid: int | None = None, engine: Any = None) -> None:
        super().__init__()
        self.config = config
        self.attach_pid = attach_pid
        self.snapshot: E.Snapshot | None = None
        self.snapshot_signal: Signal[E.Snapshot] = Signal(self, "snapshot")
        self.engine = engine or (
            AttachedEngine(config, attach_pid, self._on_engine_event)
            if attach_pid
            else Engine(config, on_event=self._on_engine_event)
        )
        self.engine.on_event = self._on_engine_event
        self.results: list[E.CommandResult] = []
        self.result_signal: Signal[E.CommandResult] = Signal(self, "result")
        self._hung_up = threading.Event()
        self._engine_done = threading.Event()
        self._exited = threading.Event()  # set by main() once app.run() has returned
        self.owner_alive = True
        """False while the logger we are attached to does not answer: actions are off."""
        self.owner_message = ""
        self.sub_title = safe_text(
            f"attached to pid {attach_pid}" if attach_pid else config.stick.port
        )  # plain text

    @property
    def actions_ok(self) -> bool:
        """Whether commands can reach a stick owner now (footer keys and refusals follow this)."""
        return self.owner_alive

    @property
    def demo_notice(self) -> str:
        """Said on screen when no config was found and the simulator runs instead of a stick."""
        if self.config.path is None:
            return f"No pwtui.toml found: this is the simulator ({self.config.stick.port}), not a real stick."
        if self.config.stick.port.startswith("sim://"):
            return "Simulator: no real stick (set [stick] port in pwtui.toml)."
        return ""

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the current screen is in the palette too, by its description."""
        yield from super().get_system_commands(screen)
        seen = set()
        for binding in getattr(screen, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
                continue
            if self._refused(screen, binding.action):
                continue  # as in the footer: only what works now
            seen.add(binding.action)
            keys = " / ".join(key_label(k) for k in binding.key.split(","))
            title = f"{binding.description}: {binding.tooltip}" if binding.tooltip else binding.description
            yield SystemCommand(
                title,
                f"key: {keys}",
                partial(self.call_later, screen.run_action, binding.action),
            )

    @staticmethod
    def _refused(screen: Screen[Any], action: str) -> bool:
        name = action
        params: tuple[object, ...] = ()
        if "(" in action:
            name, _, rest = action.partition("(")
            params = tuple(p.strip() for p in rest.rstrip(")").split(",") if p.strip())
        return screen.check_action(name, params) is not True

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.run_engine()
        # a lost terminal (ssh hang-up, tmux killed) ends the app cleanly, releasing the stick
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.hang_up)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self._owner_pid = os.getppid()
        self.set_interval(1.0, self._check_terminal)

    def _check_terminal(self) -> None:
        """The process that owned our terminal is gone (we were re-parented): quit."""
        if os.getppid() != self._owner_pid:
            self.hang_up()

    def hang_up(self) -> None:
        """The terminal is gone: stop the engine (it frees the stick) and leave.

        Textual's shutdown writes to the terminal; with the terminal gone its
        writer thread can die on EIO and the shutdown then blocks on a full queue
        (seen about 1 run in 5 with tmux killed).  So a watchdog ends the process
        once the engine has stopped, if the normal exit has not by then; the stick
        lock is an flock and is freed with the process.
        """
        if self._hung_up.is_set():
            return
        self._hung_up.set()
        self.workers.cancel_group(self, "engine")
        threading.Thread(target=self._end_after_hang_up, name="pwtui-hangup", daemon=True).start()
        self.exit()

    def _end_after_hang_up(self) -> None:
        self._engine_done.wait(10.0)
        if not self._exited.wait(2.0):
            os._exit(0)

    @work(thread=True, group="engine", exclusive=True, exit_on_error=False)
    def run_engine(self) -> None:
        try:
            self.engine.run(get_current_worker().cancelled_event)
        finally:
            self._engine_done.set()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "engine" and event.state == WorkerState.ERROR:
            self.notify(
                f"the engine stopped: {safe_markup(event.worker.error)}", severity="error", timeout=30
            )

    def _on_engine_event(self, event: E.Event) -> None:
        """Called on the engine's thread: only post messages from here (thread-safe)."""
        if isinstance(event, E.CycleUpdate):
            self.post_message(CycleMessage(event.snapshot))
        else:
            self.post_message(EngineMessage(event))

    def on_cycle_message(self, message: CycleMessage) -> None:
        self.snapshot = message.snapshot
        self.snapshot_signal.publish(message.snapshot)

    def on_engine_message(self, message: EngineMessage) -> None:
        ev = message.event
        if isinstance(ev, E.CommandResult):
            self.results.append(ev)
            screen = self._dashboard()
            if screen is not None and ev.mac:
                screen.mark_pending(ev.mac, None)
            self.notify(safe_markup(ev.message), severity="information" if ev.ok else "error")
            self.result_signal.publish(ev)
        elif isinstance(ev, E.OwnerStatus):
            self._owner(ev)
        elif isinstance(ev, E.EngineLog) and ev.level in ("warning", "error"):
            self.notify(
                safe_markup(ev.message), severity="warning" if ev.level == "warning" else "error", timeout=8
            )
        elif isinstance(ev, E.LinkChanged) and self.snapshot is not None:
            self.snapshot = replace(self.snapshot, link=ev.link)
            self.snapshot_signal.publish(self.snapshot)

    def _owner(self, ev: E.OwnerStatus) -> None:
        """The logger we are attached to went away or came back: actions off/on, said at once."""
        self.owner_alive = ev.alive
        who = f"the logger (pid {ev.pid})" if ev.pid else "the logger"
        self.owner_message = ev.message or (f"{who} is back" if ev.alive else f"{who} does not answer")
        self.notify(
            safe_markup(self.owner_message) + ("" if ev.alive else ": actions are off until it is back"),
            severity="information" if ev.alive else "error",
            timeout=8 if ev.alive else 30,
        )
        for screen in self.screen_stack:
            screen.refresh_bindings()
        if self.snapshot is not None:
            self.snapshot_signal.publish(self.snapshot)

    @on(CommandRequested)
    def command_requested(self, message: CommandRequested) -> None:
        message.stop()
        if not self.actions_ok:
            self.notify(f"not sent: {safe_markup(self.owner_message)}", severity="error")
            return
        self.send(message.command)

    def _dashboard(self) -> DashboardScreen | None:
        for s in self.screen_stack:
            if isinstance(s, DashboardScreen):
                return s
        return None

    def send(self, command: E.Command) -> int:
        return self.engine.submit(command)

    def schedule_names(self) -> list[str]:
        try:
            return list(read_schedules(self.config.paths.schedules))
        except ScheduleFileError as exc:
            self.notify(safe_markup(exc), severity="error")
            return []

    def open_schedules(self, circle: E.CircleStatus | None) -> None:
        from .schedule_editor import ScheduleEditorScreen

        self.push_screen(
            ScheduleEditorScreen(self.config.paths.schedules, name=circle.schedule if circle else None)
        )

    def open_logs(self, circle: E.CircleStatus | None) -> None:
        from .log_browser import LogBrowserScreen

        circles = [(c.mac, c.name or c.mac) for c in (self.snapshot.circles if self.snapshot else ())]
        self.push_screen(
            LogBrowserScreen(
                self.config.paths.data / DB_NAME, circles=circles, mac=circle.mac if circle else None
            )
        )


def main(args: argparse.Namespace) -> int:
    from pwtui.headless import resolve_config

    cfg = resolve_config(args)
    lock: Lock | None = None
    pid = holder(cfg.paths.data)
    if pid is None:
        try:
            lock = acquire(cfg.paths.data)
        except LockHeld as exc:
            pid = exc.pid
        except OSError as exc:
            print(
                f"pwtui: cannot create the data folder {cfg.paths.data}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    served = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")  # a `pwtui web` session
    if not served and not sys.stdout.isatty() and not sys.stdin.isatty():
        print("pwtui: the console needs a terminal; use --headless for the logger", file=sys.stderr)
        if lock:
            lock.release()
        return 2
    app = PwtuiApp(cfg, attach_pid=pid)
    # the owner of the stick serves other pwtui processes (attached consoles, one-shots)
    owner = app.engine if lock and isinstance(app.engine, Engine) else None
    server = serve_owner(owner, cfg.paths.data) if owner is not None else None
    bridge = None
    if owner is not None and cfg.mqtt.enabled:  # the console owns the stick: it feeds the broker
        from pwtui.mqtt import MqttBridge

        bridge = MqttBridge(cfg.mqtt, owner)
        bridge.start()
    try:
        app.run()
    finally:
        app._exited.set()
        if bridge is not None:
            bridge.stop()
        if server:
            server.stop()
        if lock:
            lock.release()
    return 0
