"""`pwtui simulate`: the virtual network on a pty or TCP port until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from protocol.virtual import VirtualNetwork
from protocol.virtual.state import save_state
from protocol.virtual.transports import PtyBridge, TcpBridge

from .errors import UsageError


def _parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--tcp: expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def main(args: argparse.Namespace) -> int:
    if not 0 <= args.circles <= 63:
        raise UsageError(f"--circles: 0…63, got {args.circles}")
    if args.speed <= 0:
        raise UsageError(f"--speed: must be > 0, got {args.speed}")
    if args.history < 0:
        raise UsageError(f"--history: must be ≥ 0 days, got {args.history}")
    try:
        net = VirtualNetwork(
            circles=args.circles,
            seed=args.seed,
            latency_ms=80.0 if args.latency is None else args.latency,
            history_days=args.history,
            speed=args.speed,
            faults=args.faults,
            state_file=args.state,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.tcp:
        host, port = _parse_hostport(args.tcp)
        try:
            tcp = TcpBridge(net, host, port)
        except OSError as exc:
            print(f"pwtui simulate: cannot listen on {args.tcp}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        tcp.on_client = lambda who: print(f"client connected from {who}", file=sys.stderr, flush=True)
        print(tcp.url, flush=True)
        bridge: PtyBridge | TcpBridge = tcp
    else:
        bridge = PtyBridge(net)
        print(bridge.path, flush=True)
    print(
        f"simulating a stick, a Circle+ and {args.circles} circles (seed {args.seed}, "
        f"speed {args.speed}x, {args.history} days of history); ctrl+c stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(5.0 if args.state else 1.0):
            if args.state:
                save_state(net, args.state)
    finally:
        bridge.close()
        if args.state:
            save_state(net, args.state)
        print("simulator stopped", file=sys.stderr, flush=True)
    return 0
