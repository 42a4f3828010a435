"""Incoming commands on `<prefix>/cmd/<command>/<MAC>`: parsed and checked, nothing done.

As in Plugwise-2-py the MAC and the command come from the topic; of the payload only `val`
(and an optional `uid`, echoed as `requid`) counts, so clients may send `"mac":""` and any
extra keys.  A message that cannot be understood (not JSON, not an object, an unknown command
or MAC, `val` missing, a known key of the wrong type) is a `BadCommand`: logged, never answered.
A well-formed command with a value it cannot do (`"val":"dim"`) is still a `MqttCommand` whose
`valid` is False: it is answered with a fresh circle state and nothing else happens.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

from ..config import MAC_RE
from ..events import CircleStatus
from ..text import safe_text

Kind = Literal["switch", "schedule", "reqstate"]
KINDS: tuple[Kind, ...] = ("switch", "schedule", "reqstate")
ON_OFF = ("on", "off")
_MAX_SHOWN = 80  # characters of a bad payload quoted in a log line
MAX_PAYLOAD = 64 * 1024  # a command is a few dozen bytes; more is not parsed at all


@dataclass(frozen=True)
class MqttCommand:
    kind: Kind
    mac: str
    val: str | None  # lower case; None for reqstate
    uid: str | None = None

    @property
    def valid(self) -> bool:
        return self.kind == "reqstate" or self.val in ON_OFF

    @property
    def on(self) -> bool:
        return self.val == "on"


@dataclass(frozen=True)
class BadCommand:
    """Why a message on a command topic was ignored (for the log line)."""

    topic: str
    reason: str

    def __str__(self) -> str:
        return f"MQTT command on {safe_text(self.topic)!r} ignored: {self.reason}"


def _shown(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    text = text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"
    return safe_text(text)


def parse_command(prefix: str, topic: str, payload: bytes, known: Container[str]) -> MqttCommand | BadCommand:
    """One message under `<prefix>/cmd/#` → the command it asks for, or why it is ignored."""
    head = f"{prefix}/cmd/"
    if not topic.startswith(head):
        return BadCommand(topic, "not a command topic")
    parts = topic[len(head) :].split("/")
    if len(parts) != 2:
        return BadCommand(topic, "expected <prefix>/cmd/<command>/<MAC>")
    kind, mac = parts
    if kind not in KINDS:
        return BadCommand(topic, f"unknown command {safe_text(kind)!r} (known: {', '.join(KINDS)})")
    if not MAC_RE.match(mac):
        return BadCommand(topic, f"{safe_text(mac)!r} is not a MAC (16 hex digits)")
    mac = mac.upper()
    if mac not in known:
        return BadCommand(topic, f"unknown circle {mac}")
    if len(payload) > MAX_PAYLOAD:
        return BadCommand(topic, f"payload of {len(payload)} bytes is too large")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return BadCommand(topic, f"payload is not JSON ({exc}): {_shown(payload)!r}")
    if not isinstance(data, dict):
        return BadCommand(topic, f"payload is not a JSON object: {_shown(payload)!r}")
    for key in ("mac", "cmd", "val", "uid"):
        if key in data and not isinstance(data[key], str):
            return BadCommand(topic, f"'{key}' must be a string, not {type(data[key]).__name__}")
    uid = data.get("uid")
    if kind == "reqstate":
        return MqttCommand(kind, mac, None, uid)
    if "val" not in data:
        return BadCommand(topic, "'val' is missing")
    return MqttCommand(kind, mac, str(data["val"]).strip().lower(), uid)


def refusal(cmd: MqttCommand, circle: CircleStatus) -> str | None:
    """Why a well-formed command is answered without being carried out (None: carry it out).
    Like Plugwise-2-py, an always-on circle is read-only for `switch`, on or off."""
    if not cmd.valid:
        return f"'val' must be on or off, not {safe_text(cmd.val)!r}"
    if cmd.kind == "switch" and circle.always_on:
        return "the circle is always on (readonly)"
    return None
