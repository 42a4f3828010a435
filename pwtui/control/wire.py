"""JSON form of the engine's events, commands and snapshots (`pwtui/events.py`).

Generic by type name: a dataclass becomes ``{"type": "Switch", ...fields}`` and
comes back by looking its name up in `events` and decoding each field by its
type hint.  Unknown keys are ignored and missing ones take their defaults, so an
older client and a newer owner (or the other way round) still understand each
other.  Anything that does not fit raises `WireError` with the reason.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any, Literal, Union

from .. import events as E


class WireError(ValueError):
    """A JSON value that is not a valid event, command or snapshot."""


def _known() -> dict[str, type[Any]]:
    """Every dataclass of `pwtui.events`, by name (state, events and commands)."""
    return {
        name: obj
        for name, obj in vars(E).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == E.__name__
    }


TYPES: dict[str, type[Any]] = _known()


# --- to JSON -------------------------------------------------------------------------


def to_wire(obj: Any) -> Any:
    """A dataclass of `pwtui.events` (or a value inside one) as plain JSON data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__}
        for fl in dataclasses.fields(obj):
            out[fl.name] = to_wire(getattr(obj, fl.name))
        return out
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (tuple, list)):
        return [to_wire(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_wire(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)  # anything else (e.g. a Path in CommandResult.data) travels as text


# --- from JSON -----------------------------------------------------------------------


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(E))
    return _HINTS[cls]


def from_wire(data: Any, expect: type[Any] | None = None) -> Any:
    """Rebuild a dataclass from `to_wire` output; `expect` restricts the accepted type
    (e.g. `E.Command` for what a client sends)."""
    if not isinstance(data, dict):
        raise WireError(f"expected an object, got {type(data).__name__}")
    name = data.get("type")
    cls = TYPES.get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(name, str):
        raise WireError(f"unknown type {str(name)[:80]!r}")
    if expect is not None and not issubclass(cls, expect):
        raise WireError(f"{name} is not a {expect.__name__}")
    return _dataclass(cls, data, name)


def _dataclass(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for fl in dataclasses.fields(cls):
        if fl.name not in data:
            if fl.default is dataclasses.MISSING and fl.default_factory is dataclasses.MISSING:
                raise WireError(f"{where}: missing {fl.name!r}")
            continue
        kwargs[fl.name] = _value(hints[fl.name], data[fl.name], f"{where}.{fl.name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise WireError(f"{where}: {exc}") from None


def _value(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _value(arg, value, where)
            except WireError as exc:
                problems.append(str(exc))
        raise WireError(problems[0] if len(problems) == 1 else f"{where}: no type fits {value!r}")
    if origin is Literal:
        if value not in args:
            raise WireError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise WireError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise WireError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError(f"{where}: expected an object, got {type(value).__name__}")
        return {str(k): _value(args[1] if args else Any, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise WireError(f"{where}: expected an object, got {type(value).__name__}")
        return _dataclass(hint, value, where)
    if hint is datetime:
        if not isinstance(value, str):
            raise WireError(f"{where}: expected a date-time text, got {type(value).__name__}")
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise WireError(f"{where}: {value!r} is not an ISO date-time") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise WireError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise WireError(f"{where}: expected a text, got {value!r}")
        return value
    raise WireError(f"{where}: cannot decode a {hint!r}")
