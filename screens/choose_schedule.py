"""Choosing a circle's schedule: the dialog names the circle and starts on its current schedule."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pwtui import events as E
from pwtui.text import safe_markup, safe_text


def circle_label(c: E.CircleStatus) -> str:
    """How dialogs name a circle: its name and MAC, safe to show as markup."""
    name = safe_text(c.name)
    return safe_markup(f"{name} ({c.mac})" if name else c.mac)


class ChooseSchedule(ModalScreen[str | None]):
    """Pick the schedule for a circle (or none); the current one is preselected."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="choose_cancel")]

    def __init__(self, names: list[str], current: str | None, circle: str) -> None:
        super().__init__()
        self.names = names
        self.current = current
        self.circle = circle

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Schedule for [b]{self.circle}[/b] (enter chooses, escape cancels)")
            yield OptionList(
                Option("(no schedule)", id="__none__"),
                *[Option(Text(safe_text(n)), id=n) for n in self.names],
            )

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = self.names.index(self.current) + 1 if self.current in self.names else 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss("" if event.option.id == "__none__" else event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
