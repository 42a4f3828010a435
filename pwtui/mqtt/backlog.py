"""Energy intervals on their way to the broker: read from the store, at least once, in order.

The store holds a published-up-to mark per circle (the end of the last interval the broker
acknowledged).  Intervals after the mark are read in order, sent with QoS 1, and the mark moves
only over acknowledged ones, so a broker that is away, a lost connection or a killed logger
costs nothing but a repeat: paho re-sends what was in flight when the connection is back, and
a restarted logger starts again at the mark.  At most `window` intervals are in flight, so a
long outage never fills memory.  An interval stored after later ones were sent (which the
bridge avoids by waiting for a circle's catch-up) goes out late rather than never.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..store import Store
from .payloads import EnergyMessage

log = logging.getLogger("pwtui.mqtt")

BACKFILL_S = 7 * 86400  # a circle never published before: its last week of stored intervals


@dataclass
class _Circle:
    cursor: int  # end_ts of the last interval handed out
    cum_wh: float  # net Wh up to and including the cursor
    mark: int  # end_ts of the last acknowledged interval, in order
    checked: int  # every interval ending by this was handed out (late arrivals checked)
    handed: set[int] = field(default_factory=set)  # ends handed out after `checked`
    in_flight: deque[int] = field(default_factory=deque)
    acked: set[int] = field(default_factory=set)


class EnergyBacklog:
    def __init__(
        self,
        store: Store,
        *,
        window: int = 100,
        backfill_s: int = BACKFILL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.window = window
        self.backfill_s = backfill_s
        self.clock = clock
        self._circles: dict[str, _Circle] = {}
        self._mids: dict[int, tuple[str, int]] = {}
        self._dirty: set[str] = set()
        self._turn = 0
        self.more = True

    @property
    def in_flight(self) -> int:
        return len(self._mids)

    def _circle(self, mac: str) -> _Circle:
        c = self._circles.get(mac)
        if c is None:
            mark = self.store.mqtt_mark(mac)
            start = mark if mark is not None else int(self.clock()) - self.backfill_s
            c = _Circle(
                cursor=start, cum_wh=self.store.net_energy_upto(mac, start), mark=start, checked=start
            )
            self._circles[mac] = c
        return c

    def take(self, macs: Iterable[str], production: Mapping[str, bool], budget: int) -> list[EnergyMessage]:
        """Up to `budget` next intervals (never more than the window allows), oldest first per
        circle; each circle gets a share, so one long backlog does not starve the others.
        Afterwards `more` says whether some circle may have more waiting."""
        budget = min(budget, self.window - self.in_flight)
        order = list(macs)
        if budget <= 0 or not order:
            self.more = bool(order)
            return []
        share = max(1, budget // len(order))
        self._turn = (self._turn + 1) % len(order)  # who goes first when the budget is short
        out: list[EnergyMessage] = []
        self.more = False
        for mac in order[self._turn :] + order[: self._turn]:
            limit = min(share, budget - len(out))
            if limit <= 0:
                self.more = True
                break
            got = self._take_one(mac, production.get(mac, False), limit)
            out.extend(got)
            self.more = self.more or len(got) == limit
        return out

    def _take_one(self, mac: str, production: bool, limit: int) -> list[EnergyMessage]:
        c = self._circle(mac)
        out = self._late(mac, c, limit)
        rows = self.store.energy_after(mac, c.cursor, limit - len(out))
        for i, (start, end, wh, kinds) in enumerate(rows):
            last = i == len(rows) - 1 and len(rows) < limit - len(out)
            if production and kinds < 2 and last:
                break  # its production half is not stored yet: wait for it (or a later interval)
            c.cum_wh += wh
            c.cursor = end
            c.handed.add(end)
            out.append(EnergyMessage(mac, start, end, wh, c.cum_wh))
        return out

    def _late(self, mac: str, c: _Circle, limit: int) -> list[EnergyMessage]:
        """Intervals stored after later ones were handed out (the engine reads a long backlog's
        newest blocks first): sent now, out of order but not lost, with a log line."""
        if c.cursor == c.checked:
            return []
        if self.store.energy_count(mac, c.checked, c.cursor) == len(c.handed):
            c.checked, c.handed = c.cursor, set()
            return []
        rows = self.store.energy_after(mac, c.checked, 1_000_000, until_ts=c.cursor)
        late = [r for r in rows if r[1] not in c.handed][:limit]
        if not late:
            return []
        log.warning(
            "MQTT: %d energy interval(s) of %s were stored after later ones were sent; sending them now",
            len(late),
            mac,
        )
        out = []
        for start, end, wh, _kinds in late:
            c.handed.add(end)
            c.cum_wh += wh  # the running total stays monotonic (Home Assistant reads a drop as a reset)
            out.append(EnergyMessage(mac, start, end, wh, c.cum_wh))
        return out

    def sent(self, msg: EnergyMessage, mid: int) -> None:
        """`msg` was handed to paho as message `mid` (QoS 1)."""
        self._mids[mid] = (msg.mac, msg.end_ts)
        self._circles[msg.mac].in_flight.append(msg.end_ts)

    def acked(self, mid: int) -> None:
        """The broker acknowledged message `mid`: move the mark over every acknowledged
        interval at the head of that circle's queue (acks may in principle come out of order)."""
        item = self._mids.pop(mid, None)
        if item is None:
            return
        mac, end = item
        c = self._circles[mac]
        c.acked.add(end)
        while c.in_flight and c.in_flight[0] in c.acked:
            head = c.in_flight.popleft()
            c.acked.discard(head)
            c.mark = max(c.mark, head)  # a late interval is older than the mark
            self._dirty.add(mac)

    def marks_to_save(self) -> dict[str, int]:
        """Marks that moved since the last call."""
        out = {mac: self._circles[mac].mark for mac in self._dirty}
        self._dirty.clear()
        return out

    def restore_marks(self, marks: dict[str, int]) -> None:
        """Marks that could not be saved: saved with the next ones."""
        self._dirty.update(marks)
