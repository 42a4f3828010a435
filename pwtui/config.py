"""`pwtui.toml`: read, validate completely, and resolve paths.

Every problem is collected (not just the first) and reported as one line
naming the file, table and key, so a user fixes the file in one go.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .userfile import UserFileError, read_user_text, strip_bom

MAC_RE = re.compile(r"^[0-9A-Fa-f]{16}$")
DEFAULT_PORT = "sim://?circles=8&seed=1&history=30"
MANUAL_SWITCH = ("keep_schedule", "disable_schedule")


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class StickConfig:
    port: str = DEFAULT_PORT
    timeout: float = 10.0
    window: int = 8
    retries: int = 2


@dataclass(frozen=True)
class PathsConfig:
    data: Path
    control: Path
    schedules: Path
    comm_log: Path | None = None


@dataclass(frozen=True)
class LoggingConfig:
    power_interval: int = 10
    legacy_files: bool = False
    commit_interval: int = 0  # seconds between store commits; 0 = once per poll cycle


@dataclass(frozen=True)
class EngineConfig:
    manual_switch: str = "keep_schedule"
    clock_sync_hour: int = 4  # local hour of the daily clock sync
    max_drift: float = 30.0  # seconds of circle clock drift before a re-sync
    history_blocks_per_cycle: int = 40


@dataclass(frozen=True)
class CircleConfig:
    mac: str
    name: str = ""
    location: str = ""
    category: str = ""
    log_interval: int = 60
    production: bool = False
    always_on: bool = False


@dataclass(frozen=True)
class MqttConfig:
    """`[mqtt]`: the broker bridge; off when `host` is empty or the table is absent."""

    host: str = ""
    port: int = 1883
    username: str = ""
    password: str = field(default="", repr=False)  # never logged or shown
    prefix: str = "plugwise2py"
    discovery: str = "homeassistant"
    tls: bool = False
    ca_file: Path | None = None
    client_id: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())


@dataclass(frozen=True)
class WebConfig:
    """`[web]`: `pwtui web`; the token is required to bind beyond localhost and never logged."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    path: Path | None
    stick: StickConfig
    paths: PathsConfig
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    circles: tuple[CircleConfig, ...] = ()
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    web: WebConfig = field(default_factory=WebConfig)

    def circle(self, mac: str) -> CircleConfig | None:
        for c in self.circles:
            if c.mac == mac:
                return c
        return None

    def with_port(self, port: str | None) -> Config:
        if not port:
            return self
        from dataclasses import replace

        return replace(self, stick=replace(self.stick, port=port))


# name: (type, default, check)  — check returns an error text or None
_Spec = dict[str, tuple[type | tuple[type, ...], Any]]
SCHEMA: dict[str, _Spec] = {
    "stick": {
        "port": (str, DEFAULT_PORT),
        "timeout": ((int, float), 10.0),
        "window": (int, 8),
        "retries": (int, 2),
    },
    "paths": {
        "data": (str, "data"),
        "control": (str, "plugwise_control.csv"),
        "schedules": (str, ""),  # "" = schedule.csv in the data folder (never the checkout's)
        "comm_log": (str, ""),
    },
    "logging": {"power_interval": (int, 10), "legacy_files": (bool, False), "commit_interval": (int, 0)},
    "engine": {
        "manual_switch": (str, "keep_schedule"),
        "clock_sync_hour": (int, 4),
        "max_drift": ((int, float), 30.0),
        "history_blocks_per_cycle": (int, 40),
    },
    "mqtt": {
        "host": (str, ""),
        "port": (int, 1883),
        "username": (str, ""),
        "password": (str, ""),
        "prefix": (str, "plugwise2py"),
        "discovery": (str, "homeassistant"),
        "tls": (bool, False),
        "ca_file": (str, ""),
        "client_id": (str, ""),
    },
    "web": {
        "host": (str, "127.0.0.1"),
        "port": (int, 8000),
        "token": (str, ""),
    },
}
_TOPIC_BAD = re.compile(r"[#+\x00]")
CIRCLE_SCHEMA: _Spec = {
    "mac": (str, None),
    "name": (str, ""),
    "location": (str, ""),
    "category": (str, ""),
    "log_interval": (int, 60),
    "production": (bool, False),
    "always_on": (bool, False),
}


