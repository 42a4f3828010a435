"""Engine benchmark: the history catch-up of 64 circles, in two measured phases.

The engine runs in this process on `sim://` with the capture's timing, so the simulator's
own count of what it was asked (`requests_by_id`) and the bytes that crossed its line are
read directly.  A probe on the engine's owner thread samples the engine's state every
PROBE_S seconds, with those counts, so each phase boundary has its own snapshot:

- **start-up**: engine start → every circle online with its history total known (node
  table, first contacts, calibrations, clocks …; history has begun for the first circles);
- **catch-up**: the end of start-up → every block stored, the 10-s polls running meanwhile.

A 30-day backlog of 64 circles is 11,520 blocks: at the ack-rate limit, with the 10-s power
polls taking their share, that alone is about half an hour, too long for `make bench`; so the
run has CATCHUP_DAYS of backlog and the 30-day figure is projected as the measured start-up
plus 11,520 blocks at the measured steady catch-up rate (over the middle 80 % of the
catch-up's blocks: its first seconds store blocks asked during start-up), labelled as such.

The limits are those of _limits.py (measured frame sizes, the capture's median ack), with the
share of the 10-s polls of every circle taken off the line and off the stick's acks.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _limits import CAPTURE, measure_exchange  # noqa: E402
from _probe import build_now  # noqa: E402

from protocol import messages as M  # noqa: E402
from protocol import virtual  # noqa: E402
from protocol.fields import LogAddress  # noqa: E402
from protocol.frames import FrameDecoder  # noqa: E402
from protocol.virtual.network import BYTES_PER_SECOND, VirtualNetwork  # noqa: E402
from protocol.virtual.timing import CAPTURE_ACK_MEAN_MS, CAPTURE_ACK_MEDIAN_MS  # noqa: E402
from pwtui.config import load_config  # noqa: E402
from pwtui.engine import Engine  # noqa: E402

INTERVAL = 10
CATCHUP_DAYS = 1
CATCHUP_WAIT = 240  # seconds; only a guard: an unfinished catch-up reports its progress
CIRCLES = 64  # the Circle+ and 63 circles
PROBE_S = 0.2  # how often the engine's state is sampled (the phase boundaries' resolution)
FULL_BLOCKS = CIRCLES * 30 * 24 // 4  # 30 days of hourly entries, 4 a block
POLL, BLOCK = M.PowerRequest.ID, M.LogBlockRequest.ID
ACK_S = CAPTURE_ACK_MEDIAN_MS / 1000.0


class Line:
    """Counts the bytes crossing the simulated line both ways, and the log blocks asked by
    (circle, block), by wrapping the network's public read/write on this instance."""

    def __init__(self, net: VirtualNetwork) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.blocks_asked: Counter[tuple[str, int]] = Counter()
        self._decoder = FrameDecoder()
        write, read = net.write, net.read

        def counted_write(data: bytes) -> None:
            with self._lock:
                self.bytes += len(data)
                for frame in self._decoder.feed(data):
                    try:
                        msg = M.decode(frame.body)
                    except M.DecodeError:
                        continue
                    if isinstance(msg, M.LogBlockRequest) and msg.log_address.block is not None:
                        self.blocks_asked[(msg.mac, msg.log_address.block)] += 1
            write(data)

        def counted_read(size: int, timeout: float | None) -> bytes:
            out = read(size, timeout)
            with self._lock:
                self.bytes += len(out)
            return out

        net.write = counted_write  # type: ignore[method-assign]
        net.read = counted_read  # type: ignore[method-assign]


@dataclass(frozen=True)
class Probe:
    """The engine's state and the simulator's counts at one moment."""

    t: float  # seconds since the engine started
    asked: Counter[str]  # requests the stick got so far, by message id
    line_bytes: int  # bytes on the line so far, both ways
    online: int
    known: int  # circles whose history total is known
    done: int  # blocks stored
    total: int
    complete: bool  # every circle's total known and stored

    def requests(self) -> int:
        return sum(self.asked.values())


