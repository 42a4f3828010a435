"""One-shot commands: scan, info, power, switch, clock, history (JSON lines on stdout).

When a pwtui logger owns the stick (its control socket in the data folder
answers), the commands go through it (`RemoteStick`) instead of opening the
port a second time; `switch` then is an engine command, so the logger's
always-on rule and control file stay in charge.  Exit 0 on success, 1 when the
stick or a circle fails, 2 for bad usage or input; one readable line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from protocol import units
from protocol.circle import Circle, CirclePlus
from protocol.errors import NodeRefused, PlugwiseError
from protocol.stick import Priority, Stick

from . import events as E
from . import oneshot_power as power
from .control.client import find_owner
from .control.remote import RemoteStick
from .errors import DeviceError, UsageError
from .lock import holder

_MAC = re.compile(r"^[0-9A-Fa-f]{16}$")


def parse_mac(text: str, what: str = "MAC") -> str:
    if not _MAC.match(text or ""):
        raise UsageError(f"invalid {what} {text!r}: expected 16 hex digits, e.g. 000D6F0001000001")
    return text.upper()


def parse_block(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a block number (0-{units.LOG_BLOCKS - 1})") from None
    if not 0 <= value < units.LOG_BLOCKS:
        raise UsageError(f"{what}: block {value} outside 0-{units.LOG_BLOCKS - 1}")
    return value


@dataclass
class Settings:
    """What a one-shot needs from --port/--config: the port, the data folder (where a
    running logger's socket is) and the configured circles."""

    port: str
    data: Path
    explicit_port: bool = False
    macs: list[str] = field(default_factory=list)
    intervals: dict[str, int] = field(default_factory=dict)
    always_on: set[str] = field(default_factory=set)


def _settings(args: argparse.Namespace) -> Settings:
    from .config import ConfigError, find_config, load_config, parse_config

    port = getattr(args, "port", None)
    cfg_path = getattr(args, "config", None)
    path = Path(cfg_path) if cfg_path else find_config()
    cfg = None
    if path is not None:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            if cfg_path or port is None:
                raise UsageError(str(exc)) from None
            # --port given: a broken ./pwtui.toml is not this command's business
    settings = Settings(
        port=port or "", data=(cfg or parse_config("", None)).paths.data, explicit_port=bool(port)
    )
    if cfg is not None and (cfg_path or port is None):
        settings.port = port or cfg.stick.port
        settings.macs = [c.mac for c in cfg.circles]
        settings.intervals = {c.mac: c.log_interval for c in cfg.circles}
        settings.always_on = {c.mac for c in cfg.circles if c.always_on}
    if not settings.port:
        raise UsageError("no port: give --port PORT (e.g. /dev/ttyUSB0 or sim://) or --config FILE")
    return settings


def _open(settings: Settings) -> Stick | RemoteStick:
    """The running logger's stick when one serves this data folder (and this port),
    else the port itself."""
    client = find_owner(settings.data)
    if client is not None:
        if not settings.explicit_port or client.hello.get("port") == settings.port:
            return RemoteStick(client)
        client.close()  # a logger for another stick: leave it alone
    elif not settings.explicit_port and (pid := holder(settings.data)) is not None:
        raise DeviceError(
            f"a pwtui logger (pid {pid}) owns the stick but its control socket "
            f"{settings.data / 'pwtui.sock'} does not answer; try again or stop it"
        )
    return Stick(settings.port, timeout=5.0, retries=1, reconnect=False)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    cmd = args.command
    mac = parse_mac(args.mac) if getattr(args, "mac", None) else None
    targets = [parse_mac(m) for m in getattr(args, "macs", None) or []]
    first = parse_block(getattr(args, "first", None), "--from")
    last = parse_block(getattr(args, "last", None), "--to")
    if first is not None and last is not None and first > last:
        raise UsageError(f"--from {first} is after --to {last}: give the older block first")
    settings = _settings(args)
    configured, intervals = settings.macs, settings.intervals
    if cmd == "switch" and args.state == "off" and mac in settings.always_on:
        raise DeviceError(f"{mac} is always on (pwtui.toml): switching it off is refused")
    stick = _open(settings)
    try:
        info = stick.open()
    except PlugwiseError as exc:
        stick.close()
        raise DeviceError(str(exc)) from None
    failed = False
    try:
        if cmd == "scan":
            for obj in _scan(stick):
                _emit(obj)
        elif cmd == "info":
            assert mac
            _emit(_info(_circle(stick, mac)))
        elif cmd == "power":
            macs = targets or configured or _node_table(stick)
            if not targets and not configured and info.circle_plus_mac:
                macs = [info.circle_plus_mac, *macs]
            rows = (
                power.through_logger(stick, macs)
                if isinstance(stick, RemoteStick)
                else power.poll(stick, settings.data, settings.port, macs)
            )
            for row in rows:
                if isinstance(row, Exception):
                    print(f"pwtui: {row}", file=sys.stderr)
                    failed = True
                else:
                    _emit(row)
        elif cmd == "switch":
            assert mac
            _emit({"mac": mac, "relay": _switch(stick, mac, args.state == "on")})
        elif cmd == "clock":
            assert mac
            circle = _circle(stick, mac)
            if args.sync:
                circle.set_clock()
            c = circle.clock()
            _emit(
                {
                    "mac": mac,
                    "circle_time": units.iso(c.circle_time),
                    "host_time": units.iso(c.host_time),
                    "drift_s": round(c.drift_s, 1),
                    "schedule_crc": c.schedule_crc,
                    "synced": bool(args.sync),
                }
            )
        elif cmd == "history":
            assert mac
            circle = _circle(stick, mac, intervals.get(mac, 60))
            current = circle.info().log_block or 0
            to = last if last is not None else current
            if first is not None and first > to:
                raise UsageError(f"--from {first} is after the last block {to}: give --to as well")
            frm = first if first is not None else max(0, to - 3) if to >= 3 else (to - 3) % units.LOG_BLOCKS
            for rec in circle.log_range(frm, to, Priority.USER):
                _emit(
                    {
                        "mac": mac,
                        "block": rec.block,
                        "slot": rec.slot,
                        "end": units.iso(rec.end),
                        "minutes": rec.minutes,
                        "wh": round(rec.wh, 4),
                        "watts": round(rec.watts, 3),
                        "production": rec.production,
                    }
                )
    except PlugwiseError as exc:
        raise DeviceError(str(exc)) from None
    except TimeoutError:  # a future that never resolved: the line went quiet
        who = f"circle {mac}" if mac else f"the Circle+ {info.circle_plus_mac or ''}".rstrip()
        raise DeviceError(f"{who} does not answer (no reply in time)") from None
    finally:
        stick.close()
    return 1 if failed else 0


def _circle(stick: Stick | RemoteStick, mac: str, log_interval: int = 60) -> Circle:
    # the Circle API only uses submit() and the timeout/retries sizes, which RemoteStick has
    return Circle(cast(Stick, stick), mac, log_interval)


def _switch(stick: Stick | RemoteStick, mac: str, on: bool) -> bool:
    """Through the logger as its own command (always-on, control file); else directly."""
    if isinstance(stick, RemoteStick):
        result = stick.command(E.Switch(mac=mac, on=on))
        if not result.ok:
            raise DeviceError(f"the logger (pid {stick.owner_pid}) refused: {result.message}")
        return on
    try:
        return _circle(stick, mac).switch(on)
    except NodeRefused as exc:
        raise DeviceError(str(exc)) from None


def _node_table(stick: Stick | RemoteStick) -> list[str]:
    """The Circle+'s table: as the logger last read it, else asked (64 requests)."""
    if isinstance(stick, RemoteStick) and stick.snapshot and stick.snapshot.node_table:
        return [m for _, m in stick.snapshot.node_table]
    return [m for _, m in CirclePlus(cast(Stick, stick), _cplus(stick)).node_table()]


def _cplus(stick: Stick | RemoteStick) -> str:
    if not stick.info or not stick.info.circle_plus_mac:
        raise DeviceError("the stick is not joined to a Circle+ network")
    return stick.info.circle_plus_mac


def _scan(stick: Stick | RemoteStick) -> Iterator[dict[str, Any]]:
    info = stick.info
    assert info is not None
    yield {
        "kind": "stick",
        "mac": info.mac,
        "network_online": info.network_online,
        "circle_plus_mac": info.circle_plus_mac,
    }
    if not info.circle_plus_mac:
        return
    yield {"kind": "circle+", "mac": info.circle_plus_mac}
    for index, mac in CirclePlus(cast(Stick, stick), info.circle_plus_mac).node_table(Priority.USER):
        yield {"kind": "node", "mac": mac, "index": index}


def _info(circle: Circle) -> dict[str, Any]:
    i = circle.info()
    return {
        "mac": i.mac,
        "node_type": i.node_type,
        "datetime": units.iso(i.datetime),
        "log_address": i.log_block,
        "log_slot": i.log_address.slot,
        "relay": i.relay,
        "hz": i.hz,
        "hw_version": i.hw_version,
        "model": i.model,
        "fw_version": _date(i.fw_version),
    }


def _date(value: object) -> str | None:
    return value.date().isoformat() if isinstance(value, datetime) else None
