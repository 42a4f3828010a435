"""`pwtui --headless`: the engine with log lines instead of a UI.

Runs until SIGINT/SIGTERM and stops within two seconds with everything
flushed.  Never imports Textual.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

from . import events as E
from .config import Config, ConfigError, find_config, load_config, parse_config
from .control.server import serve_owner
from .engine import Engine
from .errors import UsageError
from .lock import LockHeld, acquire

log = logging.getLogger("pwtui")


NO_PORT = (
    "no stick port configured. Set one with --port (e.g. --port /dev/ttyUSB0, "
    '--port socket://pi.local:3333) or in pwtui.toml:\n  [stick]\n  port = "/dev/ttyUSB0"\n'
    "For the demo network: --port 'sim://?circles=8&seed=1&history=30'"
)


def port_configured(args: argparse.Namespace) -> bool:
    """Whether the user named a port (--port, or `[stick] port` in the config file in use).

    The logger never falls back to a simulated network on its own: it would log
    made-up data into the data folder as if it were real."""
    if getattr(args, "port", None):
        return True
    path = Path(args.config) if getattr(args, "config", None) else find_config()
    if path is None:
        return False
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return True  # resolve_config reports what is wrong with the file
    stick = raw.get("stick")
    return isinstance(stick, dict) and bool(stick.get("port"))


def resolve_config(args: argparse.Namespace) -> Config:
    """--config, else ./pwtui.toml, else the user's config folder, else defaults."""
    path = Path(args.config) if getattr(args, "config", None) else find_config()
    try:
        cfg = load_config(path) if path else parse_config("", None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return cfg.with_port(getattr(args, "port", None))


def _log_event(event: E.Event) -> None:
    if isinstance(event, E.EngineLog):
        level = {
            "debug": logging.DEBUG,
            "info": logging.INFO,
            "warning": logging.WARNING,
            "error": logging.ERROR,
        }[event.level]
        log.log(level, "%s: %s", event.kind, event.message)
    elif isinstance(event, E.CommandResult):
        log.info("command %d: %s", event.command_id, event.message)
    elif isinstance(event, E.CycleUpdate):
        snap = event.snapshot
        online = sum(c.online for c in snap.circles)
        total = sum((c.watts or 0.0) for c in snap.circles if c.online)
        log.debug("cycle: %d/%d circles online, %.1f W in total", online, len(snap.circles), total)


def start_services(cfg: Config, engine: Engine) -> list[Callable[[], None]]:
    """Services beside the engine that the stick owner runs (control socket, MQTT bridge).

    Each one started here appends its stop function; they are stopped in reverse
    order after the engine."""
    stops: list[Callable[[], None]] = []
    server = serve_owner(engine, cfg.paths.data)  # attached consoles, one-shots, `pwtui status`
    if server is not None:
        stops.append(server.stop)
    if cfg.mqtt.enabled:
        from .mqtt import MqttBridge  # paho only where MQTT is used

        bridge = MqttBridge(cfg.mqtt, engine)
        bridge.start()
        engine.mqtt_state = lambda: bridge.state
        stops.append(bridge.stop)
    return stops


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(message)s",
        stream=sys.stderr,
    )
    cfg = resolve_config(args)
    if not port_configured(args):
        raise UsageError(NO_PORT)
    try:
        lock = acquire(cfg.paths.data)
    except LockHeld as exc:
        print(f"pwtui: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"pwtui: cannot create the data folder {cfg.paths.data}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    engine = Engine(cfg, on_event=_log_event)
    log.info("pwtui logger on %s, data in %s", cfg.stick.port, cfg.paths.data)
    stops: list[Callable[[], None]] = []
    try:
        stops = start_services(cfg, engine)
        engine.run(stop)
    finally:
        for stop_service in reversed(stops):
            try:
                stop_service()
            except Exception:
                log.exception("stopping a service failed")
        lock.release()
    log.info("stopped")
    return 0
