"""Small prompts of the schedule editor and log browser: a line of text, the days to copy to."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from .widgets.week_grid import DAY_NAMES, WEEKDAYS


class AskText(ModalScreen[str | None]):
    """A one-line prompt; `validators` refuse bad input with a message.

    `question` is markup: callers escape names from files with `safe_markup`.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ask_cancel")]

    def __init__(self, question: str, value: str = "", validators: list[Any] | None = None) -> None:
        super().__init__()
        self.question, self.value, self.validators = question, value, validators or []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question)
            yield Input(self.value, validators=self.validators, id="answer")
            yield Static("", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.query_one("#problem", Static).update("[red]" + "; ".join(result.failure_descriptions))
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChooseDays(ModalScreen[list[int] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="days_cancel")]

    def __init__(self, source: int) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Copy {DAY_NAMES[self.source]} to…")
            yield OptionList(
                Option("all weekdays (Mon–Fri)", id="weekdays"),
                Option("all days", id="all"),
                *[Option(DAY_NAMES[d], id=str(d)) for d in range(7) if d != self.source],
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        self.dismiss(list(WEEKDAYS) if oid == "weekdays" else list(range(7)) if oid == "all" else [int(oid)])

    def action_cancel(self) -> None:
        self.dismiss(None)
