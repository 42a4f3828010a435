"""Textual messages wrapping the engine's plain events (pwtui/ never imports Textual)."""

from __future__ import annotations

from textual.message import Message

from pwtui import events as E


class CycleMessage(Message):
    """A whole poll cycle's state; a newer one replaces an unhandled older one."""

    def __init__(self, snapshot: E.Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CycleMessage)


class EngineMessage(Message):
    """Anything else the engine says: command results, log lines, link changes."""

    def __init__(self, event: E.Event) -> None:
        super().__init__()
        self.event = event


class CommandRequested(Message):
    """A screen asks the app to send a command to the engine (screens never call the app)."""

    def __init__(self, command: E.Command) -> None:
        super().__init__()
        self.command = command
