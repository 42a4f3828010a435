"""The SQLite store (WAL): power samples, energy intervals, events, per-circle state.

Schema in docs/ARCHITECTURE.md.  Writes are batched (one transaction per
engine cycle) so an SD card is not worn by tiny writes; WAL plus
transactions keep the file intact through a kill -9.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DB_NAME = "pwtui.sqlite"

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
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        try:
            if readonly:
                self.db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(
                    self.path, timeout=10, check_same_thread=False, isolation_level=None
                )
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            self.db.execute("PRAGMA busy_timeout=10000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
        self._in_batch = False

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for everything inside: all of it lands, or none."""
        if self._in_batch:
            yield
            return
        self._in_batch = True
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._in_batch = False

    # --- writes ------------------------------------------------------------------------

    def add_power(self, samples: Iterable[tuple[str, int, float]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO power VALUES (?, ?, ?)", list(samples))

    def add_intervals(self, intervals: Iterable[Interval]) -> list[Interval]:
        """Store each interval once; a re-read replaces its own row (a partly written
        block may have grown). Returns the intervals that were new."""
        new = []
        for i in intervals:
            cur = self.db.execute(
                "SELECT 1 FROM energy WHERE mac=? AND production=? AND end_ts=?",
                (i.mac, int(i.production), i.end_ts),
            ).fetchone()
            if cur is None:
                new.append(i)
            self.db.execute(
                "INSERT OR REPLACE INTO energy VALUES (?, ?, ?, ?, ?, ?)",
                (i.mac, i.end_ts, int(i.production), i.start_ts, i.wh, i.block),
            )
        return new

    def add_event(self, mac: str | None, kind: str, message: str, ts: int | None = None) -> None:
        self.db.execute(
            "INSERT INTO events (ts, mac, kind, message) VALUES (?, ?, ?, ?)",
            (int(ts if ts is not None else time.time()), mac, kind, message),
        )

    def set_circle(
        self,
        mac: str,
        *,
        name: str | None = None,
        info: dict[str, Any] | None = None,
        last_block: int | None = None,
        last_slot: int | None = None,
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
                int(time.time()),
            ),
        )

    # --- reads -------------------------------------------------------------------------

    def circle(self, mac: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT name, info, last_block, last_slot FROM circles WHERE mac=?", (mac,)
        ).fetchone()
        if row is None:
            return None
        return {
            "name": row[0],
            "info": json.loads(row[1]) if row[1] else {},
            "last_block": row[2],
            "last_slot": row[3],
        }

    def energy_between(self, mac: str, start_ts: int, end_ts: int, production: bool = False) -> float:
        row = self.db.execute(
            "SELECT COALESCE(SUM(wh), 0) FROM energy WHERE mac=? AND production=? AND end_ts>? AND end_ts<=?",
            (mac, int(production), start_ts, end_ts),
        ).fetchone()
        return float(row[0])

    def last_end_before(self, mac: str, ts: int, production: bool = False) -> int | None:
        row = self.db.execute(
            "SELECT MAX(end_ts) FROM energy WHERE mac=? AND production=? AND end_ts < ?",
            (mac, int(production), ts),
        ).fetchone()
        return row[0] if row and row[0] is not None else None

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

    # --- engine queries (the engine runs no SQL of its own) --------------------------------

    def circle_macs(self) -> list[str]:
        """Every circle the store has met: the cached node table for a fast start."""
        return [m for (m,) in self.db.execute("SELECT mac FROM circles ORDER BY mac")]

    def has_energy_between(self, mac: str, after_ts: int, before_ts: int, production: bool = False) -> bool:
        """Whether any interval ends strictly between the two times."""
        row = self.db.execute(
            "SELECT 1 FROM energy WHERE mac=? AND production=? AND end_ts>? AND end_ts<? LIMIT 1",
            (mac, int(production), after_ts, before_ts),
        ).fetchone()
        return row is not None

    def forget_cache(self, mac: str, keys: Iterable[str]) -> None:
        """Drop cached node facts (calibration, node info) of a circle that was replaced."""
        row = self.db.execute("SELECT info FROM circles WHERE mac=?", (mac,)).fetchone()
        if row is None or not row[0]:
            return
        info = json.loads(row[0])
        for k in keys:
            info.pop(k, None)
        self.db.execute("UPDATE circles SET info=? WHERE mac=?", (json.dumps(info), mac))

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def energy_within(self, mac: str, start_ts: int, end_ts: int, production: bool = False) -> float:
        """Energy stored for [start, end), counting each overlapping interval pro rata."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(wh * (MIN(end_ts, ?) - MAX(start_ts, ?)) * 1.0 / (end_ts - start_ts)), 0) "
            "FROM energy WHERE mac=? AND production=? AND end_ts>? AND start_ts<? AND end_ts>start_ts",
            (end_ts, start_ts, mac, int(production), start_ts, end_ts),
        ).fetchone()
        return float(row[0])
