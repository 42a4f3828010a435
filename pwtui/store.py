"""The SQLite store (WAL): power samples, energy intervals, events, per-circle state.

Schema in docs/ARCHITECTURE.md.  Writes are batched (one transaction per
engine cycle) so an SD card is not worn by tiny writes; WAL plus
transactions keep the file intact through a kill -9.

A database another process keeps locked (a backup holding the write lock for
minutes) never stops the logger: writes that cannot be committed wait in a
bounded in-memory backlog (pwtui/backlog.py) and are committed, in order, by the
next transaction after a backoff.  Reads go on meanwhile (WAL readers are not
blocked by a writer).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backlog import MAX_ROWS, RETRY_MAX_S, RETRY_MIN_S, Backlog, BacklogState, Op

log = logging.getLogger("pwtui.store")

SCHEMA_VERSION = 1
DB_NAME = "pwtui.sqlite"
WRITE_BUSY_TIMEOUT_S = 1.0  # the engine waits this long for the write lock, then queues
CLOSE_WAIT_S = 1.0  # at close, held rows get this long to find the lock free (a stop takes < 2 s)

SCHEMA = """
CREATE TABLE IF NOT EXISTS power (mac TEXT NOT NULL, ts INTEGER NOT NULL, watts REAL NOT NULL,
    PRIMARY KEY (mac, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS energy (mac TEXT NOT NULL, end_ts INTEGER NOT NULL, production INTEGER NOT NULL,
    start_ts INTEGER NOT NULL, wh REAL NOT NULL, block INTEGER,
    PRIMARY KEY (mac, production, end_ts)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS energy_end ON energy (end_ts);
CREATE INDEX IF NOT EXISTS power_ts ON power (ts);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, mac TEXT, kind TEXT NOT NULL,
    message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_mac_ts ON events (mac, ts);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TABLE IF NOT EXISTS circles (mac TEXT PRIMARY KEY, name TEXT, info TEXT, last_block INTEGER,
    last_slot INTEGER, updated INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class StoreError(Exception):
    pass


@dataclass(frozen=True)
class Interval:
    mac: str
    start_ts: int
    end_ts: int
    wh: float
    production: bool
    block: int | None = None

    @property
    def watts(self) -> float:
        span = self.end_ts - self.start_ts
        return self.wh * 3600.0 / span if span > 0 else 0.0


@dataclass(frozen=True)
class Event:
    ts: int
    mac: str | None
    kind: str
    message: str


class Store:
    def __init__(
        self,
        path: str | Path,
        readonly: bool = False,
        *,
        busy_timeout: float = WRITE_BUSY_TIMEOUT_S,
        max_backlog: int = MAX_ROWS,
        retry_min: float = RETRY_MIN_S,
        retry_max: float = RETRY_MAX_S,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        """`busy_timeout`: how long one commit waits for another process's write lock
        before its rows are held back (so a poll cycle is never stalled for long);
        `on_warning` hears about held and dropped rows besides the log."""
        self.path = Path(path)
        try:
            if readonly:
                self.db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False
                )
                self.db.execute("PRAGMA busy_timeout=10000")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(
                    self.path, timeout=10, check_same_thread=False, isolation_level=None
                )
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)  # no write lock needed when the tables exist
                if self._schema_version() is None:
                    self.db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                self._set_busy_timeout(busy_timeout)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
        self._in_batch = False
        self._live = False  # inside a batch: a transaction is open (else its rows are held)
        self._batch_ops: list[Op] = []
        self._replayed = 0
        self._write_lock = threading.RLock()
        self.backlog = Backlog(max_backlog, retry_min, retry_max, warn=on_warning)

    def _schema_version(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return None if row is None else str(row[0])

    def _set_busy_timeout(self, seconds: float) -> None:
        self.db.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    def close(self) -> None:
        """Commit what is held (waiting a while for the lock), then close. Rows that
        still cannot be written are reported, never dropped silently."""
        if len(self.backlog):
            self._set_busy_timeout(CLOSE_WAIT_S)
            self.flush(force=True)
            if len(self.backlog):
                log.error(
                    "%s: closing with %d rows not written (%s)",
                    self.path,
                    len(self.backlog),
                    self.backlog.error,
                )
        self.db.close()

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
            self.db.execute("INSERT OR REPLACE INTO power VALUES (?, ?, ?)", op.row)
        elif op.kind == "energy":
            self.db.execute("INSERT OR REPLACE INTO energy VALUES (?, ?, ?, ?, ?, ?)", op.row)
        elif op.kind == "event":
            self.db.execute("INSERT INTO events (ts, mac, kind, message) VALUES (?, ?, ?, ?)", op.row)
        elif op.kind == "circle":
            self._apply_circle(*op.row)
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

    # --- reads -------------------------------------------------------------------------

    def circle(self, mac: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT name, info, last_block, last_slot FROM circles WHERE mac=?", (mac,)
        ).fetchone()
        held = self._held_circle_ops(mac)
        if row is None and not held:
            return None
        name, info_text, last_block, last_slot = row if row else (None, None, None, None)
        info = json.loads(info_text) if info_text else {}
        for op in held:  # changes not committed yet still count (e.g. the last block read)
            _, h_name, h_info, h_block, h_slot, _ = op.row
            name = h_name if h_name is not None else name
            info.update(h_info or {})
            last_block = h_block if h_block is not None else last_block
            last_slot = h_slot if h_slot is not None else last_slot
        return {"name": name, "info": info, "last_block": last_block, "last_slot": last_slot}

    def _held_circle_ops(self, mac: str) -> list[Op]:
        """set_circle rows for `mac` that the database does not show (held back)."""
        with self._write_lock:
            if self._live:  # inside an open transaction everything is applied already
                return []
            return [
                op for op in (*self.backlog.ops, *self._batch_ops) if op.kind == "circle" and op.row[0] == mac
            ]

    def energy_between(self, mac: str, start_ts: int, end_ts: int, production: bool = False) -> float:
        held = {t: wh for t, wh in self._held_energy(mac, production).items() if start_ts < t <= end_ts}
        rows = self.db.execute(
            "SELECT end_ts, wh FROM energy WHERE mac=? AND production=? AND end_ts>? AND end_ts<=?",
            (mac, int(production), start_ts, end_ts),
        ).fetchall()
        return float(sum(wh for t, wh in rows if t not in held) + sum(held.values()))

    def last_end_before(self, mac: str, ts: int, production: bool = False) -> int | None:
        row = self.db.execute(
            "SELECT MAX(end_ts) FROM energy WHERE mac=? AND production=? AND end_ts < ?",
            (mac, int(production), ts),
        ).fetchone()
        ends = [t for t in self._held_energy(mac, production) if t < ts]
        if row and row[0] is not None:
            ends.append(row[0])
        return max(ends) if ends else None

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

    @staticmethod
    def _where(
        macs: list[str] | None, lower: tuple[str, int | None], upper: tuple[str, int | None]
    ) -> tuple[str, list[Any]]:
        """`WHERE …` for an optional set of circles and optional time bounds."""
        q, args = " WHERE 1=1", []  # type: tuple[str, list[Any]]
        if macs:
            q += f" AND mac IN ({','.join('?' * len(macs))})"
            args += macs
        for clause, value in (lower, upper):
            if value is not None:
                q += f" AND {clause}"
                args.append(value)
        return q, args

    def intervals(
        self, macs: list[str] | None = None, start_ts: int | None = None, end_ts: int | None = None
    ) -> Iterator[Interval]:
        where, args = self._where(macs, ("end_ts > ?", start_ts), ("start_ts < ?", end_ts))
        for r in self.db.execute(
            "SELECT mac, start_ts, end_ts, wh, production, block FROM energy"
            f"{where} ORDER BY mac, end_ts, production",
            args,
        ):
            yield Interval(r[0], r[1], r[2], r[3], bool(r[4]), r[5])

    def power_samples(
        self, macs: list[str] | None = None, start_ts: int | None = None, end_ts: int | None = None
    ) -> Iterator[tuple[str, int, float]]:
        where, args = self._where(macs, ("ts >= ?", start_ts), ("ts < ?", end_ts))
        yield from self.db.execute(f"SELECT mac, ts, watts FROM power{where} ORDER BY mac, ts", args)

    def events(self, mac: str | None = None, limit: int = 50) -> list[Event]:
        if mac:
            rows = self.db.execute(
                "SELECT ts, mac, kind, message FROM events WHERE mac=? ORDER BY ts DESC, id DESC LIMIT ?",
                (mac, limit),
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT ts, mac, kind, message FROM events ORDER BY ts DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Event(*r) for r in rows]

    def count(self, table: str) -> int:
        if table not in ("power", "energy", "events", "circles"):
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])
