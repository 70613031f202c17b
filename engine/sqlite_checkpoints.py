"""Checkpoints of SQLite's write-ahead log, off the path of every writer.

Left to itself, SQLite checkpoints the log inside the COMMIT that makes it
longer than ``wal_autocheckpoint`` pages: that COMMIT copies the log into the
database file and syncs it, which takes milliseconds, and it does so while its
transaction still holds the writer queue (``engine.sqlite_writers``), so every
other writer waits too. Measured on this machine: with the default (1,000
pages) about 1.5% of small commits took 7-15 ms instead of 0.1 ms.

So each process that writes runs one :class:`Checkpointer` thread per
database file: every ``interval`` seconds it looks at the log and, when it is
past ``threshold_bytes`` and was written since the last round, runs a PASSIVE
checkpoint on a connection of its own (PASSIVE takes no lock a writer or
reader needs; a page a reader still uses is left for the next round).
Connections keep an automatic checkpoint only as a safety net, at
:data:`SAFETY_NET_PAGES`, for a process whose thread is not running (a short
CLI command; SQLite also checkpoints when the last connection closes).

The thread starts at the process's first write transaction (a forked worker
starts its own) and ends with :meth:`Checkpointer.stop` (``Database.dispose``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger("nimbostack.sqlite")

SAFETY_NET_PAGES = 16384  # 64 MiB of 4 KiB pages


class Checkpointer:
    """Keeps one database file's write-ahead log short (see the module)."""

    def __init__(self, database_path: str, *, threshold_bytes: int = 4 << 20,
                 interval: float = 0.5) -> None:
        self.path = os.path.abspath(database_path)
        self.wal_path = self.path + "-wal"
        self.threshold_bytes = threshold_bytes
        self.interval = interval
        self.checkpoints = 0  # rounds that ran a checkpoint (for tests and logs)
        self.last: tuple[int, int] = (0, 0)
        self._written = -1  # the log's mtime when last checkpointed
        self._pid = -1
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def ensure_running(self) -> None:
        """Start this process's thread unless it runs (cheap: one comparison)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid() or self._stopping.is_set():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()

    def run_once(self) -> bool:
        """Checkpoint if the log is past the threshold and was written since the
        last checkpoint; whether it did. (A checkpointed log is used again from
        its start, so its file keeps its size: the time it was last written
        says whether there is anything new.)"""
        try:
            st = os.stat(self.wal_path)
        except FileNotFoundError:
            return False
        if st.st_size < self.threshold_bytes or st.st_mtime_ns == self._written:
            return False
        self._written = st.st_mtime_ns
        # mode=rw: a database removed meanwhile is not made again, empty.
        conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=0,
                               isolation_level=None)
        try:
            _busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        self.checkpoints += 1
        self.last = (log_pages, done)  # pages in the log, pages of it now in the database
        return True

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.run_once()
            except sqlite3.Error as exc:  # busy, or the file went away: next round
                log.debug("checkpoint of %s skipped: %s", self.path, exc)


__all__ = ["SAFETY_NET_PAGES", "Checkpointer"]
