"""The virtual Plugwise network (our hardware in tests, demos and benchmarks).

`register()` teaches pyserial the `sim://` scheme; the network behind a URL
lives in a process-wide registry, so reopening the same URL reaches the same
devices, as re-plugging a stick would.
"""

from __future__ import annotations

import threading
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from .network import CIRCLE_PLUS_MAC, STICK_MAC, VirtualNetwork, circle_mac

__all__ = [
    "CIRCLE_PLUS_MAC",
    "STICK_MAC",
    "VirtualNetwork",
    "circle_mac",
    "network_for",
    "parse_url",
    "register",
]

_networks: dict[str, VirtualNetwork] = {}
_lock = threading.Lock()

_PARAMS = {
    "circles": int,
    "seed": int,
    "latency": float,
    "history": float,
    "speed": float,
    "faults": str,
    "start": str,
    "state": str,
}


def register() -> None:
    import serial

    if "protocol.virtual" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("protocol.virtual")


def parse_url(url: str) -> dict[str, object]:
    """`sim://?circles=8&seed=1…` → keyword arguments of VirtualNetwork."""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        raise ValueError(f"not a sim:// URL: {url!r}")
    kwargs: dict[str, object] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in _PARAMS:
            raise ValueError(f"{url}: unknown parameter {key!r} (known: {', '.join(_PARAMS)})")
        try:
            value = _PARAMS[key](values[-1])
        except ValueError:
            raise ValueError(
                f"{url}: parameter {key}={values[-1]!r} is not a {_PARAMS[key].__name__}"
            ) from None
        kwargs[key] = value
    out: dict[str, object] = {}
    names = {"latency": "latency_ms", "history": "history_days", "state": "state_file"}
    for key, value in kwargs.items():
        if key == "start":
            out["start"] = datetime.fromisoformat(str(value).replace(" ", "+").replace("Z", "+00:00"))
        else:
            out[names.get(key, key)] = value
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
            net = VirtualNetwork(**parse_url(url))  # type: ignore[arg-type]
            _networks[key] = net
        return net


def forget(url: str) -> None:
    """Drop a network from the registry (tests that want a fresh house)."""
    with _lock:
        _networks.pop(_key(url), None)
