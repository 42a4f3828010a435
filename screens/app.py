"""The Textual console.  The App (not a screen) runs the engine in one thread worker
and hands it the worker's cancel event as its stop signal; the engine's events
arrive as messages, one per poll cycle for the state."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterable
from functools import partial
from typing import Any

from textual import work
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

from .dashboard import DashboardScreen
from .messages import CycleMessage, EngineMessage


class PwtuiApp(App[int]):
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
        self.sub_title = f"attached to pid {attach_pid}" if attach_pid else config.stick.port

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the current screen is in the palette too, by its description."""
        yield from super().get_system_commands(screen)
        seen = set()
        for binding in getattr(screen, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            keys = binding.key.replace(",", " / ")
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} (key: {keys})",
                partial(self.call_later, screen.run_action, binding.action),
            )

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.run_engine()
        # a lost terminal (ssh hang-up, tmux killed) ends the app cleanly, releasing the stick
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.exit)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self._owner_pid = os.getppid()
        self.set_interval(1.0, self._check_terminal)

    def _check_terminal(self) -> None:
        """The process that owned our terminal is gone (we were re-parented): quit."""
        if os.getppid() != self._owner_pid:
            self.exit()

    @work(thread=True, group="engine", exclusive=True, exit_on_error=False)
    def run_engine(self) -> None:
        self.engine.run(get_current_worker().cancelled_event)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "engine" and event.state == WorkerState.ERROR:
            self.notify(f"the engine stopped: {event.worker.error}", severity="error", timeout=30)

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
            self.notify(ev.message, severity="information" if ev.ok else "error")
        elif isinstance(ev, E.EngineLog) and ev.level in ("warning", "error"):
            self.notify(ev.message, severity="warning" if ev.level == "warning" else "error", timeout=8)
        elif isinstance(ev, E.LinkChanged) and self.snapshot is not None:
            from dataclasses import replace

            self.snapshot = replace(self.snapshot, link=ev.link)
            self.snapshot_signal.publish(self.snapshot)

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
            self.notify(str(exc), severity="error")
            return []

    def open_schedules(self, circle: E.CircleStatus | None) -> None:
        try:
            from .schedule_editor import ScheduleEditorScreen
        except ImportError:
            self.notify("the schedule editor is not part of this build yet", severity="warning")
            return
        self.push_screen(
            ScheduleEditorScreen(
                self.config.paths.schedules, engine=self.engine, name=circle.schedule if circle else None
            )
        )

    def open_logs(self, circle: E.CircleStatus | None) -> None:
        try:
            from .log_browser import LogBrowserScreen
        except ImportError:
            self.notify("the log browser is not part of this build yet", severity="warning")
            return
        circles = [(c.mac, c.name or c.mac) for c in (self.snapshot.circles if self.snapshot else ())]
        self.push_screen(
            LogBrowserScreen(
                self.config.paths.data / "pwtui.sqlite", circles=circles, mac=circle.mac if circle else None
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
    if not sys.stdout.isatty() and not sys.stdin.isatty():
        print("pwtui: the console needs a terminal; use --headless for the logger", file=sys.stderr)
        if lock:
            lock.release()
        return 2
    app = PwtuiApp(cfg, attach_pid=pid)
    # the owner of the stick serves other pwtui processes (attached consoles, one-shots)
    server = serve_owner(app.engine, cfg.paths.data) if lock and isinstance(app.engine, Engine) else None
    try:
        app.run()
    finally:
        if server:
            server.stop()
        if lock:
            lock.release()
    return 0
