"""User commands, carried out on the owner thread; each is answered by one CommandResult.

Refusals carry their reason (always-on, not in the control file, invalid value).
A command that needs the link finishes when the circle answered, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from protocol import units
from protocol.circle import CirclePlus, PowerReading
from protocol.stick import Priority
from protocol.units import Calibration

from .. import events as E
from ..controlfile import ControlFileError
from .state import Context, Node

Answer = Callable[[bool, str, dict[str, object] | None], None]


class Commands:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run(self, cmd: E.Command) -> None:
        ctx = self.ctx
        mac = getattr(cmd, "mac", None)
        sent = False

        def answer(ok: bool, message: str, data: dict[str, object] | None = None) -> None:
            nonlocal sent
            if sent:
                return
            sent = True
            ctx.emit(E.CommandResult(cmd.id, mac, ok, message, data))
            ctx.publisher.publish()  # the console sees the command's effect at once

        try:
            self._run(cmd, answer)
        except ControlFileError as exc:
            answer(False, str(exc))
        except Exception as exc:
            answer(False, f"internal error: {exc}")
            raise  # the owner logs it as an engine error

    def _run(self, cmd: E.Command, answer: Answer) -> None:
        ctx = self.ctx
        if isinstance(cmd, E.ReloadFiles):
            ctx.files.check(force=True)
            answer(True, "files reloaded", None)
            return
        if isinstance(cmd, (E.JoinNode, E.RemoveNode, E.RefreshNodeTable)):
            self._network(cmd, answer)
            return
        mac = getattr(cmd, "mac", "")
        if isinstance(cmd, E.SetControl):
            refused = ctx.files.set_control(mac, cmd.changes)
            answer(refused is None, refused or f"{ctx.name(mac)}: settings saved", None)
            return
        node = ctx.nodes.get(mac)
        if node is None:
            answer(False, f"unknown circle {mac}", None)
            return
        if not ctx.link_up:
            answer(False, "no link to the stick", None)
            return
        if isinstance(cmd, E.Switch):
            self._switch(node, cmd.on, answer)
        elif isinstance(cmd, (E.SetScheduleState, E.AssignSchedule)):
            self._schedule(node, cmd, answer)
        elif isinstance(cmd, E.SyncClock):
            ctx.clocks.set(node, None, done=lambda ok, msg: answer(ok, msg, None))
        elif isinstance(cmd, E.ReadPower):
            if cmd.recent and self._recent_power(node, answer):
                return
            self._read_power(node, answer)
        else:
            answer(False, f"unknown command {type(cmd).__name__}", None)

    def _switch(self, node: Node, on: bool, answer: Answer) -> None:
        ctx = self.ctx
        refused = ctx.switching.refusal(node, on)
        if refused:
            answer(False, refused, None)
            return

        def done(ok: bool, message: str) -> None:
            if ok and ctx.settings(node.mac).in_control:
                changes: dict[str, object] = {"switch_state": on}
                row = ctx.row(node.mac)
                if (
                    row is not None
                    and row.schedule_state
                    and ctx.config.engine.manual_switch == "disable_schedule"
                ):
                    changes["schedule_state"] = False
                    ctx.files.remember(node.mac, **changes)
                    ctx.schedule_svc.apply(node)
                else:
                    ctx.files.remember(node.mac, **changes)
            answer(ok, message, None)

        ctx.switching.apply(node, on, "", done)

    def _schedule(self, node: Node, cmd: E.SetScheduleState | E.AssignSchedule, answer: Answer) -> None:
        ctx = self.ctx
        row = ctx.row(node.mac)
        name = ctx.name(node)
        if row is None:
            answer(False, f"{name} is not in the control file: add its row first", None)
            return
        if isinstance(cmd, E.SetScheduleState):
            if cmd.on and not row.schedule:
                answer(False, f"{name} has no schedule assigned", None)
                return
            changes: dict[str, object] = {"schedule_state": cmd.on}
        else:
            if cmd.schedule and cmd.schedule not in ctx.schedules:
                answer(False, f"no schedule named {cmd.schedule!r}", None)
                return
            changes = {
                "schedule": cmd.schedule or "",
                "schedule_state": row.schedule_state and bool(cmd.schedule),
            }
        try:
            ctx.files.update(node.mac, **changes)
        except ControlFileError as exc:  # a row half typed: the file is never overwritten
            answer(False, f"not changed: {exc}", None)
            return
        if not isinstance(cmd, E.SetScheduleState) and not row.schedule_state:
            answer(True, f"{name}: schedule {cmd.schedule or 'none'}", None)
            return
        ctx.schedule_svc.apply(node, lambda ok, msg: answer(ok, msg, None))

    def _recent_power(self, node: Node, answer: Answer) -> bool:
        """The reading of the latest poll, when there is one (False: read the circle)."""
        seen = node.last_seen
        polling = self.ctx.polling
        if not node.online or seen is None or node.watts is None:
            return False
        if node.sample_slot < polling.slot_now() - polling.interval:
            return False  # not from this slot's burst nor the one before
        hour = node.counter
        r = PowerReading(node.mac, node.watts_1s, node.watts, hour.wh, hour.wh_production, seen)
        answer(True, f"{self.ctx.name(node)}: {node.watts:.1f} W (latest poll)", _power_data(r))
        return True

    def _read_power(self, node: Node, answer: Answer) -> None:
        ctx = self.ctx

        def got(fut: Future[PowerReading]) -> None:
            try:
                r = fut.result()
            except Exception as exc:
                answer(False, f"{ctx.name(node)}: {exc}", None)
                return
            answer(True, f"{ctx.name(node)}: {r.watts_8s:.1f} W", _power_data(r))

        def cal(fut: Future[Calibration]) -> None:
            try:
                ctx.discovery.cache_calibration(node, fut.result())
            except Exception as exc:
                answer(False, f"{ctx.name(node)}: {exc}", None)
                return
            ctx.owner.when_done(node.circle.power_future(Priority.USER), got, "command.power")

        ctx.owner.when_done(node.circle.calibration_future(Priority.USER), cal, "command.calibration")

    def _network(self, cmd: E.Command, answer: Answer) -> None:
        ctx = self.ctx
        stick = ctx.stick
        cp_mac = stick.info.circle_plus_mac if stick and stick.info else None
        node = ctx.nodes.get(cp_mac or "")
        if stick is None or node is None or not isinstance(node.circle, CirclePlus):
            answer(False, "no Circle+ network", None)
            return
        cp = node.circle
        target = getattr(cmd, "mac", None)

        def work() -> object:
            if isinstance(cmd, E.JoinNode):
                cp.accept_join(cmd.mac)
                return None
            if isinstance(cmd, E.RemoveNode):
                ok = cp.remove_node(cmd.mac)
                return ok, cp.node_table()
            return cp.node_table()

        def done(fut: Future[object]) -> None:
            try:
                result = fut.result()
            except Exception as exc:
                answer(False, str(exc), None)
                return
            if isinstance(cmd, (E.JoinNode, E.RemoveNode)):
                ctx.table_changes += 1
            if isinstance(cmd, E.JoinNode):
                ctx.joining.discard(cmd.mac)
                ctx.note("info", "network", f"accepted {cmd.mac} into the network", cmd.mac)
                ctx.discovery.read_node_table(cp.mac, ctx.recorder.store.circle_macs())
                answer(True, f"{cmd.mac} accepted", None)
            elif isinstance(cmd, E.RemoveNode):
                assert isinstance(result, tuple)
                ok, table = result
                ctx.node_table = list(table)
                ctx.note("info", "network", f"removed {target} from the network", target)
                answer(bool(ok), f"{target} {'removed' if ok else 'not removed'}", None)
            else:
                assert isinstance(result, list)
                ctx.node_table = result
                answer(True, "node table read", None)

        ctx.owner.in_worker(work, done, "command.network")


def _power_data(r: PowerReading) -> dict[str, object]:
    """A reading as `ReadPower` answers it (MQTT `reqstate`, the one-shot `power`)."""
    return {
        "mac": r.mac,
        "watts": r.watts_8s,
        "watts_1s": r.watts_1s,
        "wh_hour": r.wh_hour,
        "wh_hour_production": r.wh_hour_production,
        "time": units.iso(r.time),
    }
