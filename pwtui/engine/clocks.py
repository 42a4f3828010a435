"""Circle clocks: set when a circle is initialised, daily at the configured hour, and on drift.

Clocks are read every ten minutes (not every cycle: one request per circle
per check is all the drift needs).
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime

from protocol.circle import CirclePlus, ClockReading
from protocol.stick import Priority

from .state import Context, Node

CHECK_EVERY_S = 600.0


class Clocks:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._last_day: str | None = None

    def start(self) -> None:
        self.ctx.owner.call_later(CHECK_EVERY_S, self._tick, "clocks.check")

    def _tick(self) -> None:
        self.ctx.owner.call_later(CHECK_EVERY_S, self._tick, "clocks.check")
        self.check_all()

    def check_all(self) -> None:
        local = datetime.now().astimezone()
        day = local.date().isoformat()
        daily = local.hour == self.ctx.config.engine.clock_sync_hour and self._last_day != day
        if daily:
            self._last_day = day
        for n in self.ctx.online_nodes():
            self.check(n, force=daily)

    def check(self, node: Node, force: bool = False, quiet: bool = False) -> None:
        """Read the clock and set it on drift; `force`: set it anyway (and skip the read)."""
        ctx = self.ctx
        if force:
            self.set(node, None, quiet=True)  # the read would only say by how much
            return

        def read(fut: Future[ClockReading]) -> None:
            try:
                reading = fut.result()
            except Exception:
                return  # polling notices a circle that does not answer
            node.drift = reading.drift_s
            if abs(reading.drift_s) > ctx.config.engine.max_drift:
                self.set(node, reading.drift_s, quiet=quiet)

        ctx.owner.when_done(node.circle.clock_future(Priority.NORMAL), read, "clocks.read")

    def set(self, node: Node, drift: float | None, quiet: bool = False, done: object = None) -> None:
        ctx = self.ctx
        circle = node.circle

        def finished(fut: Future[None]) -> None:
            try:
                fut.result()
            except Exception as exc:
                ctx.note("warning", "clock", f"cannot set the clock of {ctx.name(node)}: {exc}", node.mac)
                if callable(done):
                    done(False, f"cannot set the clock of {ctx.name(node)}: {exc}")
                return
            node.drift = 0.0
            if not quiet:
                what = f" (drift {drift:+.0f} s)" if drift is not None else ""
                ctx.note("info", "clock", f"clock of {ctx.name(node)} set{what}", node.mac)
            if callable(done):
                done(True, f"clock of {ctx.name(node)} set")

        def work() -> None:
            circle.set_clock(priority=Priority.NORMAL)  # each request carries the time it is sent at
            if isinstance(circle, CirclePlus):
                circle.set_rtc(priority=Priority.NORMAL)

        ctx.owner.in_worker(work, finished, "clocks.set")
