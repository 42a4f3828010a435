"""Store writes not committed yet: kept in order, bounded, retried with backoff.

When another process holds the database's write lock (a backup, `sqlite3` in a
shell) the logger cannot commit. It must neither stop nor lose what it measured:
every write becomes a row-level operation in this backlog, which the store replays
in front of the next transaction once the backoff has passed. Memory is bounded;
when the bound is reached the oldest rows go, and a warning says how many.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("pwtui.store")

MAX_ROWS = 200_000  # ≈ 8 h of 10-s samples of 64 circles, some 40 MB at worst
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
WARN_EVERY_S = 300.0


@dataclass(frozen=True)
class Op:
    """One row to write: `kind` is power, energy, event, circle, meta or forget; `row` its values."""

    kind: str
    row: tuple[Any, ...]


@dataclass(frozen=True)
class BacklogState:
    """What a status line needs: rows waiting, rows dropped, why, and since when."""

    pending: int
    dropped: int
    error: str
    since: float | None  # time.time() of the first failed commit, None when all is written


class Backlog:
    def __init__(
        self,
        max_rows: int = MAX_ROWS,
        retry_min: float = RETRY_MIN_S,
        retry_max: float = RETRY_MAX_S,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ops: deque[Op] = deque()
        self.max_rows = max_rows
        self.retry_min, self.retry_max = retry_min, retry_max
        self._warn_cb = warn
        self._clock = clock
        self._delay = 0.0
        self._next_try = 0.0
        self.error = ""
        self.since: float | None = None
        self.dropped = 0
        self._dropped_unreported = 0
        self._last_drop_warning = -WARN_EVERY_S

    def __len__(self) -> int:
        return len(self.ops)

    def state(self) -> BacklogState:
        return BacklogState(len(self.ops), self.dropped, self.error, self.since)

    def due(self) -> bool:
        """Whether a commit may be tried now (always, unless a failure asked to wait)."""
        return self._clock() >= self._next_try

    def retry_now(self) -> None:
        """The next commit may try at once (a clean stop does not wait out the backoff)."""
        self._next_try = 0.0

    def hold(self, ops: Iterable[Op]) -> None:
        """Keep `ops` (after those already held), dropping the oldest beyond the bound."""
        self.ops.extend(ops)
        over = len(self.ops) - self.max_rows
        if over <= 0:
            return
        for _ in range(over):
            self.ops.popleft()
        self.dropped += over
        self._dropped_unreported += over
        now = self._clock()
        if now - self._last_drop_warning >= WARN_EVERY_S:
            self._last_drop_warning = now
            self._warn(
                f"database still not writable ({self.error}): memory bound of {self.max_rows} rows "
                f"reached, dropped the oldest {self._dropped_unreported} (total {self.dropped})"
            )
            self._dropped_unreported = 0

    def failed(self, exc: Exception, waiting: int) -> None:
        """A commit failed: wait longer before the next try (doubling, capped)."""
        first = self.since is None
        self.error = str(exc) or type(exc).__name__
        self._delay = self.retry_min if first else min(self.retry_max, max(self._delay, self.retry_min) * 2)
        self._next_try = self._clock() + self._delay
        if first:
            self.since = time.time()
            self._warn(
                f"cannot write the database ({self.error}); {waiting} rows kept in memory, "
                f"retrying with backoff up to {self.retry_max:.0f} s"
            )

    def committed(self, count: int) -> None:
        """The first `count` held ops are in the database now."""
        for _ in range(min(count, len(self.ops))):
            self.ops.popleft()
        if self.since is not None:
            took = time.time() - self.since
            log.info("database writable again after %.0f s; %d held rows written", took, count)
        self.since, self.error, self._delay, self._next_try = None, "", 0.0, 0.0

    def _warn(self, text: str) -> None:
        log.warning("%s", text)
        if self._warn_cb is not None:
            self._warn_cb(text)