@dataclass
class Run:
    probes: list[Probe] = field(default_factory=list)
    started: Probe | None = None  # the end of start-up
    finished: Probe | None = None  # every block stored
    done: threading.Event = field(default_factory=threading.Event)


def run_engine(tmp: Path) -> tuple[Run, Line]:
    url = f"sim://?circles={CIRCLES - 1}&seed=3&history={CATCHUP_DAYS}&{CAPTURE}"
    virtual.forget(url)
    virtual.register()
    net = virtual.network_for(url)  # the engine opens this same network
    line = Line(net)
    cfg = tmp / "catchup.toml"
    cfg.write_text(
        f'[stick]\nport = "{url}"\n[paths]\ndata = "catchup-data"\n[logging]\npower_interval = {INTERVAL}\n'
    )
    engine = Engine(load_config(cfg))
    run = Run()
    t0 = time.monotonic()

    def counts() -> Counter[str]:
        while True:
            try:
                return Counter(net.requests_by_id)
            except RuntimeError:  # a new message id came in while copying
                continue

    def probe() -> None:  # on the engine's owner thread, so its state is consistent
        snap = build_now(engine)
        cs = snap.circles
        # with a backlog on every circle, a known total is never 0
        p = Probe(
            t=time.monotonic() - t0,
            asked=counts(),
            line_bytes=line.bytes,
            online=sum(c.online for c in cs),
            known=sum(c.history_total > 0 for c in cs),
            done=sum(c.history_done for c in cs),
            total=sum(c.history_total for c in cs),
            complete=len(cs) >= CIRCLES and all(0 < c.history_total <= c.history_done for c in cs),
        )
        run.probes.append(p)
        if run.started is None and p.online >= CIRCLES and p.known >= CIRCLES:
            run.started = p
        if run.started is not None and p.complete:
            run.finished = p
            run.done.set()
            return
        engine.owner.call_later(PROBE_S, probe, "bench.probe")

    stop = threading.Event()
    th = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    th.start()
    engine.owner.call_soon_threadsafe(probe, "bench.probe")
    run.done.wait(CATCHUP_WAIT)
    stop.set()
    th.join(10)
    virtual.forget(url)
    return run, line


def middle_rate(probes: list[Probe], start: Probe, end: Probe) -> float:
    """Blocks a second between 10 % and 90 % of the catch-up's blocks: the rate without its
    first and last moments, to show whether the whole phase's rate is a steady one."""
    span = end.done - start.done
    lo = next((p for p in probes if p.done >= start.done + 0.1 * span), None)
    hi = next((p for p in probes if p.done >= start.done + 0.9 * span), None)
    if lo is None or hi is None or hi.t <= lo.t:
        return float("nan")
    return (hi.done - lo.done) / (hi.t - lo.t)


def by_id(asked: Counter[str]) -> str:
    return ", ".join(f"{mid} ×{n}" for mid, n in asked.most_common())


