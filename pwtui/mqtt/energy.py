"""Energy intervals from the store to the broker at a steady pace.

Owned by the bridge's worker thread: it opens its own store connection (the engine may not
have created the file yet), reads only when something new may be there (a cycle passed, the
broker came back, the last read was cut short), sends at most `rate` messages a second, and
saves the published-up-to marks every couple of seconds and at the end.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..events import CircleStatus
from ..store import Store, StoreError
from .backlog import EnergyBacklog
from .payloads import Topics, dumps, energy_payload

log = logging.getLogger("pwtui.mqtt")

SAVE_EVERY_S = 2.0


class EnergyPublisher:
    def __init__(
        self, store_path: Path, topics: Topics, publish: Callable[[str, bytes], int], rate: float
    ) -> None:
        self.store_path = store_path
        self.topics = topics
        self.publish = publish  # (topic, payload) -> mid; QoS 1, retained
        self.rate = rate
        self.backlog: EnergyBacklog | None = None
        self._store: Store | None = None
        self._tokens = 0.0
        self._last = time.monotonic()
        self._saved = time.monotonic()
        self._maybe_more = True

    def store(self) -> Store | None:
        """The bridge's own connection to the engine's store, once the file exists."""
        if self._store is None:
            if not self.store_path.exists():
                return None
            try:
                self._store = Store(self.store_path)
            except StoreError as exc:
                log.warning("MQTT: %s", exc)
                return None
            self.backlog = EnergyBacklog(self._store)
        return self._store

    def poke(self) -> None:
        """New intervals may be stored (a cycle passed) or the broker is back."""
        self._maybe_more = True

    def acked(self, mid: int) -> None:
        if self.backlog is not None:
            self.backlog.acked(mid)
            self._maybe_more = True  # the window has room again

    def pump(self, connected: bool, circles: Mapping[str, CircleStatus]) -> None:
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if connected and self._maybe_more and self._tokens >= 1 and circles and self.store() is not None:
            assert self.backlog is not None
            production = {mac: c.production for mac, c in circles.items()}
            # a circle still catching up its log may store older intervals after newer ones:
            # its energy waits until it is done, so what is sent stays in time order
            ready = sorted(mac for mac, c in circles.items() if c.history_done >= c.history_total)
            for msg in self.backlog.take(ready, production, int(self._tokens)):
                self.backlog.sent(msg, self.publish(self.topics.energy(msg.mac), dumps(energy_payload(msg))))
                self._tokens -= 1
            self._maybe_more = self.backlog.more
        self.save_marks()

    def save_marks(self, force: bool = False) -> None:
        if self.backlog is None or self._store is None:
            return
        if not force and time.monotonic() - self._saved < SAVE_EVERY_S:
            return
        marks = self.backlog.marks_to_save()
        self._saved = time.monotonic()
        if marks:
            try:
                self._store.set_mqtt_marks(marks)
            except sqlite3.Error as exc:  # a busy store: kept and saved with the next ones
                log.warning("MQTT: cannot save the published-up-to marks: %s", exc)
                self.backlog.restore_marks(marks)

    def close(self) -> None:
        self.save_marks(force=True)
        if self._store is not None:
            self._store.close()
            self._store = None
