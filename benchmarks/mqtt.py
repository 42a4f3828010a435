"""MQTT bridge benchmark: the headless logger with 64 circles, without and with the bridge.

Runs the same logger twice against the same simulated network (its own process, one day of
history so energy catch-up is published too): once without `[mqtt]`, once with a local
mosquitto and a subscriber counting what arrives.  Prints the logger's CPU per poll cycle for
both, the difference (the bridge's cost) and the messages per second by kind.

    python benchmarks/mqtt.py [--seconds 60] [--interval 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mosquitto import BINARY, Mosquitto, Subscriber  # noqa: E402


def run_logger(tmp: Path, seconds: float, interval: int, mqtt_port: int | None) -> tuple[float, float]:
    """One logger run; returns (CPU seconds of the logger, wall seconds)."""
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pwtui",
            "simulate",
            "--tcp",
            "127.0.0.1:0",
            "--circles",
            "63",
            "--history",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        return _measure(tmp, sim, seconds, interval, mqtt_port)
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(10)


def _measure(
    tmp: Path, sim: subprocess.Popen[str], seconds: float, interval: int, mqtt_port: int | None
) -> tuple[float, float]:
    assert sim.stdout is not None
    url = sim.stdout.readline().strip()
    name = "with" if mqtt_port else "without"
    cfg = tmp / f"{name}.toml"
    text = f'[stick]\nport = "{url}"\n[paths]\ndata = "{name}-data"\n[logging]\npower_interval = {interval}\n'
    if mqtt_port:
        text += f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n'
    cfg.write_text(text)
    log = tmp / f"{name}.log"
    t0 = time.monotonic()
    with log.open("w") as err:
        logger = subprocess.Popen(
            [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)], stderr=err, cwd=ROOT
        )
    time.sleep(seconds)  # a benchmark measures a fixed span
    os.kill(logger.pid, signal.SIGTERM)  # not send_signal: it would reap the child and its rusage
    _pid, status, usage = os.wait4(logger.pid, 0)
    logger.returncode = os.waitstatus_to_exitcode(status)
    if logger.returncode != 0:
        raise SystemExit(f"the logger failed ({logger.returncode}):\n{log.read_text()[-3000:]}")
    return usage.ru_utime + usage.ru_stime, time.monotonic() - t0


def _kind(topic: str) -> str:
    parts = topic.split("/")
    if parts[0] == "homeassistant":
        return "discovery"
    return parts[2] if parts[1] == "state" else parts[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    ap.add_argument("--interval", type=int, default=10, help="power_interval of the logger (s)")
    args = ap.parse_args()
    if BINARY is None:
        print("mosquitto is not installed (sudo apt install mosquitto): skipped")
        return 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cpu_off, wall_off = run_logger(tmp, args.seconds, args.interval, None)
        broker = Mosquitto(tmp / "broker").start()
        sub = Subscriber(broker.port, "#")
        try:
            cpu_on, wall_on = run_logger(tmp, args.seconds, args.interval, broker.port)
        finally:
            sub.close()
            broker.stop()
    kinds = Counter(_kind(m.topic) for m in sub.messages)
    cycles_off = max(1.0, wall_off / args.interval)
    cycles_on = max(1.0, wall_on / args.interval)
    print(
        f"64 circles, power every {args.interval} s, one day of history to catch up, {args.seconds:.0f} s runs"
    )
    print(f"logger without MQTT   {cpu_off:7.2f} CPU s  {cpu_off / cycles_off:6.3f} s per cycle")
    print(f"logger with MQTT      {cpu_on:7.2f} CPU s  {cpu_on / cycles_on:6.3f} s per cycle")
    extra = cpu_on - cpu_off
    print(f"the bridge's cost     {extra:7.2f} CPU s  ({extra / wall_on * 100:.1f} % of a core)")
    total = sum(kinds.values())
    print(f"messages received     {total:7d}        {total / wall_on:6.1f} per second")
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:<18}  {n:7d}        {n / wall_on:6.1f} per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