def _typename(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if isinstance(t, tuple):
        return names[float]
    return names.get(t, t.__name__)


def _take(where: str, table: dict[str, Any], spec: _Spec, problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in table:
        if key not in spec:
            problems.append(f"{where}: unknown key '{key}' (known: {', '.join(spec)})")
    for key, (typ, default) in spec.items():
        if key not in table:
            out[key] = default
            continue
        value = table[key]
        typs = typ if isinstance(typ, tuple) else (typ,)
        ok = isinstance(value, typs) and not (isinstance(value, bool) and bool not in typs)
        if not ok:
            problems.append(f"{where}: '{key}' must be {_typename(typ)}, not {value!r}")
            out[key] = default
        else:
            out[key] = value
    return out


def parse_config(text: str, path: Path | None = None) -> Config:
    name = str(path) if path else "pwtui.toml"
    try:
        raw = tomllib.loads(strip_bom(text))  # a BOM is legal TOML to a person, not to tomllib
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{name}: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{name}: arrays or tables nested too deeply"]) from None
    problems: list[str] = []
    for key, value in raw.items():
        if key not in SCHEMA and key != "circle":
            problems.append(f"{name}: unknown table [{key}] (known: {', '.join([*SCHEMA, 'circle'])})")
        elif key in SCHEMA and not isinstance(value, dict):
            problems.append(f"{name}: '{key}' must be a table [{key}]")
    vals = {
        t: _take(f"{name} [{t}]", raw.get(t, {}) if isinstance(raw.get(t, {}), dict) else {}, spec, problems)
        for t, spec in SCHEMA.items()
    }
    st, pa, lo, en = vals["stick"], vals["paths"], vals["logging"], vals["engine"]
    mq, web = vals["mqtt"], vals["web"]
    if not 1 <= mq["port"] <= 65535:
        problems.append(f"{name} [mqtt]: 'port' must be 1…65535, not {mq['port']}")
    for key in ("prefix", "discovery"):
        if _TOPIC_BAD.search(mq[key]) or mq[key].startswith("/") or mq[key].endswith("/"):
            problems.append(
                f"{name} [mqtt]: '{key}' {mq[key]!r} must be a topic without '#', '+' or a leading/trailing '/'"
            )
    if mq["host"].strip() and not mq["prefix"].strip():
        problems.append(f"{name} [mqtt]: 'prefix' is empty")
    if not 1 <= web["port"] <= 65535:
        problems.append(f"{name} [web]: 'port' must be 1…65535, not {web['port']}")
    if not st["port"].strip():
        problems.append(f"{name} [stick]: 'port' is empty")
    if not math.isfinite(st["timeout"]) or st["timeout"] <= 0:
        problems.append(f"{name} [stick]: 'timeout' must be > 0 seconds")
    if not 1 <= st["window"] <= 64:
        problems.append(f"{name} [stick]: 'window' must be 1…64")
    if not 0 <= st["retries"] <= 10:
        problems.append(f"{name} [stick]: 'retries' must be 0…10")
    if not 1 <= lo["power_interval"] <= 3600:
        problems.append(
            f"{name} [logging]: 'power_interval' must be 1…3600 seconds, not {lo['power_interval']}"
        )
    if not 0 <= lo["commit_interval"] <= 3600:
        problems.append(f"{name} [logging]: 'commit_interval' must be 0…3600 seconds")
    if en["manual_switch"] not in MANUAL_SWITCH:
        problems.append(f"{name} [engine]: 'manual_switch' must be one of {', '.join(MANUAL_SWITCH)}")
    if not 0 <= en["clock_sync_hour"] <= 23:
        problems.append(f"{name} [engine]: 'clock_sync_hour' must be 0…23")
    if not math.isfinite(en["max_drift"]) or en["max_drift"] <= 0:
        problems.append(f"{name} [engine]: 'max_drift' must be > 0 seconds")
    if not 1 <= en["history_blocks_per_cycle"] <= 1000:
        problems.append(f"{name} [engine]: 'history_blocks_per_cycle' must be 1…1000")

    circles: list[CircleConfig] = []
    seen: dict[str, int] = {}
    raw_circles = raw.get("circle", [])
    if not isinstance(raw_circles, list):
        problems.append(f"{name}: 'circle' must be an array of tables [[circle]]")
        raw_circles = []
    for i, tab in enumerate(raw_circles, 1):
        where = f"{name} [[circle]] #{i}"
        if not isinstance(tab, dict):
            problems.append(f"{where}: must be a table")
            continue
        c = _take(where, tab, CIRCLE_SCHEMA, problems)
        mac = c["mac"]
        if mac is None:
            problems.append(f"{where}: 'mac' is missing")
            continue
        if not MAC_RE.match(mac):
            problems.append(f"{where}: 'mac' {mac!r} is not 16 hex digits")
            continue
        mac = mac.upper()
        where = f"{name} [[circle]] {mac}"
        if mac in seen:
            problems.append(f"{where}: duplicate mac (also circle #{seen[mac]})")
            continue
        seen[mac] = i
        if not 1 <= c["log_interval"] <= 60:
            problems.append(f"{where}: 'log_interval' must be 1…60 minutes, not {c['log_interval']}")
        circles.append(
            CircleConfig(
                mac=mac,
                name=c["name"],
                location=c["location"],
                category=c["category"],
                log_interval=c["log_interval"],
                production=c["production"],
                always_on=c["always_on"],
            )
        )
    if problems:
        raise ConfigError(problems)
    base = path.parent if path else Path.cwd()

    def resolve(p: str) -> Path:
        q = Path(os.path.expanduser(p))
        return q if q.is_absolute() else (base / q)

    return Config(
        path=path,
        stick=StickConfig(
            port=st["port"], timeout=float(st["timeout"]), window=st["window"], retries=st["retries"]
        ),
        paths=PathsConfig(
            data=resolve(pa["data"]),
            control=resolve(pa["control"]),
            schedules=resolve(pa["schedules"]) if pa["schedules"] else resolve(pa["data"]) / "schedule.csv",
            comm_log=resolve(pa["comm_log"]) if pa["comm_log"] else None,
        ),
        logging=LoggingConfig(**lo),
        engine=EngineConfig(**en),
        circles=tuple(circles),
        mqtt=MqttConfig(
            host=mq["host"].strip(),
            port=mq["port"],
            username=mq["username"],
            password=mq["password"],
            prefix=mq["prefix"],
            discovery=mq["discovery"],
            tls=mq["tls"],
            ca_file=resolve(mq["ca_file"]) if mq["ca_file"] else None,
            client_id=mq["client_id"],
        ),
        web=WebConfig(host=web["host"], port=web["port"], token=web["token"]),
    )


def load_config(path: str | os.PathLike[str]) -> Config:
    """The file at `path`, validated; every problem (also encoding and size) is a ConfigError."""
    p = Path(path)
    try:
        text = read_user_text(p).text
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file"]) from None
    except UserFileError as exc:
        raise ConfigError([str(exc)]) from None
    return parse_config(text, p.resolve())


def find_config() -> Path | None:
    """./pwtui.toml, else $XDG_CONFIG_HOME/pwtui/pwtui.toml (~/.config when unset)."""
    here = Path("pwtui.toml")
    if here.is_file():
        return here
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    user = Path(xdg) / "pwtui" / "pwtui.toml"
    return user if user.is_file() else None
