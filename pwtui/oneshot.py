"""One-shot commands: scan, info, power, switch, clock, history (JSON lines on stdout).

Exit 0 on success, 1 when the stick or a circle fails, 2 for bad usage or
input; one readable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from protocol import units
from protocol.circle import Circle, CirclePlus, poll_power
from protocol.errors import NodeRefused, NodeTimeout, PlugwiseError
from protocol.stick import Priority, Stick

from .errors import DeviceError, UsageError

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


def _settings(args: argparse.Namespace) -> tuple[str, list[str], dict[str, int]]:
    """Port, configured circle MACs and their log intervals, from --port/--config."""
    port = getattr(args, "port", None)
    macs: list[str] = []
    intervals: dict[str, int] = {}
    cfg_path = getattr(args, "config", None)
    try:
        from .config import ConfigError, find_config, load_config
    except ImportError:  # pragma: no cover - config module is part of the package
        raise
    path = Path(cfg_path) if cfg_path else find_config()
    if path is not None and (cfg_path or port is None):
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        port = port or cfg.stick.port
        macs = [c.mac for c in cfg.circles]
        intervals = {c.mac: c.log_interval for c in cfg.circles}
    if not port:
        raise UsageError("no port: give --port PORT (e.g. /dev/ttyUSB0 or sim://) or --config FILE")
    return port, macs, intervals


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    cmd = args.command
    mac = parse_mac(args.mac) if getattr(args, "mac", None) else None
    targets = [parse_mac(m) for m in getattr(args, "macs", None) or []]
    first = parse_block(getattr(args, "first", None), "--from")
    last = parse_block(getattr(args, "last", None), "--to")
    port, configured, intervals = _settings(args)
    stick = Stick(port, timeout=5.0, retries=1, reconnect=False)
    try:
        info = stick.open()
    except PlugwiseError as exc:
        raise DeviceError(str(exc)) from None
    failed = False
    try:
        if cmd == "scan":
            for obj in _scan(stick):
                _emit(obj)
        elif cmd == "info":
            assert mac
            _emit(_info(Circle(stick, mac)))
        elif cmd == "power":
            macs = targets or configured or [m for _, m in CirclePlus(stick, _cplus(stick)).node_table()]
            if not targets and not configured and info.circle_plus_mac:
                macs = [info.circle_plus_mac, *macs]
            results = poll_power([Circle(stick, m) for m in macs], Priority.USER)
            for m in macs:
                r = results[m]
                if isinstance(r, Exception):
                    print(f"pwtui: {r}", file=sys.stderr)
                    failed = True
                    continue
                _emit(
                    {
                        "mac": m,
                        "watts_1s": _round(r.watts_1s),
                        "watts_8s": _round(r.watts_8s),
                        "wh_hour": _round(r.wh_hour),
                        "wh_hour_production": _round(r.wh_hour_production),
                        "time": units.iso(r.time),
                    }
                )
        elif cmd == "switch":
            assert mac
            circle = Circle(stick, mac)
            try:
                state = circle.switch(args.state == "on")
            except NodeRefused as exc:
                raise DeviceError(str(exc)) from None
            _emit({"mac": mac, "relay": state})
        elif cmd == "clock":
            assert mac
            circle = Circle(stick, mac)
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
            circle = Circle(stick, mac, intervals.get(mac, 60))
            current = circle.info().log_block or 0
            to = last if last is not None else current
            frm = first if first is not None else max(0, to - 3) if to >= 3 else (to - 3) % units.LOG_BLOCKS
            for r in circle.log_range(frm, to, Priority.USER):
                _emit(
                    {
                        "mac": mac,
                        "block": r.block,
                        "slot": r.slot,
                        "end": units.iso(r.end),
                        "minutes": r.minutes,
                        "wh": round(r.wh, 4),
                        "watts": round(r.watts, 3),
                        "production": r.production,
                    }
                )
    except NodeTimeout as exc:
        raise DeviceError(str(exc)) from None
    except PlugwiseError as exc:
        raise DeviceError(str(exc)) from None
    finally:
        stick.close()
    return 1 if failed else 0


def _cplus(stick: Stick) -> str:
    if not stick.info or not stick.info.circle_plus_mac:
        raise DeviceError("the stick is not joined to a Circle+ network")
    return stick.info.circle_plus_mac


def _scan(stick: Stick) -> Iterator[dict[str, Any]]:
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
    for index, mac in CirclePlus(stick, info.circle_plus_mac).node_table(Priority.USER):
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
        "fw_version": i.fw_version.date().isoformat(),
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
