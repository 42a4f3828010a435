"""MQTT bridge benchmark: the headless logger with 64 circles, without and with the bridge.

Runs the same logger twice, side by side, each on its own simulated network (its own process,
the same seed, one day of history so energy catch-up is published too): one without `[mqtt]`,
one with a local mosquitto and a subscriber counting what arrives.  Prints the logger's CPU per
poll cycle for both, the difference (the bridge's cost) and the messages per second by kind.
The two run at the same time: what is compared is each process's own CPU seconds, which the
other (a few % of a core each) does not change, and the wall time is halved.

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


class LoggerRun:
    """A simulator of its own (64 circles, a day of history) and a headless logger on it."""

    def __init__(self, tmp: Path, interval: int, mqtt_port: int | None) -> None:
        self.name = "with" if mqtt_port else "without"
        self.sim = subprocess.Popen(
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
        assert self.sim.stdout is not None
        url = self.sim.stdout.readline().strip()
        cfg = tmp / f"{self.name}.toml"
        text = (
            f'[stick]\nport = "{url}"\n[paths]\ndata = "{self.name}-data"\n'
            f"[logging]\npower_interval = {interval}\n"
        )
        if mqtt_port:
            text += f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n'
        cfg.write_text(text)
        self.log = tmp / f"{self.name}.log"
        self.stopping = False
        self.t0 = time.monotonic()
        with self.log.open("w") as err:
            self.logger = subprocess.Popen(
                [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)], stderr=err, cwd=ROOT
            )

    def stop(self) -> None:
        """Ask the logger to stop (both loggers stop together; `finish` waits)."""
        if not self.stopping:
            self.stopping = True
            # os.kill, not send_signal: that would reap the child and lose its rusage
            os.kill(self.logger.pid, signal.SIGTERM)

    def finish(self) -> tuple[float, float]:
        """Stop the logger; returns (its CPU seconds, wall seconds it ran)."""
        try:
            self.stop()
            _pid, status, usage = os.wait4(self.logger.pid, 0)
            wall = time.monotonic() - self.t0
            self.logger.returncode = os.waitstatus_to_exitcode(status)
            if self.logger.returncode != 0:
                raise SystemExit(
                    f"the logger {self.name} MQTT failed ({self.logger.returncode}):\n"
                    f"{self.log.read_text()[-3000:]}"
                )
            return usage.ru_utime + usage.ru_stime, wall
        finally:
            self.sim.send_signal(signal.SIGINT)
            self.sim.wait(10)


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
        broker = Mosquitto(tmp / "broker").start()
        sub = Subscriber(broker.port, "#")
        try:
            without = LoggerRun(tmp, args.interval, None)
            try:
                with_mqtt = LoggerRun(tmp, args.interval, broker.port)
                try:
                    time.sleep(args.seconds)  # a benchmark measures a fixed span
                finally:
                    without.stop()
                    cpu_on, wall_on = with_mqtt.finish()
            finally:
                cpu_off, wall_off = without.finish()
        finally:
            sub.close()
            broker.stop()
    kinds = Counter(_kind(m.topic) for m in sub.messages)
    cycles_off = max(1.0, wall_off / args.interval)
    cycles_on = max(1.0, wall_on / args.interval)
    print(
        f"64 circles, power every {args.interval} s, one day of history to catch up, two {args.seconds:.0f}-s runs side by side"
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
