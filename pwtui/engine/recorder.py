"""Store writes: samples and events gathered on the owner thread, committed in one transaction.

Only the recorder writes to the store while the engine runs, and it writes
from the owner thread only.  A failed commit keeps what it held for the next
one, so no reading is dropped silently.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from ..legacylogs import LegacyLogs
from ..store import Interval, Store, StoreError

log = logging.getLogger("pwtui.engine")


class Recorder:
    def __init__(self, store: Store, commit_interval: int, legacy: LegacyLogs | None) -> None:
        self.store = store
        self.commit_interval = commit_interval
        self.legacy = legacy
        self.unsaved: list[tuple[str, int, float]] = []
        self.events: list[tuple[str | None, str, str, int]] = []
        self.last_commit = time.monotonic()
        self.failing = False

    def event(self, mac: str | None, kind: str, message: str) -> None:
        self.events.append((mac, kind, message, int(time.time())))

    def sample(self, mac: str, ts: int, watts: float) -> None:
        self.unsaved.append((mac, ts, round(watts, 3)))

    def legacy_power(self, samples: list[tuple[str, int, float]]) -> None:
        if self.legacy is not None and samples:
            try:
                self.legacy.power(samples)
            except OSError as exc:
                log.warning("legacy power log: %s", exc)

    def add_intervals(self, intervals: list[Interval]) -> list[Interval]:
        """Energy intervals land at once (with the events gathered so far); returns the new ones."""
        n = len(self.events)
        with self.store.batch():
            new = self.store.add_intervals(intervals)
            self._write_events(n)
        del self.events[:n]
        if self.legacy is not None and new:
            try:
                self.legacy.intervals(new)
            except OSError as exc:
                log.warning("legacy interval log: %s", exc)
        return new

    def maybe_commit(self) -> None:
        if self.commit_interval == 0 or time.monotonic() - self.last_commit >= self.commit_interval:
            self.commit()

    def commit(self) -> None:
        """One transaction for everything gathered since the last commit (SD cards thank us)."""
        n, k = len(self.events), len(self.unsaved)
        try:
            with self.store.batch():
                self.store.add_power(self.unsaved[:k])
                self._write_events(n)
        except (sqlite3.Error, StoreError) as exc:
            if not self.failing:
                log.warning(
                    "cannot write the store (%d samples kept for the next try): %s", len(self.unsaved), exc
                )
            self.failing = True
            return
        self.failing = False
        del self.unsaved[:k]
        del self.events[:n]
        self.last_commit = time.monotonic()

    def _write_events(self, n: int) -> None:
        for mac, kind, message, ts in self.events[:n]:
            self.store.add_event(mac, kind, message, ts)
