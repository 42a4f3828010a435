"""History catch-up: the circles' log buffers read at link speed, in the background.

Log-block requests go at BACKGROUND priority and keep the stick's queue
supplied, so the power polls (NORMAL priority) go first and history
takes the capacity they leave; only the few blocks "today" waits for (where
the log starts, and the blocks since midnight) go at NORMAL.  Blocks are stored in order per circle; fully
written blocks are read once, the block being written is read again when its
write position moved; with a long backlog the blocks since local midnight are
read first, so "today" is right at once.  Records become intervals in
intervals.py.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from protocol import messages as M
from protocol import units
from protocol.fields import LogEntry
from protocol.stick import Priority
from protocol.units import Calibration

from .intervals import interval_at, store_block
from .state import Context, Node

IN_FLIGHT = 24  # log-block requests handed to the stick at once: its queue never runs dry
RATE_WINDOW_S = 30.0


@dataclass
class Progress:
    next_block: int | None = None  # first block not yet stored for good
    next_ask: int | None = None  # next block to request
    done: int = 0
    total: int = 0
    read_pos: tuple[int | None, int | None] | None = None
    starting: bool = False
    # block -> (log position when asked, its entries, time.time() of the reply); None while asked
    got: dict[int, tuple[tuple[int | None, int | None], list[LogEntry], float] | None] = field(
        default_factory=dict
    )
    last_end: dict[bool, int] = field(default_factory=dict)
    today: list[int] = field(default_factory=list)  # read first, so "today" is right at once
    today_asked: int = 0  # today's blocks asked and not yet stored (they land out of order)
    today_current_at: float | None = None  # when today's read got the block being written


class History:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.progress: dict[str, Progress] = {}
        self.in_flight = 0
        self._done_at: deque[float] = deque()
        self._kicked = False

    def kick(self) -> None:
        if not self._kicked:
            self._kicked = True
            self.ctx.owner.call_soon_threadsafe(self._pump, "history.pump")

    def reading_today(self, mac: str) -> bool:
        """Today's blocks are being read (out of order): the store's latest record says nothing yet."""
        p = self.progress.get(mac)
        return p is not None and (bool(p.today) or p.today_asked > 0)

    def eta_s(self) -> float | None:
        todo = sum(max(0, p.total - p.done) for p in self.progress.values())
        if todo == 0:
            return 0.0 if self.progress else None
        now = time.monotonic()
        while self._done_at and now - self._done_at[0] > RATE_WINDOW_S:
            self._done_at.popleft()
        if len(self._done_at) < 2:
            return None
        rate = len(self._done_at) / max(1.0, now - self._done_at[0])
        return todo / rate

    # --- choosing what to ask ------------------------------------------------------------------

    def _behind(self, p: Progress, current: int, frm: int) -> int:
        return (current - frm) % units.LOG_BLOCKS

    def _pump(self) -> None:
        self._kicked = False
        ctx = self.ctx
        if not ctx.link_up:
            return
        while self.in_flight < IN_FLIGHT:
            best: tuple[int, Node, Progress] | None = None
            for n in ctx.online_nodes():
                if not n.initialised or n.info is None or n.info.log_block is None:
                    continue
                if not ctx.settings(n.mac).savelog:
                    continue
                p = self.progress.setdefault(n.mac, Progress())
                current = n.info.log_block
                if p.next_block is None:
                    self._start(n, p, current)
                    continue
                assert p.next_ask is not None
                p.total = p.done + self._behind(p, current, p.next_block)
                if p.today:
                    best = (units.LOG_BLOCKS + 1, n, p)
                    break
                position = (current, n.info.log_address.slot)
                pending = (current - p.next_ask) % units.LOG_BLOCKS  # full blocks not yet asked
                if current not in p.got and p.read_pos != position:
                    pending += 1  # the block being written moved on: read it (again)
                if pending and (best is None or pending > best[0]):
                    best = (pending, n, p)
            if best is None:
                return
            _, node, p = best
            if p.today:
                self._ask_today(node, p)
            else:
                self._ask(node, p)

    def _start(self, node: Node, p: Progress, current: int) -> None:
        """Where to begin: after the last block stored, else the oldest block the ring holds."""
        if p.starting:
            return
        last = (self.ctx.recorder.store.circle(node.mac) or {}).get("last_block")
        if last is not None:
            p.next_block = p.next_ask = (last + 1) % units.LOG_BLOCKS
            self._plan_today(node, p, current)
            return
        p.starting = True
        after = (current + 1) % units.LOG_BLOCKS
        ctx = self.ctx

        def probed(fut: Future[M.LogBlockResponse]) -> None:
            p.starting = False
            try:
                resp = fut.result()
            except Exception as exc:
                ctx.mark_offline(node, exc)
                return
            wrapped = any(e.written and e.valid for e in resp.entries)
            p.next_block = p.next_ask = after if wrapped else 0
            todo = (current - p.next_block) % units.LOG_BLOCKS + 1
            ctx.note("info", "history", f"{ctx.name(node)}: reading {todo} log blocks of history", node.mac)
            self._plan_today(node, p, current)
            self.kick()

        # NORMAL, as today's blocks: a handful per circle that "today" waits for
        ctx.owner.when_done(node.circle.log_block_future(after, Priority.NORMAL), probed, "history.start")

    def _plan_today(self, node: Node, p: Progress, current: int) -> None:
        """With a long backlog, the blocks since local midnight are read first (then again in order)."""
        assert p.next_block is not None
        local = datetime.now().astimezone()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        seconds = (local - midnight).total_seconds()
        per_record = interval_at(self.ctx, node)(int(time.time()))
        records = int(seconds // per_record + 1) * (2 if self.ctx.settings(node.mac).production else 1)
        blocks = records // 4 + 2
        if self._behind(p, current, p.next_block) > blocks:
            p.today = [(current - k) % units.LOG_BLOCKS for k in range(blocks - 1, -1, -1)]

    def _ask_today(self, node: Node, p: Progress) -> None:
        assert node.info is not None
        block = p.today.pop(0)
        current = node.info.log_block
        self.in_flight += 1
        p.today_asked += 1
        ctx = self.ctx
        last_end: dict[bool, int] = {}

        def got(fut: Future[M.LogBlockResponse]) -> None:
            self.in_flight -= 1
            p.today_asked -= 1
            try:
                resp = fut.result()
            except Exception as exc:
                p.today.insert(0, block)  # asked again: today stays unknown until it is in
                ctx.mark_offline(node, exc)
                self.kick()
                return
            cal = self._calibration(node)
            if cal is not None:
                entries = list(resp.entries)
                store_block(self.ctx, node, last_end, cal, block, entries, gaps=False)
                if block == current:
                    p.today_current_at = time.time()
                elif block not in p.got:  # full: the in-order read takes it from here, unasked
                    p.got[block] = ((current, None), entries, time.time())
            if not p.today and not p.today_asked and p.today_current_at is not None:
                node.current_block_read_at = p.today_current_at  # every block since midnight is in
            self.kick()

        ctx.owner.when_done(node.circle.log_block_future(block, Priority.NORMAL), got, "history.today")

    def _ask(self, node: Node, p: Progress) -> None:
        assert node.info is not None and p.next_ask is not None
        block = p.next_ask
        current = node.info.log_block
        position = (current, node.info.log_address.slot)
        if block != current and p.got.get(block) is not None:
            p.next_ask = (block + 1) % units.LOG_BLOCKS  # read with today's blocks already
            self._store_ready(node, p)
            return
        if block != current:
            p.next_ask = (block + 1) % units.LOG_BLOCKS
        p.got[block] = None
        self.in_flight += 1
        ctx = self.ctx

        def got(fut: Future[M.LogBlockResponse]) -> None:
            self.in_flight -= 1
            try:
                resp = fut.result()
            except Exception as exc:
                p.got.pop(block, None)
                p.next_ask = block if p.next_ask is None else _earlier(block, p.next_ask, p.next_block)
                ctx.mark_offline(node, exc)
                self.kick()
                return
            node.failures = 0
            p.got[block] = (position, list(resp.entries), time.time())
            self._store_ready(node, p)
            self.kick()

        ctx.owner.when_done(node.circle.log_block_future(block), got, "history.block")

    # --- storing in order ----------------------------------------------------------------------

    def _store_ready(self, node: Node, p: Progress) -> None:
        ctx = self.ctx
        cal = self._calibration(node)
        if cal is None:
            return
        while p.next_block is not None and p.got.get(p.next_block) is not None:
            block = p.next_block
            entry = p.got.pop(block)
            assert entry is not None
            position, entries, read_at = entry
            store_block(self.ctx, node, p.last_end, cal, block, entries)
            if block == position[0]:
                p.read_pos = position  # the block being written: read again when it moves on
                node.current_block_read_at = read_at  # every record written by then is stored
                break
            p.next_block = (block + 1) % units.LOG_BLOCKS
            p.done += 1
            self._done_at.append(time.monotonic())
            ctx.recorder.store.set_circle(node.mac, last_block=block)

    def _calibration(self, node: Node) -> Calibration | None:
        return node.calibration


def _earlier(a: int, b: int, base: int | None) -> int:
    """The earlier of two ring positions counted from `base`."""
    if base is None:
        return a
    return a if (a - base) % units.LOG_BLOCKS <= (b - base) % units.LOG_BLOCKS else b
