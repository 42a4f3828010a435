"""`<data>/status.json`: the engine's state each cycle, for other processes to read."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from protocol import units

from .atomic import write_atomic
from .events import CircleStatus, LinkStatus, Snapshot

STATUS_NAME = "status.json"


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def to_json(snapshot: Snapshot, pid: int | None = None, running: bool = True) -> dict[str, Any]:
    link = snapshot.link
    return {
        "pid": pid if pid is not None else os.getpid(),
        "running": running,
        "updated": units.iso(snapshot.time),
        "port": link.port,
        "link": "up" if link.up else "down",
        "stick_mac": link.stick_mac,
        "circle_plus_mac": link.circle_plus_mac,
        "last_frame": units.iso(link.last_frame),
        "errors": link.errors,
        "manual_switch": snapshot.manual_switch,
        "mqtt": snapshot.mqtt,
        "circles": [
            {
                "mac": c.mac,
                "name": c.name,
                "online": c.online,
                "relay": c.relay,
                "watts": None if c.watts is None else round(c.watts, 2),
                "schedule": c.schedule,
                "schedule_state": c.schedule_state,
                "last_seen": units.iso(c.last_seen),
                "location": c.location,
                "category": c.category,
                "configured": c.configured,
                "today_wh": None if c.today_wh is None else round(c.today_wh, 3),
                "today_wh_production": (
                    None if c.today_wh_production is None else round(c.today_wh_production, 3)
                ),
                "monitor": c.monitor,
                "savelog": c.savelog,
                "always_on": c.always_on,
                "schedule_sync": c.schedule_sync,
                "pending": c.pending,
                "history_done": c.history_done,
                "history_total": c.history_total,
                "in_control": c.in_control,
                "schedule_since": units.iso(c.schedule_since),
                "recent_watts": [round(w, 1) for w in c.recent_watts[-30:]],
            }
            for c in snapshot.circles
        ],
        "node_table": [list(e) for e in snapshot.node_table],
        "joining": list(snapshot.joining),
        "history_eta_s": None if snapshot.history_eta_s is None else round(snapshot.history_eta_s, 1),
    }


def write_status(
    path: Path, snapshot: Snapshot, pid: int | None = None, *, running: bool = True, fsync: bool = True
) -> None:
    """Replace status.json atomically; `fsync=False` skips the disk sync (SD cards: once a minute)."""
    text = json.dumps(to_json(snapshot, pid, running), indent=1)
    if fsync:
        write_atomic(path, text)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_status(path: Path) -> tuple[Snapshot, int | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    link = LinkStatus(
        port=data.get("port", ""),
        up=data.get("link") == "up",
        stick_mac=data.get("stick_mac"),
        circle_plus_mac=data.get("circle_plus_mac"),
        last_frame=_dt(data.get("last_frame")),
        errors=int(data.get("errors", 0)),
        attached_pid=data.get("pid"),
    )
    circles = []
    for c in data.get("circles", []):
        circles.append(
            CircleStatus(
                mac=c["mac"],
                name=c.get("name", ""),
                location=c.get("location", ""),
                category=c.get("category", ""),
                configured=c.get("configured", True),
                online=bool(c.get("online")),
                relay=c.get("relay"),
                watts=c.get("watts"),
                today_wh=c.get("today_wh"),
                today_wh_production=c.get("today_wh_production"),
                schedule=c.get("schedule"),
                schedule_state=bool(c.get("schedule_state")),
                schedule_sync=c.get("schedule_sync"),
                monitor=c.get("monitor", True),
                savelog=c.get("savelog", True),
                always_on=c.get("always_on", False),
                last_seen=_dt(c.get("last_seen")),
                pending=c.get("pending"),
                history_done=c.get("history_done", 0),
                history_total=c.get("history_total", 0),
                in_control=bool(c.get("in_control", True)),
                schedule_since=_dt(c.get("schedule_since")),
                recent_watts=tuple(c.get("recent_watts", ())),
            )
        )
    snap = Snapshot(
        time=_dt(data.get("updated")) or datetime.now().astimezone(),
        link=link,
        circles=tuple(circles),
        manual_switch=data.get("manual_switch", "keep_schedule"),
        node_table=tuple((int(i), m) for i, m in data.get("node_table", [])),
        joining=tuple(data.get("joining", [])),
        history_eta_s=data.get("history_eta_s"),
        mqtt=data.get("mqtt", "off") if data.get("mqtt") in ("off", "connected", "retrying") else "off",
        pid=data.get("pid"),
    )
    return snap, data.get("pid")
