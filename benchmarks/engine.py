"""Engine benchmark: the headless logger against a simulated network of 64 circles.

Prints, from one run: the logger's peak RSS and CPU seconds per poll cycle
(targets: under 60 MB, under 5 % of one core at a 10 s cycle), and the time
to catch up 30 days of history for 8 circles at the simulator's realistic
latency.  The simulator runs in its own process so only the logger is measured.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from protocol import virtual  # noqa: E402
from pwtui import events as E  # noqa: E402
from pwtui.config import load_config  # noqa: E402
from pwtui.engine import Engine  # noqa: E402

RUN_SECONDS = 75
INTERVAL = 10


def steady_state(tmp: Path) -> None:
    sim = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "simulate", "--tcp", "127.0.0.1:0", "--circles", "63"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    url = sim.stdout.readline().strip()
    cfg = tmp / "pwtui.toml"
    cfg.write_text(f'[stick]\nport = "{url}"\n[logging]\npower_interval = {INTERVAL}\n')
    t0 = time.monotonic()
    logger = subprocess.Popen(
        [sys.executable, "-m", "pwtui", "--headless", "--config", str(cfg)],
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    time.sleep(RUN_SECONDS)
    status = json.loads((tmp / "data" / "status.json").read_text())
    logger.send_signal(signal.SIGTERM)
    logger.wait(30)
    wall = time.monotonic() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim.send_signal(signal.SIGINT)
    sim.wait(10)
    cycles = max(1, int(wall // INTERVAL))
    cpu = usage.ru_utime + usage.ru_stime
    rss_mb = usage.ru_maxrss / 1024
    per_cycle = cpu / cycles
    online = sum(c["online"] for c in status["circles"])
    print(f"64 circles ({online} online), {cycles} cycles of {INTERVAL} s in {wall:.0f} s")
    print(f"peak RSS                  {rss_mb:7.1f} MB   ({rss_mb / 60:.2f}× the 60 MB target)")
    print(
        f"CPU per cycle             {per_cycle:7.3f} s    ({per_cycle / INTERVAL * 100:.1f} % of a core; "
        f"{per_cycle / INTERVAL / 0.05:.2f}× the 5 % target; includes start-up and discovery)"
    )


def catch_up(tmp: Path) -> None:
    url = "sim://?circles=8&seed=3&history=30"
    virtual.forget(url)
    cfg = tmp / "catchup.toml"
    cfg.write_text(
        f'[stick]\nport = "{url}"\n[paths]\ndata = "catchup-data"\n[logging]\npower_interval = 10\n'
        "[engine]\nhistory_blocks_per_cycle = 100\n"
    )
    done = threading.Event()
    t0 = time.monotonic()
    result: dict[str, float] = {}

    def on_event(ev: E.Event) -> None:
        if isinstance(ev, E.CycleUpdate):
            cs = [c for c in ev.snapshot.circles if c.history_total]
            if len(cs) >= 9 and all(c.history_done >= c.history_total for c in cs):
                result["t"] = time.monotonic() - t0
                result["blocks"] = sum(c.history_done for c in cs)
                done.set()

    engine = Engine(load_config(cfg), on_event=on_event)
    stop = threading.Event()
    th = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    th.start()
    done.wait(600)
    stop.set()
    th.join(10)
    print(
        f"catch-up of 30 days × 9 circles (incl. Circle+): {result.get('blocks', 0):.0f} blocks in "
        f"{result.get('t', float('nan')):.1f} s"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        steady_state(Path(tmp))
        catch_up(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
