"""Log records to stored intervals: true lengths, the interval in force, gaps noted once.

A record holds the pulses of its nominal interval (the log interval in force when
it was written); its length runs from the previous record's end, and a part of
the nominal interval that is already stored (a partial interval kept at a change)
is not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from protocol import units
from protocol.fields import LogEntry
from protocol.units import Calibration

from ..store import Interval
from .state import Context, Node

EARLIEST = datetime(2005, 1, 1, tzinfo=UTC)


def store_block(
    ctx: Context,
    node: Node,
    last_end: dict[bool, int],
    cal: Calibration,
    block: int,
    entries: list[LogEntry],
    gaps: bool = True,
) -> None:
    store = ctx.recorder.store
    now = datetime.now(UTC)
    nominal_at = interval_at(ctx, node)
    good: list[Interval] = []
    prev_entry: LogEntry | None = None
    for slot, e in enumerate(entries):
        if not (e.written and e.valid) or e.when is None:
            continue
        production = e.pulses < 0 or (
            prev_entry is not None and prev_entry.when == e.when and not prev_entry.pulses < 0
        )
        prev_entry = e
        if e.when < EARLIEST or e.when > now + timedelta(days=1):
            ctx.note(
                "warning",
                "history",
                f"{ctx.name(node)}: implausible log entry set aside "
                f"(block {block}, slot {slot}, {units.iso(e.when)})",
                node.mac,
            )
            continue
        end = int(e.when.timestamp())
        prev = last_end.get(production)
        if prev is None or prev >= end:
            prev = store.last_end_before(node.mac, end, production)
        # the record holds the pulses of its nominal interval (the setting in force when it
        # was written); its length runs from the previous record's end, and the part of
        # the nominal interval already stored (a partial interval at a change) is not
        # counted twice
        nominal = nominal_at(end)
        start = prev if prev is not None and 0 < end - prev <= nominal else end - nominal
        wh = cal.wh(e.pulses, nominal)
        wh = max(0.0, -wh) if production else max(0.0, wh)
        if start > end - nominal:
            wh = max(0.0, wh - store.energy_within(node.mac, end - nominal, start, production))
        good.append(Interval(node.mac, start, end, wh, production, block))
        last_end[production] = end
    if good:
        if gaps:
            note_gaps(ctx, node, good)
        ctx.recorder.add_intervals(good)


def interval_at(ctx: Context, node: Node) -> Callable[[int], int]:
    """The circle's log interval (seconds) in force at a time: the one before the last
    change for records written before it, else the current one."""
    info = (ctx.recorder.store.circle(node.mac) or {}).get("info", {})
    since = info.get("log_intervals_since")
    before = info.get("log_intervals_before")
    current = info.get("log_intervals")
    default = ctx.settings(node.mac).log_interval

    def at(end: int) -> int:
        if since is not None and before and end <= since:
            return int(before[0] or 60) * 60
        return int((current[0] if current else default) or 60) * 60

    return at


def note_gaps(ctx: Context, node: Node, intervals: list[Interval]) -> None:
    """A hole nothing can fill (the circle's ring moved past it) is noted once, even over restarts."""
    store = ctx.recorder.store
    for production in (False, True):
        ivs = sorted((i for i in intervals if i.production == production), key=lambda i: i.end_ts)
        if not ivs:
            continue
        prev = store.last_end_before(node.mac, ivs[0].end_ts, production)
        if prev is None or ivs[0].start_ts - prev < 60:
            continue
        if store.has_energy_between(node.mac, prev, ivs[0].end_ts, production):
            continue
        key = f"gap:{node.mac}:{int(production)}:{prev}"
        if store.meta(key) is not None:
            continue
        store.set_meta(key, str(ivs[0].start_ts))
        start = units.iso(datetime.fromtimestamp(prev, UTC))
        end = units.iso(datetime.fromtimestamp(ivs[0].start_ts, UTC))
        ctx.note(
            "warning",
            "gap",
            f"{ctx.name(node)}: no {'production' if production else 'energy'} "
            f"data from {start} to {end} (lost from the circle's log)",
            node.mac,
        )
