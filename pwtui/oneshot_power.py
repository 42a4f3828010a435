"""The `power` one-shot: the running logger's latest poll, or one pipelined poll of the port.

Through a running logger the answers come from its latest poll where that is
recent (`ReadPower(recent=True)`), so nothing is asked of the circles.  On the
port itself the calibrations a logger cached in the store for that same port are
used, so a poll is one request per circle, as the library's own poll.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from protocol import units
from protocol.circle import Circle, poll_power
from protocol.errors import PlugwiseError
from protocol.stick import Priority, Stick
from protocol.units import Calibration

from . import events as E
from .control.remote import RemoteStick
from .store import CACHE_PORT_KEY, DB_NAME, Store, StoreError

PowerRow = dict[str, Any] | PlugwiseError


def poll(stick: Stick, data: Path, port: str, macs: list[str]) -> list[PowerRow]:
    """One pipelined poll; calibrations the logger cached for this port are not asked again."""
    cached = cached_calibrations(data, port)
    results = poll_power([Circle(stick, m, calibration=cached.get(m)) for m in macs], Priority.USER)
    rows: list[PowerRow] = []
    for m in macs:
        r = results[m]
        if isinstance(r, PlugwiseError):
            rows.append(r)
        elif isinstance(r, Exception):
            rows.append(PlugwiseError(str(r)))
        else:
            rows.append(
                _power_row(m, r.watts_1s, r.watts_8s, r.wh_hour, r.wh_hour_production, units.iso(r.time))
            )
    return rows


def through_logger(stick: RemoteStick, macs: list[str]) -> list[PowerRow]:
    """Through the running logger: its latest poll where that is recent, else a reading now.

    All commands are sent before any answer is awaited, so the logger handles them together."""
    commands = [E.ReadPower(m, recent=True) for m in macs]
    sent = [stick.command_future(c) for c in commands]
    rows: list[PowerRow] = []
    for c, futures in zip(commands, sent, strict=True):
        res = stick.result(c, futures)
        d = res.data or {}
        watts = _num(d.get("watts"))
        if not res.ok or watts is None:
            rows.append(PlugwiseError(res.message))
            continue
        rows.append(
            _power_row(
                c.mac,
                _num(d.get("watts_1s")),
                watts,
                _num(d.get("wh_hour")) or 0.0,
                _num(d.get("wh_hour_production")) or 0.0,
                str(d.get("time")),
            )
        )
    return rows


def _power_row(
    mac: str, w1: float | None, w8: float, wh: float, wh_production: float, when: str | None
) -> dict[str, Any]:
    return {
        "mac": mac,
        "watts_1s": rounded(w1),
        "watts_8s": rounded(w8),
        "wh_hour": rounded(wh),
        "wh_hour_production": rounded(wh_production),
        "time": when,
    }


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def cached_calibrations(data: Path, port: str) -> dict[str, Calibration]:
    """The calibrations a logger of this data folder read from the circles on this port.

    Only for the same port (two simulated networks share MACs, not calibrations);
    the logger re-reads each circle's calibration when it first answers and
    replaces a changed one.  An unreadable store means no cache, not an error."""
    path = data / DB_NAME
    if not path.exists():
        return {}
    try:
        store = Store(path, readonly=True)
    except StoreError:
        return {}
    try:
        if store.meta(CACHE_PORT_KEY) != port:
            return {}
        out: dict[str, Calibration] = {}
        for mac in store.circle_macs():
            values = ((store.circle(mac) or {}).get("info") or {}).get("calibration")
            if isinstance(values, list) and len(values) == 4:
                out[mac] = Calibration(*(float(v) for v in values))
        return out
    except (sqlite3.Error, StoreError, TypeError, ValueError):
        return {}
    finally:
        store.close()


def rounded(v: float | None) -> float | None:
    """Three decimals, as every one-shot prints numbers."""
    return None if v is None else round(v, 3)
