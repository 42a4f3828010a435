"""Switching and always-on.

Nothing switches an always-on circle off: not a command, not a control row,
not a schedule (see schedules.py).  The engine itself switches only circles
listed in the control file; a user's command may switch any circle.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from protocol.errors import LinkDown, NodeRefused
from protocol.stick import Priority

from .state import Context, Node

Done = Callable[[bool, str], None]


class Switching:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def refusal(self, node: Node, on: bool) -> str | None:
        if not on and self.ctx.settings(node.mac).always_on:
            return f"{self.ctx.name(node)} is always on: switching it off is refused"
        return None

    def apply(self, node: Node, on: bool, reason: str = "", done: Done | None = None) -> None:
        """Switch the relay; `reason` names who asked (the control file, always-on …).

        Engine-initiated switching (`reason` given) leaves circles without a control row alone."""
        ctx = self.ctx
        name = ctx.name(node)
        if reason and not ctx.settings(node.mac).in_control:
            if done:
                done(False, f"{name} is not in the control file: left alone")
            return
        refused = self.refusal(node, on)
        if refused:
            ctx.note("warning", "switch", refused, node.mac)
            if done:
                done(False, refused)
            return
        word = "on" if on else "off"
        node.pending = f"switching {word}"

        def finished(fut: Future[bool]) -> None:
            node.pending = None
            try:
                state = fut.result()
            except Exception as exc:
                ctx.note("error", "switch", f"switching {name} {word} failed: {exc}", node.mac)
                if not isinstance(exc, (LinkDown, NodeRefused)):
                    ctx.mark_offline(node, exc)
                if done:
                    done(False, f"switching {name} failed: {exc}")
                return
            node.relay = state
            if state != on:
                ctx.note("error", "switch", f"{name} did not switch {word}", node.mac)
                if done:
                    done(False, f"{name} did not switch {word}")
                return
            ctx.note("info", "switch", f"{name} switched {word}{f' ({reason})' if reason else ''}", node.mac)
            if done:
                done(True, f"{name} is {word}")

        ctx.owner.when_done(node.circle.switch_future(on, Priority.USER), finished, "switch")

    def enforce_always_on(self, node: Node) -> None:
        s = self.ctx.settings(node.mac)
        if s.always_on and s.in_control and node.relay is False and node.online and node.pending is None:
            self.ctx.note(
                "warning", "switch", f"{self.ctx.name(node)} is always_on but was off: switching on", node.mac
            )
            self.apply(node, True, "always on")
