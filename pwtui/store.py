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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backlog import MAX_ROWS, RETRY_MAX_S, RETRY_MIN_S, Backlog, Op
from .storewrite import WritePath

log = logging.getLogger("pwtui.store")

SCHEMA_VERSION = 2
DB_NAME = "pwtui.sqlite"

# `imported` column of power and energy: 0 read from the circle by pwtui; otherwise bit flags.
IMPORTED = 1  # from Plugwise-2-py's logs (pwtui import-legacy)
IMPORTED_NET = 2  # consumption and production summed into one value by Plugwise-2-py
IMPORTED_APPROX = 4  # Plugwise-2-py computed it over a wrong interval length
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

# Added in schema 2; a database of schema 1 gains them when opened for writing.
MIGRATIONS = (
    ("power", "imported", "ALTER TABLE power ADD COLUMN imported INTEGER NOT NULL DEFAULT 0"),
    ("energy", "imported", "ALTER TABLE energy ADD COLUMN imported INTEGER NOT NULL DEFAULT 0"),
)


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


CACHE_PORT_KEY = "port"  # meta: the port whose circles the cached calibrations and infos are from


class Store(WritePath):
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
                self._migrate()
                if self._schema_version() is None:
                    self.db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                self._set_busy_timeout(busy_timeout)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from None
        self._init_writes(Backlog(max_backlog, retry_min, retry_max, warn=on_warning))

    def _migrate(self) -> None:
        for table, column, sql in MIGRATIONS:
            columns = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                self.db.execute(sql)
        if self._schema_version() not in (None, str(SCHEMA_VERSION)):
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

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

    # --- writes: pwtui/storewrite.py (held back while another process has the lock) ------

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

    # --- imported history (pwtui import-legacy) ------------------------------------------

    def import_power(self, samples: list[tuple[str, int, float]]) -> int:
        """Add imported 10-s samples where the store has none; returns how many were new."""
        cur = self.db.executemany(
            f"INSERT OR IGNORE INTO power (mac, ts, watts, imported) VALUES (?, ?, ?, {IMPORTED})", samples
        )
        return max(cur.rowcount, 0)

    def import_interval(self, interval: Interval, mark: int) -> float | None:
        """Add an imported interval unless the store holds one with that end: then return
        the stored Wh (the circle's own value, or an earlier import, wins)."""
        row = self.db.execute(
            "SELECT wh FROM energy WHERE mac=? AND production=? AND end_ts=?",
            (interval.mac, int(interval.production), interval.end_ts),
        ).fetchone()
        if row is not None:
            return float(row[0])
        self.db.execute(
            "INSERT INTO energy (mac, end_ts, production, start_ts, wh, block, imported)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (interval.mac, interval.end_ts, int(interval.production), interval.start_ts, interval.wh, mark),
        )
        return None

    def imported_count(self, table: str) -> int:
        if table not in ("power", "energy"):
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE imported != 0").fetchone()[0])

    # --- MQTT: energy intervals by circle, and how far they were published -------------
    # (read and written by the MQTT bridge's own connection; the mark lives in `meta`)

    def energy_after(
        self, mac: str, after_ts: int, limit: int = 100, until_ts: int | None = None
    ) -> list[tuple[int, int, float, int]]:
        """(start_ts, end_ts, net Wh, kinds) of a circle's intervals ending after `after_ts`
        (and by `until_ts`), oldest first; consumption and production of one interval are
        joined (production negative) and `kinds` says how many of the two are stored yet."""
        rows = self.db.execute(
            "SELECT MIN(start_ts), end_ts, SUM(CASE production WHEN 1 THEN -wh ELSE wh END), COUNT(*) "
            "FROM energy WHERE mac=? AND production IN (0, 1) AND end_ts>? AND end_ts<=? "
            "GROUP BY end_ts ORDER BY end_ts LIMIT ?",
            (mac, after_ts, until_ts if until_ts is not None else 2**62, limit),
        ).fetchall()
        return [(int(r[0]), int(r[1]), float(r[2]), int(r[3])) for r in rows]

    def energy_count(self, mac: str, after_ts: int, until_ts: int) -> int:
        """How many intervals (distinct ends) a circle has stored in (after_ts, until_ts]."""
        row = self.db.execute(
            "SELECT COUNT(DISTINCT end_ts) FROM energy WHERE mac=? AND production IN (0, 1) AND end_ts>? AND end_ts<=?",
            (mac, after_ts, until_ts),
        ).fetchone()
        return int(row[0])

    def net_energy_upto(self, mac: str, end_ts: int) -> float:
        """A circle's net Wh (consumption minus production) of all intervals ending by `end_ts`."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(CASE production WHEN 1 THEN -wh ELSE wh END), 0) "
            "FROM energy WHERE mac=? AND production IN (0, 1) AND end_ts<=?",
            (mac, end_ts),
        ).fetchone()
        return float(row[0])

    def mqtt_mark(self, mac: str) -> int | None:
        """End of the last energy interval of `mac` the broker acknowledged (None: never)."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (f"mqtt_energy:{mac}",)).fetchone()
        return int(row[0]) if row else None

    def set_mqtt_marks(self, marks: dict[str, int]) -> None:
        """Record how far each circle's energy was published (one small transaction)."""
        rows = [(f"mqtt_energy:{mac}", str(ts)) for mac, ts in marks.items()]
        with self.db:  # its own connection: a plain transaction, not the engine's batching
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)

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
        """Drop cached node facts (calibration, node info) of a circle that was replaced
        (a write: held back like every other while another process has the lock)."""
        self._write([Op("forget", (mac, tuple(keys)))])

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._write([Op("meta", (key, value))])

    def energy_within(self, mac: str, start_ts: int, end_ts: int, production: bool = False) -> float:
        """Energy stored for [start, end), counting each overlapping interval pro rata."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(wh * (MIN(end_ts, ?) - MAX(start_ts, ?)) * 1.0 / (end_ts - start_ts)), 0) "
            "FROM energy WHERE mac=? AND production=? AND end_ts>? AND start_ts<? AND end_ts>start_ts",
            (end_ts, start_ts, mac, int(production), start_ts, end_ts),
        ).fetchone()
        return float(row[0])
