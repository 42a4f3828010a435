"""Schedules: upload (verified by CRC), enable/disable, re-upload when the UTC offset changes.

A change to the active schedule is in force at once (the circle is told to
re-apply it), and the status says from when.  For an always-on circle every
"off" and standby-killer slot is uploaded as "on", and the note says so.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime

from protocol import schedules as S
from protocol.stick import Priority

from .state import Context, Node
from .switching import Done


class Schedules:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.offset = ctx.utc_offset()
        self._busy: set[str] = set()
        self._again: set[str] = set()

    def check_offset(self) -> None:
        """Daylight saving time: the circle keeps UTC, so the schedule is uploaded again (each slot)."""
        ctx = self.ctx
        offset = ctx.utc_offset()
        if offset == self.offset:
            return
        self.offset = offset
        ctx.note("info", "schedule", f"local UTC offset is now {offset:+d} min: re-uploading schedules")
        for n in ctx.online_nodes():
            row = ctx.row(n.mac)
            if row is not None and row.schedule_state:
                self.apply(n)

    def apply(self, node: Node, done: Done | None = None) -> None:
        """Bring the circle's schedule in line with its control row (never for unlisted circles)."""
        ctx = self.ctx
        row = ctx.row(node.mac)

        def tell(ok: bool, message: str) -> None:
            if done is not None:
                done(ok, message)

        if row is None:
            tell(False, f"{ctx.name(node)} is not in the control file")
            return
        if node.mac in self._busy:
            self._again.add(node.mac)  # applied again once the running upload is done
            tell(True, f"{ctx.name(node)}: schedule change queued behind the upload under way")
            return
        self._busy.add(node.mac)
        name = ctx.name(node)
        circle = node.circle
        if not row.schedule_state or not row.schedule:

            def disable() -> None:
                circle.schedule_enable(False, Priority.NORMAL)

            def disabled(fut: Future[None]) -> None:
                self._finish(node)
                try:
                    fut.result()
                except Exception as exc:
                    ctx.note("warning", "schedule", f"cannot disable the schedule of {name}: {exc}", node.mac)
                    tell(False, f"cannot disable the schedule of {name}: {exc}")
                    return
                node.schedule_sync = None
                node.schedule_from = None
                tell(True, f"{name}: schedule off")

            ctx.owner.in_worker(disable, disabled, "schedule.disable")
            return
        sched = ctx.schedules.get(row.schedule)
        if sched is None:
            self._finish(node)
            ctx.note("warning", "schedule", f"unknown schedule {row.schedule!r} for {name}", node.mac)
            tell(False, f"unknown schedule {row.schedule!r}")
            return
        node.schedule_sync = "pending"
        always_on = ctx.settings(node.mac).always_on
        offset = self.offset
        week = sched.week

        def upload() -> tuple[bool, bool]:
            values = week.to_circle(circle.calibration(Priority.NORMAL), offset)
            forced_on = always_on and any(v != S.ON for v in values)
            if forced_on:
                values = tuple(S.ON for _ in values)
            uploaded = circle.upload_schedule(values, priority=Priority.NORMAL)
            if uploaded:
                # re-enabling makes the circle apply the current quarter's value now,
                # not at the next quarter hour
                circle.schedule_enable(False, Priority.NORMAL)
            circle.schedule_enable(True, Priority.NORMAL)
            return uploaded, forced_on

        def uploaded(fut: Future[tuple[bool, bool]]) -> None:
            self._finish(node)
            try:
                changed, forced_on = fut.result()
            except Exception as exc:
                node.schedule_sync = "failed"
                ctx.note("error", "schedule", f"schedule {row.schedule!r} to {name} failed: {exc}", node.mac)
                tell(False, f"schedule {row.schedule!r} to {name} failed: {exc}")
                return
            node.schedule_sync = "done"
            if changed or node.schedule_from is None:
                node.schedule_from = datetime.now(UTC)
            if forced_on:
                ctx.note(
                    "warning",
                    "schedule",
                    f"{name} is always on: the off and standby-killer slots of {row.schedule!r} "
                    "are uploaded as on",
                    node.mac,
                )
            since = node.schedule_from.astimezone().strftime("%H:%M:%S")
            if changed:
                ctx.note(
                    "info",
                    "schedule",
                    f"schedule {row.schedule!r} uploaded to {name}, in force from {since}",
                    node.mac,
                )
            tell(True, f"{name}: schedule {row.schedule!r} on, in force since {since}")

        ctx.owner.in_worker(upload, uploaded, "schedule.upload")

    def _finish(self, node: Node) -> None:
        self._busy.discard(node.mac)
        if node.mac in self._again:
            self._again.discard(node.mac)
            self.apply(node)