def report(run: Run, line: Line) -> None:
    c1 = virtual.circle_mac(1)
    block = measure_exchange(M.LogBlockRequest(mac=c1, log_address=LogAddress.of(0)))
    power = measure_exchange(M.PowerRequest(mac=c1))
    # what the 10-s polls of every circle leave of the line and of the stick's acks
    free_bytes_s = BYTES_PER_SECOND - CIRCLES * power.total / INTERVAL
    free_acks_s = 1.0 / ACK_S - CIRCLES / INTERVAL

    def limits(blocks: float) -> tuple[float, float]:
        """(wire, ack rate) seconds for `blocks` log blocks with the polls running."""
        return blocks * block.total / free_bytes_s, blocks / free_acks_s

    print(
        f"{CIRCLES} circles, {CATCHUP_DAYS} day(s) of history each, {INTERVAL}-s polls; the engine in "
        f"process on sim:// (capture timing); requests as the simulator counted them"
    )
    last = run.probes[-1] if run.probes else None
    start = run.started
    if start is None or last is None:
        got = f"{last.online} online, {last.known} totals known" if last else "no probe"
        print(f"start-up NOT finished after {CATCHUP_WAIT} s ({got})")
        return
    n = start.requests()
    start_ack, start_wire = n * ACK_S, start.line_bytes / BYTES_PER_SECOND
    print(
        f"{f'start-up: engine start → {CIRCLES} online, totals known':48} {start.t:8.1f} s  "
        f"{n} requests; at the ack rate {start_ack:.1f} s ({start.t / start_ack:.2f}×), "
        f"on the wire {start_wire:.1f} s"
    )
    print(f"  its requests by id: {by_id(start.asked)}; {start.done} blocks stored meanwhile")

    end = run.finished or last
    took = end.t - start.t
    asked = end.asked - start.asked
    stored = end.done - start.done
    rate = stored / took if took > 0 else float("nan")
    blocks_asked, polls = asked[BLOCK], asked[POLL]
    other = asked - Counter({BLOCK: blocks_asked, POLL: polls})
    state = "" if run.finished else f", NOT done after {CATCHUP_WAIT} s ({end.done} of {end.total})"
    print(
        f"{'catch-up: start-up end → every block stored':48} {took:8.1f} s  "
        f"{stored} blocks, {rate:.2f} blocks/s{state}"
    )
    per = blocks_asked / stored if stored else float("nan")
    print(
        f"  its requests: {blocks_asked} log blocks ({per:.2f} a stored block), {polls} power polls, "
        f"{sum(other.values())} other ({by_id(other) or 'none'})"
    )
    wire, ack = limits(stored)
    print(
        f"  limits of {stored} blocks with the polls running: wire {wire:.1f} s ({took / wire:.1f}×), "
        f"ack rate {ack:.1f} s ({took / ack:.2f}×)"
    )
    total = sum(asked.values())
    mean_rate = 1000.0 / CAPTURE_ACK_MEAN_MS
    print(
        f"  link use: {total} requests = {total / took:.1f}/s; the stick acks {mean_rate:.1f}/s at the "
        f"capture's mean ack, {1 / ACK_S:.1f}/s at the median the limits use"
    )
    free_mean, free_median = took * mean_rate - polls, took / ACK_S - polls
    print(
        f"  history's share of the acks the polls leave free (goal ≥ 90 %): {blocks_asked} of "
        f"{free_mean:.0f} = {100 * blocks_asked / free_mean:.0f} % at the mean ack "
        f"({100 * blocks_asked / free_median:.0f} % at the median); blocks stored: "
        f"{100 * stored / free_mean:.0f} % ({100 * stored / free_median:.0f} %)"
    )
    asked_all = sum(line.blocks_asked.values())
    again = sum(k - 1 for k in line.blocks_asked.values() if k > 1)
    print(
        f"  whole run: {asked_all} log-block requests for {end.done} blocks stored "
        f"({asked_all / max(1, end.done):.2f} a block): {len(line.blocks_asked)} distinct blocks, "
        f"{again} requests for a block asked before"
    )
    # the steady rate: the phase's first seconds store blocks asked during start-up
    steady = middle_rate(run.probes, start, end)
    wire30, ack30 = limits(FULL_BLOCKS)
    projected = start.t + FULL_BLOCKS / steady
    lim_wire, lim_ack = start_wire + wire30, start_ack + ack30
    print(
        f"{f'30-day catch-up, {CIRCLES} circles, {FULL_BLOCKS:,} blocks':48} {projected / 60:8.1f} min "
        f"projected: the start-up measured + {FULL_BLOCKS:,} blocks at the steady {steady:.2f}/s "
        f"(the catch-up's middle 80 % of blocks)"
    )
    print(
        f"  limits the same way (start-up's requests + {FULL_BLOCKS:,} blocks): wire "
        f"{lim_wire / 60:.1f} min ({projected / lim_wire:.1f}×), ack rate {lim_ack / 60:.1f} min "
        f"({projected / lim_ack:.2f}×)"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run, line = run_engine(Path(tmp))
    report(run, line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
