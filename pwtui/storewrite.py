"""The store's write path: a locked database never fails the caller, nothing is lost.

Every write becomes row-level operations (`backlog.Op`). Inside an open transaction
they are applied at once; when another process holds the write lock (a backup,
`sqlite3` in a shell) they are held in the bounded backlog and replayed, in order,
in front of the next transaction once the backoff has passed. Reads that must see
held rows (a circle's state, today's energy, the gap check) overlay them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .backlog import Backlog, BacklogState, Op

if TYPE_CHECKING:
    from .store import Interval


class WritePath:
    """Mixed into `Store`, which owns the connection `db`."""

    db: sqlite3.Connection

    def _init_writes(self, backlog: Backlog) -> None:
        self.backlog = backlog
        self._in_batch = False
        self._live = False  # inside a batch: a transaction is open (else its rows are held)
        self._batch_ops: list[Op] = []
        self._replayed = 0
        self._write_lock = threading.RLock()

    def backlog_state(self) -> BacklogState:
        """Rows held in memory because the database was not writable (for status lines)."""
        return self.backlog.state()

    def flush(self, force: bool = False) -> bool:
        """Try to commit the held rows now (`force`: even before the backoff has passed).
        True when nothing is held any more."""
        with self._write_lock:
            if not len(self.backlog):
                return True
            if force:
                self.backlog.retry_now()
            with self.batch():
                pass
            return not len(self.backlog)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for everything inside: all of it lands, or none.

        Rows held from earlier failed commits are written first, in order. When the
        write lock cannot be had (or the commit fails), the rows of this batch are
        held too and the exception is not raised: the caller goes on logging.
        """
        with self._write_lock:
            if self._in_batch:
                yield
                return
            self._in_batch = True
            self._batch_ops = []
            self._live = self._begin()
            try:
                yield
            except BaseException:
                if self._live:
                    self._rollback()
                raise
            else:
                self._finish()
            finally:
                self._in_batch = self._live = False
                self._batch_ops = []

    def _begin(self) -> bool:
        """Open a write transaction and replay the held rows; False when not now."""
        if len(self.backlog) and not self.backlog.due():
            return False
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self.backlog.failed(exc, len(self.backlog))
            return False
        try:
            for op in self.backlog.ops:
                self._apply(op)
        except sqlite3.OperationalError as exc:
            self._rollback()
            self.backlog.failed(exc, len(self.backlog))
            return False
        self._replayed = len(self.backlog)
        return True

    def _finish(self) -> None:
        if self._live:
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._rollback()
                self.backlog.failed(exc, len(self.backlog) + len(self._batch_ops))
                self.backlog.hold(self._batch_ops)
                return
            self.backlog.committed(self._replayed)
        else:
            self.backlog.hold(self._batch_ops)

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass  # no transaction left to roll back (SQLite ended it itself)

    def _write(self, ops: list[Op]) -> None:
        """Write rows now when a transaction is open, else hold them; outside a batch
        each call is its own small batch."""
        if not ops:
            return
        with self._write_lock:
            if not self._in_batch:
                with self.batch():
                    self._write(ops)
                return
            if self._live:
                try:
                    for op in ops:
                        self._apply(op)
                except sqlite3.OperationalError as exc:
                    # the transaction is unusable: undo it, hold everything, go on
                    self._rollback()
                    self._live = False
                    self.backlog.failed(exc, len(self.backlog) + len(self._batch_ops))
            self._batch_ops.extend(ops)

    def _apply(self, op: Op) -> None:
        if op.kind == "power":
            self.db.execute("INSERT OR REPLACE INTO power (mac, ts, watts) VALUES (?, ?, ?)", op.row)
        elif op.kind == "energy":
            self.db.execute(
                "INSERT OR REPLACE INTO energy (mac, end_ts, production, start_ts, wh, block) VALUES (?, ?, ?, ?, ?, ?)",
                op.row,
            )
        elif op.kind == "event":
            self.db.execute("INSERT INTO events (ts, mac, kind, message) VALUES (?, ?, ?, ?)", op.row)
        elif op.kind == "circle":
            self._apply_circle(*op.row)
        elif op.kind == "meta":
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", op.row)
        elif op.kind == "forget":
            self._apply_forget(*op.row)
        else:
            raise ValueError(op.kind)

    # --- writes ------------------------------------------------------------------------

    def add_power(self, samples: Iterable[tuple[str, int, float]]) -> None:
        self._write([Op("power", (mac, ts, watts)) for mac, ts, watts in samples])

    def add_intervals(self, intervals: Iterable[Interval]) -> list[Interval]:
        """Store each interval once; a re-read replaces its own row (a partly written
        block may have grown). Returns the intervals that were new."""
        intervals = list(intervals)
        with self._write_lock:
            held = {
                (op.row[0], op.row[2], op.row[1])
                for op in (*self.backlog.ops, *self._batch_ops)
                if op.kind == "energy"
            }
            new = []
            for i in intervals:
                key = (i.mac, int(i.production), i.end_ts)
                if key not in held and not self._energy_exists(key):
                    new.append(i)
                held.add(key)
            self._write(
                [
                    Op("energy", (i.mac, i.end_ts, int(i.production), i.start_ts, i.wh, i.block))
                    for i in intervals
                ]
            )
        return new

    def _energy_exists(self, key: tuple[str, int, int]) -> bool:
        try:
            row = self.db.execute(
                "SELECT 1 FROM energy WHERE mac=? AND production=? AND end_ts=?", key
            ).fetchone()
        except sqlite3.OperationalError:
            return False  # cannot tell now: count it as new rather than lose it
        return row is not None

    def add_event(self, mac: str | None, kind: str, message: str, ts: int | None = None) -> None:
        self._write([Op("event", (int(ts if ts is not None else time.time()), mac, kind, message))])

    def set_circle(
        self,
        mac: str,
        *,
        name: str | None = None,
        info: dict[str, Any] | None = None,
        last_block: int | None = None,
        last_slot: int | None = None,
    ) -> None:
        info = dict(info) if info else None  # the caller may change its dict later
        self._write([Op("circle", (mac, name, info, last_block, last_slot, int(time.time())))])

    def _apply_circle(
        self,
        mac: str,
        name: str | None,
        info: dict[str, Any] | None,
        last_block: int | None,
        last_slot: int | None,
        updated: int,
    ) -> None:
        row = self.db.execute(
            "SELECT name, info, last_block, last_slot FROM circles WHERE mac=?", (mac,)
        ).fetchone()
        old_name, old_info, old_block, old_slot = row if row else (None, None, None, None)
        merged = json.loads(old_info) if old_info else {}
        if info:
            merged.update(info)
        self.db.execute(
            "INSERT OR REPLACE INTO circles VALUES (?, ?, ?, ?, ?, ?)",
            (
                mac,
                name if name is not None else old_name,
                json.dumps(merged),
                last_block if last_block is not None else old_block,
                last_slot if last_slot is not None else old_slot,
                updated,
            ),
        )

    def _apply_forget(self, mac: str, keys: tuple[str, ...]) -> None:
        row = self.db.execute("SELECT info FROM circles WHERE mac=?", (mac,)).fetchone()
        if row is None or not row[0]:
            return
        info = json.loads(row[0])
        for k in keys:
            info.pop(k, None)
        self.db.execute("UPDATE circles SET info=? WHERE mac=?", (json.dumps(info), mac))

    def _held_circle_ops(self, mac: str) -> list[Op]:
        """set_circle rows for `mac` that the database does not show (held back)."""
        with self._write_lock:
            if self._live:  # inside an open transaction everything is applied already
                return []
            return [
                op for op in (*self.backlog.ops, *self._batch_ops) if op.kind == "circle" and op.row[0] == mac
            ]

    def _held_energy(self, mac: str, production: bool) -> dict[int, float]:
        """end_ts → wh of intervals held back (not in the database yet), so totals and
        gap checks during a lock count them (a later row for the same end wins)."""
        with self._write_lock:
            if self._live:
                return {}
            ops = (*self.backlog.ops, *self._batch_ops)
            return {
                op.row[1]: op.row[4]
                for op in ops
                if op.kind == "energy" and op.row[0] == mac and op.row[2] == int(production)
            }
