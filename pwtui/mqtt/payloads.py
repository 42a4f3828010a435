"""Topics and payloads: Plugwise-2-py's (its v2 logger and `swutil/pwmqtt.py`) and Home
Assistant discovery configs.

Pure functions of snapshots and stored intervals, so the wire format is tested without a
broker and the bridge only decides *when* to send.  Keys and types are fixed by the
Plugwise-2-py set-ups people already run (openHAB, Node-RED, Domoticz): MACs are 16 upper-case
hex digits, `ts` is integer Unix seconds, powers are float watts (production negative).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..events import CircleStatus
from ..text import safe_text

MANUFACTURER = "Plugwise"


@dataclass(frozen=True)
class Topics:
    """Every topic of one bridge, from `[mqtt] prefix` and `discovery`."""

    prefix: str
    discovery: str = ""

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def commands(self) -> str:
        """The subscription for incoming commands."""
        return f"{self.prefix}/cmd/#"

    def power(self, mac: str) -> str:
        return f"{self.prefix}/state/power/{mac}"

    def energy(self, mac: str) -> str:
        return f"{self.prefix}/state/energy/{mac}"

    def circle(self, mac: str) -> str:
        return f"{self.prefix}/state/circle/{mac}"

    def command(self, kind: str, mac: str) -> str:
        return f"{self.prefix}/cmd/{kind}/{mac}"

    def discovery_topics(self, mac: str) -> list[str]:
        """Where a circle's three discovery configs live (empty when discovery is off)."""
        if not self.discovery:
            return []
        d = self.discovery
        return [
            f"{d}/switch/{mac}/switch/config",
            f"{d}/sensor/{mac}/power/config",
            f"{d}/sensor/{mac}/energy/config",
        ]


def dumps(payload: dict[str, Any]) -> bytes:
    """Compact JSON, as small as Plugwise-2-py's on a Raspberry Pi's network."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def power_payload(mac: str, ts: int, watts: float) -> dict[str, Any]:
    """`state/power/<MAC>`: one power sample (8 s average; negative when producing)."""
    return {"typ": "pwpower", "ts": int(ts), "mac": mac, "power": round(float(watts), 3)}


def replayable_power(c: CircleStatus, now_ts: int, max_age_s: int) -> int | None:
    """The time of a circle's latest power sample if it is worth sending after the broker was
    away: an online circle's, at most `max_age_s` old (older ones would show stale watts)."""
    if not c.online or c.watts is None or c.last_seen is None:
        return None
    ts = int(c.last_seen.timestamp())
    return ts if ts >= now_ts - max_age_s else None


