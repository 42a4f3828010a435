"""The virtual Plugwise network (our hardware in tests, demos and benchmarks).

`register()` teaches pyserial the `sim://` scheme; the network behind a URL
lives in a process-wide registry, so reopening the same URL reaches the same
devices, as re-plugging a stick would.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from typing import TypedDict
from urllib.parse import parse_qs, urlsplit

from .network import CIRCLE_PLUS_MAC, STICK_MAC, VirtualNetwork, circle_mac
from .timing import parse_latency

__all__ = [
    "CIRCLE_PLUS_MAC",
    "STICK_MAC",
    "SimParams",
    "VirtualNetwork",
    "circle_mac",
    "network_for",
    "parse_url",
    "register",
]

_networks: dict[str, VirtualNetwork] = {}
_lock = threading.Lock()


class SimParams(TypedDict, total=False):
    """The keyword arguments of VirtualNetwork that a sim:// URL can set."""

    circles: int
    seed: int
    latency_ms: float
    history_days: float
    speed: float
    faults: str
    start: datetime
    state_file: str


_PARAMS = ("circles", "seed", "latency", "history", "speed", "faults", "start", "state")


def register() -> None:
    import serial

    if "protocol.virtual" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("protocol.virtual")


def _number(url: str, key: str, text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{url}: parameter {key}={text!r} is not a {kind.__name__}") from None
    if not math.isfinite(value):
        raise ValueError(f"{url}: parameter {key}={text!r} is not a finite number")
    return value


def parse_url(url: str) -> SimParams:
    """`sim://?circles=8&seed=1…` → keyword arguments of VirtualNetwork.

    Without `latency=` the network takes $PWTUI_SIM_LATENCY, else the capture's timing
    (timing.py); the test suite sets that variable to a fast value in tests/conftest.py.
    """
    parts = urlsplit(url)
    if parts.scheme != "sim":
        raise ValueError(f"not a sim:// URL: {url!r}")
    out: SimParams = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        text = values[-1]
        if key == "circles":
            out["circles"] = int(_number(url, key, text, int))
        elif key == "seed":
            out["seed"] = int(_number(url, key, text, int))
        elif key == "latency":
            out["latency_ms"] = parse_latency(text, url)
        elif key == "history":
            days = _number(url, key, text, float)
            if days < 0:
                raise ValueError(f"{url}: parameter history={text!r} must be ≥ 0 days")
            out["history_days"] = days
        elif key == "speed":
            out["speed"] = _number(url, key, text, float)
        elif key == "faults":
            out["faults"] = text
        elif key == "start":
            try:
                out["start"] = datetime.fromisoformat(text.replace(" ", "+").replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{url}: parameter start={text!r} is not an ISO date and time") from None
        elif key == "state":
            out["state_file"] = text
        else:
            raise ValueError(f"{url}: unknown parameter {key!r} (known: {', '.join(_PARAMS)})")
    return out


def _key(url: str) -> str:
    parts = urlsplit(url)
    query = sorted(parse_qs(parts.query, keep_blank_values=True).items())
    return "sim://?" + "&".join(f"{k}={v[-1]}" for k, v in query)


def network_for(url: str) -> VirtualNetwork:
    """The network behind a sim:// URL, made on first use."""
    key = _key(url)
    with _lock:
        net = _networks.get(key)
        if net is None:
            params = parse_url(url)
            try:
                net = VirtualNetwork(**params)
            except ValueError as exc:  # name the URL, as parse_url does
                raise ValueError(f"{url}: {exc}") from None
            _networks[key] = net
        return net


def forget(url: str) -> None:
    """Drop a network from the registry (tests that want a fresh house)."""
    with _lock:
        _networks.pop(_key(url), None)
