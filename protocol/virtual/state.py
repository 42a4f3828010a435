"""`--state FILE`: keep the virtual network (relays, clocks, schedules, log settings) across runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_atomic
from .devices import LogSegment

if TYPE_CHECKING:
    from .network import VirtualNetwork


def dump_state(net: VirtualNetwork) -> dict[str, Any]:
    t = net.now_ts()
    return {
        "saved": t,
        "rtc_offset": net.rtc_offset,
        "circles": {
            mac: {
                "relay": c.relay,
                "online": c.online,
                "joined": c.joined,
                "clock_error": c.clock_error(t),
                "drift_per_day": c.drift_per_day,
                "log_interval": c.log_interval,
                "production_interval": c.production_interval,
                "schedule_values": c.schedule_values,
                "schedule_enabled": c.schedule_enabled,
                "segments": [vars(s) for s in c.segments],
                "relay_history": c.relay_history[-500:],
                "node_table": c.node_table,
            }
            for mac, c in net.circles.items()
        },
    }


def save_state(net: VirtualNetwork, path: str | os.PathLike[str]) -> None:
    """Write atomically, so a killed simulator never leaves half a file."""
    write_atomic(path, json.dumps(dump_state(net)))


def load_state(net: VirtualNetwork, path: str | os.PathLike[str]) -> None:
    p = Path(path)
    if not p.exists():
        return
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p}: not a simulator state file ({exc})") from None
    t = net.now_ts()
    net.rtc_offset = float(data.get("rtc_offset", net.rtc_offset))
    for mac, st in data.get("circles", {}).items():
        c = net.circles.get(mac)
        if c is None:
            continue
        c.relay = bool(st["relay"])
        c.online = bool(st.get("online", True))
        c.joined = bool(st.get("joined", True))
        c.clock_offset = float(st["clock_error"])
        c.clock_set_at = t
        c.drift_per_day = float(st["drift_per_day"])
        c.log_interval = int(st["log_interval"])
        c.production_interval = int(st["production_interval"])
        c.schedule_values = [int(v) for v in st["schedule_values"]]
        c.schedule_enabled = bool(st["schedule_enabled"])
        c.segments = [LogSegment(**s) for s in st["segments"]] or c.segments
        c.relay_history = [(float(a), bool(b)) for a, b in st.get("relay_history", [])]
        if st.get("node_table") is not None:
            c.node_table = list(st["node_table"])
