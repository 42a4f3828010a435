"""Engine benchmark: the headless logger against a simulated network of 64 circles.

Prints, from one run: the logger's peak RSS and CPU seconds per poll cycle (targets: under
60 MB, under 5 % of one core at a 10 s cycle; the simulator runs in its own process so only
the logger is measured), and the history catch-up of 64 circles with the capture's timing,
next to its limits.  A 30-day backlog of 64 circles is 11,520 blocks: at the ack-rate limit,
with the 10-s power polls taking their share, that alone is about half an hour, too long for
`make bench`; so the catch-up runs on CATCHUP_DAYS of backlog and the 30-day figure is
projected from the measured rate (both are printed, and labelled).
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

from _limits import CAPTURE, measure_exchange  # noqa: E402

from protocol import messages as M  # noqa: E402
from protocol import virtual  # noqa: E402
from protocol.fields import LogAddress  # noqa: E402
from protocol.virtual.network import BYTES_PER_SECOND  # noqa: E402
from protocol.virtual.timing import CAPTURE_ACK_MEDIAN_MS  # noqa: E402
from pwtui import events as E  # noqa: E402
from pwtui.config import load_config  # noqa: E402
from pwtui.engine import Engine  # noqa: E402

RUN_SECONDS = 75
INTERVAL = 10
CATCHUP_DAYS = 1
CATCHUP_WAIT = 150  # seconds; an unfinished catch-up reports its progress and rate
CIRCLES = 64  # the Circle+ and 63 circles


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
    url = f"sim://?circles={CIRCLES - 1}&seed=3&history={CATCHUP_DAYS}&{CAPTURE}"
    virtual.forget(url)
    cfg = tmp / "catchup.toml"
    cfg.write_text(
        f'[stick]\nport = "{url}"\n[paths]\ndata = "catchup-data"\n[logging]\npower_interval = {INTERVAL}\n'
    )
    done = threading.Event()
    t0 = time.monotonic()
    result: dict[str, float] = {}

    def on_event(ev: E.Event) -> None:
        if isinstance(ev, E.CycleUpdate):
            cs = [c for c in ev.snapshot.circles if c.history_total]
            result["blocks"] = sum(c.history_done for c in cs)
            result["total"] = sum(c.history_total for c in cs)
            result["t"] = time.monotonic() - t0
            if len(cs) >= CIRCLES and all(c.history_done >= c.history_total for c in cs):
                done.set()

    engine = Engine(load_config(cfg), on_event=on_event)
    stop = threading.Event()
    th = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    th.start()
    finished = done.wait(CATCHUP_WAIT)
    stop.set()
    th.join(10)
    blocks, took = result.get("blocks", 0.0), result.get("t", float("nan"))
    c1 = virtual.circle_mac(1)
    block = measure_exchange(M.LogBlockRequest(mac=c1, log_address=LogAddress.of(0)))
    power = measure_exchange(M.PowerRequest(mac=c1))
    # what the 10-s polls of all circles leave of the line and of the stick's acks
    poll_bytes = CIRCLES * power.total / INTERVAL
    poll_acks = CIRCLES / INTERVAL
    ack_rate = 1000.0 / CAPTURE_ACK_MEDIAN_MS

    def limits(n: float) -> tuple[float, float]:
        return n * block.total / (BYTES_PER_SECOND - poll_bytes), n / (ack_rate - poll_acks)

    wire, ack = limits(blocks)
    state = (
        "done" if finished else f"NOT done after {took:.0f} s ({blocks:.0f} of {result.get('total', 0):.0f})"
    )
    print(
        f"catch-up of {CATCHUP_DAYS} day(s) × {CIRCLES} circles: {blocks:.0f} blocks in {took:.1f} s, {state}; "
        f"limits with the {INTERVAL}-s polls running: wire {wire:.1f} s ({took / wire:.2f}×), "
        f"ack rate {ack:.1f} s ({took / ack:.2f}×)"
    )
    full = CIRCLES * 30 * 24 / 4  # hourly entries, 4 a block
    wire30, ack30 = limits(full)
    rate = blocks / took if took > 0 else float("nan")
    print(
        f"30 days × {CIRCLES} circles = {full:.0f} blocks: projected {full / rate / 60:.1f} min at the "
        f"measured {rate:.1f} blocks/s; limits wire {wire30 / 60:.1f} min, ack rate {ack30 / 60:.1f} min"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        steady_state(Path(tmp))
        catch_up(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
