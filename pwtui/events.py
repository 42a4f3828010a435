"""What the engine tells its users, and what they ask of it.

Plain dataclasses, no Textual: the headless logger logs these events, the
console wraps them in Textual messages (screens/messages.py), and attach mode
rebuilds snapshots from status.json.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MqttState = Literal["off", "connected", "retrying"]  # the owner's broker connection

# --- state ---------------------------------------------------------------------


@dataclass(frozen=True)
class CircleStatus:
    """One circle as the dashboard shows it after a poll cycle."""

    mac: str
    name: str = ""
    location: str = ""
    category: str = ""
    configured: bool = True  # False: found in the node table only
    online: bool = False
    relay: bool | None = None
    watts: float | None = None  # latest 8 s reading, negative when producing
    watts_1s: float | None = None
    # since local midnight; None until the store holds every record since then (engine/today.py)
    today_wh: float | None = None  # consumption
    today_wh_production: float | None = None  # production (>= 0)
    schedule: str | None = None  # name of the assigned schedule
    schedule_state: bool = False  # schedule enabled
    schedule_sync: str | None = None  # "pending", "done", "failed" (upload state by CRC)
    monitor: bool = True
    savelog: bool = True
    always_on: bool = False
    production: bool = False
    log_interval: int = 60
    last_seen: datetime | None = None
    pending: str | None = None  # e.g. "switching off" while a command runs
    node_type: str | None = None
    model: str | None = None
    hw_version: str | None = None
    fw_version: datetime | None = None
    log_address: int | None = None  # current log block
    clock_drift_s: float | None = None
    calibration: tuple[float, float, float, float] | None = None
    recent_watts: tuple[float, ...] = ()  # last minutes, oldest first, for sparklines
    history_done: int = 0  # log blocks caught up / to catch up
    history_total: int = 0
    in_control: bool = True  # False: no row in plugwise_control.csv, never switched by the engine
    rssi_in: int | None = None  # signal strength in dBm (000E), when known
    rssi_out: int | None = None
    schedule_since: datetime | None = None  # when the uploaded schedule came in force


@dataclass(frozen=True)
class LinkStatus:
    port: str
    up: bool = False
    stick_mac: str | None = None
    circle_plus_mac: str | None = None
    network_online: bool = False
    last_frame: datetime | None = None
    errors: int = 0
    attached_pid: int | None = None  # set when the console attaches to a headless engine


@dataclass(frozen=True)
class Snapshot:
    """The whole state after one poll cycle; also what status.json holds."""

    time: datetime
    link: LinkStatus
    circles: tuple[CircleStatus, ...] = ()
    manual_switch: Literal["keep_schedule", "disable_schedule"] = "keep_schedule"
    node_table: tuple[tuple[int, str], ...] = ()  # (index, mac) of the Circle+ table
    joining: tuple[str, ...] = ()  # MACs advertising to join
    mqtt: MqttState = "off"  # broker connection of the owner
    history_eta_s: float | None = None  # seconds until the history catch-up is done
    pid: int | None = None  # the stick owner's process

    def circle(self, mac: str) -> CircleStatus | None:
        for c in self.circles:
            if c.mac == mac:
                return c
        return None


# --- events --------------------------------------------------------------------


@dataclass(frozen=True)
class CycleUpdate:
    """Sent once per poll cycle (never once per plug)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class CommandResult:
    command_id: int
    mac: str | None
    ok: bool
    message: str
    data: dict[str, object] | None = None  # answers of read commands (e.g. ReadPower)


@dataclass(frozen=True)
class EngineLog:
    """Something worth a log line: switching, online/offline, uploads, errors."""

    time: datetime
    level: Literal["debug", "info", "warning", "error"]
    kind: str  # e.g. "switch", "offline", "schedule", "clock", "config"
    message: str
    mac: str | None = None


@dataclass(frozen=True)
class LinkChanged:
    link: LinkStatus


@dataclass(frozen=True)
class OwnerStatus:
    """For clients of a stick owner: whether the owner (logger) is reachable.

    Sent by the attached engine when the owner goes away (`alive=False`: actions
    off) and when it is back (`alive=True`, re-attached).
    """

    pid: int | None
    alive: bool
    message: str = ""


Event = CycleUpdate | CommandResult | EngineLog | LinkChanged | OwnerStatus

# --- commands ------------------------------------------------------------------

_ids = itertools.count(1)


@dataclass(frozen=True)
class Command:
    id: int = field(default_factory=lambda: next(_ids), kw_only=True)


@dataclass(frozen=True)
class Switch(Command):
    mac: str
    on: bool


@dataclass(frozen=True)
class SetScheduleState(Command):
    mac: str
    on: bool


@dataclass(frozen=True)
class AssignSchedule(Command):
    mac: str
    schedule: str | None


@dataclass(frozen=True)
class ReloadFiles(Command):
    """The control or schedule file changed (e.g. the editor saved)."""


@dataclass(frozen=True)
class SyncClock(Command):
    mac: str


@dataclass(frozen=True)
class JoinNode(Command):
    mac: str


@dataclass(frozen=True)
class RemoveNode(Command):
    mac: str


@dataclass(frozen=True)
class RefreshNodeTable(Command):
    pass


@dataclass(frozen=True)
class SetControl(Command):
    """Change a circle's row in plugwise_control.csv (added when missing).

    Keys of `changes`: name, location, log_interval, production, always_on,
    monitor, savelog (the settings dialog). Validated by the engine; refused with
    the reason when a value is invalid.
    """

    mac: str
    changes: tuple[tuple[str, str | int | bool], ...] = ()


@dataclass(frozen=True)
class ReadPower(Command):
    """Read a circle's power now (MQTT `reqstate`, one-shot `power`); answered in `data`.

    `recent`: the logger's own reading will do when it is from its latest poll (the
    one-shot `power` through a running logger asks nothing of the circles then)."""

    mac: str
    recent: bool = False
