"""The simulator's own sqlite state file, shared by all simulated hosts and processes.

It is unrelated to the engine's database. One connection per (process, thread);
writes go through short ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import NotFound, ResourceKind, Unavailable

DB_FILE = "simulator.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
  host TEXT NOT NULL, uuid TEXT NOT NULL, name TEXT NOT NULL, power TEXT NOT NULL,
  cpus INTEGER NOT NULL, cpu_mhz INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  user_data BLOB, spec TEXT NOT NULL, console BLOB NOT NULL DEFAULT x'',
  boots INTEGER NOT NULL DEFAULT 0, last_stop TEXT, updated REAL NOT NULL,
  PRIMARY KEY (host, uuid), UNIQUE (host, name));
CREATE TABLE IF NOT EXISTS disks (
  sid TEXT PRIMARY KEY, host TEXT NOT NULL, pool TEXT, dom_host TEXT, dom_uuid TEXT,
  owned INTEGER NOT NULL, device_id INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
  format TEXT NOT NULL, source TEXT, serial TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS disks_domain ON disks (dom_host, dom_uuid);
CREATE TABLE IF NOT EXISTS snapshots (
  sid TEXT PRIMARY KEY, disk_sid TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  format TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
  host TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (host, key));
CREATE TABLE IF NOT EXISTS fault_counts (
  host TEXT NOT NULL, op TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (host, op));
"""


class Db:
    """A connection seen from one host, with one-line query helpers."""

    __slots__ = ("conn", "host")

    def __init__(self, conn: sqlite3.Connection, host: str) -> None:
        self.conn, self.host = conn, host

    def one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)

    def domain(self, uuid: str, cols: str) -> tuple[Any, ...]:
        """Columns of this host's domain ``uuid``; ``NotFound`` if there is none."""
        row = self.one(f"SELECT {cols} FROM domains WHERE host=? AND uuid=?", self.host, uuid)
        if row is None:
            raise NotFound(ResourceKind.INSTANCE, uuid)
        return row

    def disk(self, sid: str, cols: str) -> tuple[Any, ...]:
        """Columns of disk ``sid`` (disks are shared storage: any host sees them)."""
        row = self.one(f"SELECT {cols} FROM disks WHERE sid=?", sid)
        if row is None:
            raise NotFound(ResourceKind.VOLUME, sid)
        return row

    def owner_name(self, host: str, uuid: str) -> str:
        """``"domain <name>"`` of the domain ``uuid`` on ``host``, for InUse messages."""
        row = self.one("SELECT name FROM domains WHERE host=? AND uuid=?", host, uuid)
        return f"domain {row[0] if row else uuid}"


class Store:
    """One sqlite file; one connection per (process, thread); short transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._schema_ready = False
        self._orphans: list[sqlite3.Connection] = []  # inherited across fork: never used

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, reopened after a fork."""
        local, pid = self._local, os.getpid()
        if getattr(local, "pid", None) != pid:
            if getattr(local, "conn", None) is not None:
                self._orphans.append(local.conn)
            local.conn, local.pid = self._open(), pid
        conn: sqlite3.Connection = local.conn
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if not self._schema_ready:
            conn.executescript(_SCHEMA)
            self._schema_ready = True
        return conn

    def read(self, host: str) -> Db:
        """``host``'s view of the file, outside any transaction (autocommit reads)."""
        return Db(self.conn(), host)

    @contextmanager
    def tx(self, host: str) -> Iterator[Db]:
        """A write transaction (BEGIN IMMEDIATE: no lock upgrades, so no deadlocks).

        Raises ``Unavailable`` if the file stays locked; rolls back on any exception.
        """
        conn = self.conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"simulator state {self.path}") from exc
        try:
            yield Db(conn, host)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def store_at(directory: Path) -> Store:
    """The process-wide ``Store`` for the state file in ``directory``."""
    path = (directory / DB_FILE).resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = Store(path)
        return store
