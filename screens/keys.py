"""Keys as users type them (`?`, `[`, `ctrl+s`), not Textual's names (`question_mark`)."""

from __future__ import annotations

from textual.binding import Binding
from textual.keys import format_key

# format_key shows some keys as symbols; help says what to type
SPELLED = {"enter": "enter", "escape": "esc", "space": "space", "delete": "del", "tab": "tab"}


def key_label(key: str) -> str:
    return SPELLED.get(key) or format_key(key)


def keys_of(binding: Binding) -> str:
    """All keys of a binding, as typed, separated by " / "."""
    return " / ".join(key_label(k.strip()) for k in binding.key.split(","))