@dataclass(frozen=True)
class EnergyMessage:
    """One stored log interval as published: consumption minus production of its span."""

    mac: str
    start_ts: int
    end_ts: int
    wh: float  # net Wh of the interval (negative when it produced more than it used)
    cum_wh: float  # net Wh of every stored interval of this circle up to and including this one

    @property
    def minutes(self) -> int:
        return max(0, (self.end_ts - self.start_ts) // 60)


def energy_payload(e: EnergyMessage) -> dict[str, Any]:
    """`state/energy/<MAC>`: `power` is the interval's average W, `interval` its minutes."""
    span = e.end_ts - e.start_ts
    return {
        "typ": "pwenergy",
        "ts": int(e.end_ts),
        "mac": e.mac,
        "power": round(e.wh * 3600.0 / span, 3) if span > 0 else 0.0,
        "energy": round(e.wh, 4),
        "cum_energy": round(e.cum_wh, 4),
        "interval": e.minutes,
    }


def _onoff(value: bool | None) -> str:
    return "?" if value is None else ("on" if value else "off")


def circle_type(c: CircleStatus, circle_plus_mac: str | None = None) -> str:
    """ "circle+" or "circle": from the node type, or before that is read, from the stick."""
    return "circle+" if c.node_type == "circle+" or c.mac == circle_plus_mac else "circle"


def circle_payload(
    c: CircleStatus,
    *,
    circle_plus_mac: str | None = None,
    switchreq: str = "?",
    requid: str = "unset",
    power1h: float = 0.0,
) -> dict[str, Any]:
    """`state/circle/<MAC>`: the circle's whole state, Plugwise-2-py's keys and types.

    `switchreq` is the last switch value asked for over MQTT ("?" when none), `requid` the
    `uid` of the command this message answers ("unset" otherwise), `power1h` the average W of
    the past hour (the bridge reads it from the store).
    """
    lastseen = int(c.last_seen.timestamp()) if c.last_seen else 0
    return {
        "mac": c.mac,
        "type": circle_type(c, circle_plus_mac),
        "name": safe_text(c.name),
        "location": safe_text(c.location),
        "online": bool(c.online),
        "lastseen": lastseen,
        "readonly": bool(c.always_on),
        "reverse_pol": False,
        "switch": _onoff(c.relay),
        "switchreq": switchreq,
        "schedule": "on" if c.schedule_state else "off",
        "requid": requid,
        "schedname": safe_text(c.schedule or ""),
        "power1s": round(float(c.watts_1s or 0.0), 3),
        "power8s": round(float(c.watts or 0.0), 3),
        "power1h": round(float(power1h), 3),
        "powerts": lastseen if c.online else 0,
        "production": bool(c.production),
        "interval": int(c.log_interval),
        "monitor": bool(c.monitor),
        "savelog": bool(c.savelog),
    }


def with_reading(payload: dict[str, Any], data: dict[str, object]) -> dict[str, Any]:
    """A circle-state payload with a `reqstate`'s fresh reading (the engine's ReadPower answer:
    `watts` or `watts_8s`, and `watts_1s`) in place of the last cycle's powers."""
    out = dict(payload)
    for ours, theirs in (("power1s", "watts_1s"), ("power8s", "watts_8s"), ("power8s", "watts")):
        value = data.get(theirs)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[ours] = round(float(value), 3)
    return out


def state_key(c: CircleStatus) -> tuple[object, ...]:
    """What a circle-state message says apart from power: when it changes, one is sent
    (online/offline, switching by hand or schedule, schedule upload, control-file change)."""
    return (
        c.name,
        c.location,
        c.online,
        c.relay,
        c.schedule,
        c.schedule_state,
        c.schedule_sync,
        c.monitor,
        c.savelog,
        c.always_on,
        c.production,
        c.log_interval,
        c.node_type,
    )


def discovery_configs(
    c: CircleStatus, topics: Topics, circle_plus_mac: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Home Assistant MQTT discovery: one device per circle with a switch, a power sensor and an
    energy sensor, all available while `<prefix>/status` is "online"."""
    if not topics.discovery:
        return []
    mac = c.mac
    device = {
        "identifiers": [mac],
        "name": safe_text(c.name) or mac,
        "manufacturer": MANUFACTURER,
        "model": c.model or ("Circle+" if circle_type(c, circle_plus_mac) == "circle+" else "Circle"),
    }
    if c.fw_version is not None:
        device["sw_version"] = c.fw_version.date().isoformat()
    if c.location:
        device["suggested_area"] = safe_text(c.location)
    common = {
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    switch_topic, power_topic, energy_topic = topics.discovery_topics(mac)
    cmd = {"mac": "", "cmd": "switch"}
    # production circles count produced energy: the net total falls, HA wants it rising
    cum = "value_json.cum_energy | abs" if c.production else "value_json.cum_energy"
    return [
        (
            switch_topic,
            {
                "name": "Switch",
                "unique_id": f"pwtui_{mac}_switch",
                "state_topic": topics.circle(mac),
                "value_template": "{{ value_json.switch }}",
                "state_on": "on",
                "state_off": "off",
                "command_topic": topics.command("switch", mac),
                "payload_on": dumps({**cmd, "val": "on"}).decode(),
                "payload_off": dumps({**cmd, "val": "off"}).decode(),
                **common,
            },
        ),
        (
            power_topic,
            {
                "name": "Power",
                "unique_id": f"pwtui_{mac}_power",
                "state_topic": topics.power(mac),
                "value_template": "{{ value_json.power }}",
                "unit_of_measurement": "W",
                "device_class": "power",
                "state_class": "measurement",
                **common,
            },
        ),
        (
            energy_topic,
            {
                "name": "Energy",
                "unique_id": f"pwtui_{mac}_energy",
                "state_topic": topics.energy(mac),
                "value_template": "{{ (" + cum + " / 1000) | round(3) }}",
                "unit_of_measurement": "kWh",
                "device_class": "energy",
                "state_class": "total_increasing",
                **common,
            },
        ),
    ]
