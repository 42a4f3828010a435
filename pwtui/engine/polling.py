"""Power polling on the wall-clock grid: every slot gets one pipelined burst.

Each monitored circle is read once per slot (`power_interval`); the sample
carries the slot's time.  A failed read is asked again while the slot lasts;
a slot never waits for the one before it, so an overrun never skips a slot.
Offline circles are probed in the same burst on their own backoff (10 s
doubling to 5 min), so they never delay the circles that answer.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future

from protocol.circle import PowerReading
from protocol.errors import LinkDown
from protocol.stick import Priority
from protocol.units import Calibration

from .state import Context, Node

INFO_EVERY_S = 300.0  # node info at least this often, and whenever something can have changed
ALWAYS_ON_CHECK_S = 30.0  # an always-on circle without load: its relay is asked this often
MARGIN_S = 0.3  # a retry must fit in the slot with this much to spare


class Polling:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.interval = max(1, ctx.config.logging.power_interval)
        self._open: dict[int, int] = {}  # slot ts -> reads still under way
        self.slots_done = 0
        self._reading: dict[str, int] = {}  # mac -> reads under way
        # a read whose reply was lost lasts up to timeout × attempts; slots go on meanwhile
        stick = ctx.config.stick
        self.max_reads = max(2, math.ceil(stick.timeout * (stick.retries + 1) / self.interval))

    def start(self) -> None:
        self._arm()

    def _arm(self) -> None:
        now = time.time()
        nxt = (math.floor(now / self.interval) + 1) * self.interval
        self.ctx.owner.call_later(nxt - now, self._tick, "polling.slot")

    def _tick(self) -> None:
        self._arm()
        ts = int(time.time() // self.interval * self.interval)
        owner = self.ctx.owner
        if self.ctx.link_up:
            # one guarded call per service: one that raises does not cost the others their cycle
            owner.call_soon_threadsafe(lambda: self.poll(ts), "polling.poll")
            owner.call_soon_threadsafe(self.ctx.schedule_svc.check_offset, "schedules.check_offset")
            owner.call_soon_threadsafe(self.info_checks, "polling.info_checks")
        else:
            owner.call_soon_threadsafe(self.ctx.publisher.publish, "status.publish")

    # --- one slot ---------------------------------------------------------------------------

    def slot_now(self) -> int:
        return int(time.time() // self.interval * self.interval)

    def poll(self, ts: int, nodes: list[Node] | None = None) -> None:
        """One burst: every monitored circle that answers, plus offline circles due for a probe."""
        ctx = self.ctx
        for old in [s for s in self._open if s < ts]:
            self._finish(old)  # late replies still land under their own slot
        now = time.monotonic()
        deadline = now + self.interval - MARGIN_S
        todo = []
        # probes of offline circles wait for a reply (or 00E1) for long: only a quarter of
        # the stick's window goes to them, so the circles that answer keep their slots
        probes = sum(1 for n in ctx.nodes.values() if n.probing)
        max_probes = max(1, ctx.config.stick.window // 4)
        for n in nodes if nodes is not None else list(ctx.nodes.values()):
            if not ctx.settings(n.mac).monitor and n.initialised:
                continue
            if n.online:
                if self._reading.get(n.mac, 0) < self.max_reads:  # as many reads as its retries take
                    todo.append(n)
            elif n.noted_offline and n.retry_at <= now and not n.probing and probes < max_probes:
                probes += 1
                n.probing = True
                n.schedule_retry(now)
                todo.append(n)
        todo += self._firsts()
        self._open[ts] = self._open.get(ts, 0) + 1
        for n in todo:
            self._read(n, ts, deadline)
        self._done_one(ts)

    def _firsts(self) -> list[Node]:
        """Circles never heard from, one read each, together below half the stick's window.

        One of them may be unplugged: its request holds a window place through all its
        retries (and the driver sends nothing while the window is full)."""
        ctx = self.ctx
        waiting = [n for n in ctx.nodes.values() if not n.online and not n.noted_offline]
        busy = sum(1 for n in waiting if self._reading.get(n.mac))
        room = max(1, ctx.config.stick.window // 2) - busy
        return [n for n in waiting if not self._reading.get(n.mac)][: max(0, room)]

    def first_contacts(self) -> None:
        """Circles found (node table) or a first contact finished: the next first contacts
        start now, not at the next slot."""
        if not self.ctx.link_up:
            return
        ts = self.slot_now()
        deadline = time.monotonic() + self.interval - MARGIN_S
        self._open[ts] = self._open.get(ts, 0) + 1
        for n in self._firsts():
            self._read(n, ts, deadline)
        self._done_one(ts)

    def _read(self, node: Node, ts: int, deadline: float) -> None:
        ctx = self.ctx
        first = not node.online and not node.noted_offline
        self._open[ts] = self._open.get(ts, 0) + 1
        self._reading[node.mac] = self._reading.get(node.mac, 0) + 1
        cal_fut = node.circle.calibration_future(Priority.NORMAL)

        def failed(exc: BaseException) -> None:
            self._reading[node.mac] -= 1
            if not isinstance(exc, LinkDown) and time.monotonic() < deadline and node.online:
                self._read(node, ts, deadline)  # asked again within its slot
            else:
                node.probing = False
                ctx.mark_offline(node, exc)
            if first:
                ctx.owner.call_soon_threadsafe(self.first_contacts, "polling.first")
            self._done_one(ts)

        def got_power(fut: Future[PowerReading]) -> None:
            try:
                r = fut.result()
            except Exception as exc:
                failed(exc)
                return
            self._reading[node.mac] -= 1
            self._reading_in(node, ts, r)
            if first:
                ctx.owner.call_soon_threadsafe(self.first_contacts, "polling.first")
                ctx.publisher.publish_soon()
                now_ts = self.slot_now()
                if now_ts != ts and ctx.settings(node.mac).monitor:
                    # asked in the slot before: this slot began before it was online, so
                    # its burst left it out; read it for this one too
                    self._open[now_ts] = self._open.get(now_ts, 0) + 1
                    slot_left = now_ts + self.interval - time.time()
                    self._read(node, now_ts, time.monotonic() + slot_left - MARGIN_S)
                    self._done_one(now_ts)
            self._done_one(ts)

        def got_cal(fut: Future[Calibration]) -> None:
            try:
                cal = fut.result()
            except Exception as exc:
                failed(exc)
                return
            ctx.discovery.cache_calibration(node, cal)
            ctx.owner.when_done(node.circle.power_future(Priority.NORMAL), got_power, "polling.power")

        ctx.owner.when_done(cal_fut, got_cal, "polling.calibration")

    def _reading_in(self, node: Node, ts: int, r: PowerReading) -> None:
        ctx = self.ctx
        node.probing = False
        node.online = True  # noted_offline stays until it is initialised again ("back online")
        node.failures = 0
        node.backoff = 10.0
        node.watts, node.watts_1s = r.watts_8s, r.watts_1s
        node.counter.read(r.time, r.wh_hour, r.wh_hour_production)
        node.last_seen = r.time
        node.sample_slot = max(node.sample_slot, ts)
        node.recent.append(r.watts_8s)
        if ctx.settings(node.mac).monitor:
            ctx.recorder.sample(node.mac, ts, r.watts_8s)
        if not node.initialised:
            ctx.discovery.initialise(node)

    def _done_one(self, ts: int) -> None:
        left = self._open.get(ts)
        if left is None:
            return
        if left <= 1:
            self._finish(ts)
        else:
            self._open[ts] = left - 1

    def _finish(self, ts: int) -> None:
        """A slot is complete: commit, publish one CycleUpdate."""
        if self._open.pop(ts, None) is None:
            return
        ctx = self.ctx
        self.slots_done += 1
        samples = [s for s in ctx.recorder.unsaved if s[1] == ts]
        ctx.recorder.legacy_power(samples)
        ctx.recorder.maybe_commit()
        ctx.publisher.publish()

    # --- node info only when something can have changed -------------------------------------

    def info_due(self, node: Node, now: float) -> bool:
        if node.info is None:
            return True
        if now - node.info_at >= INFO_EVERY_S:
            return True
        s = self.ctx.settings(node.mac)
        step = s.log_interval * 60
        if now // step != node.info_at // step:
            return True  # a log interval ended: the log address moved
        row = self.ctx.row(node.mac)
        if row is not None and row.schedule_state and now // 900 != node.info_at // 900:
            return True  # a quarter hour began: the schedule may have switched it
        if node.relay is True and node.watts is not None and abs(node.watts) < 0.5:
            if s.always_on and now - node.info_at >= ALWAYS_ON_CHECK_S:
                return True  # no load on an always-on circle: is it off?
            if len(node.recent) >= 2 and abs(node.recent[-2]) >= 0.5:
                return True  # its load stopped: switched off by hand?
        return node.relay is False and node.watts is not None and abs(node.watts) >= 0.5

    def info_checks(self) -> None:
        now = time.time()
        for n in self.ctx.online_nodes():
            if n.initialised and not n.info_pending and self.info_due(n, now):
                self.ctx.discovery.read_info(n)
