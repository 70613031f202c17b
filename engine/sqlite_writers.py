"""A queue for SQLite's one writer: a waiting writer is woken the moment the
last one ends, instead of by SQLite's busy handler, which sleeps in growing
steps (1, 2, 5, 10 ms, ...) and so turns even a short wait into milliseconds;
and background writers (job runner, heartbeat: threads marked with
:func:`mark_background`) give way to waiting foreground ones (requests,
commands), which the busy handler only did by accident, by keeping them asleep.

Across processes the queue is an exclusive ``flock`` on ``<database>.writers``
next to the database file, taken by every process that opens it through
:func:`engine.db.connect` (several ``nimbostack serve`` processes, their
workers, CLI commands); a foreground writer holds a shared lock on
``<database>.writers-fg`` while it waits, and a background writer takes its
turn only when that one is free. Within a process a condition variable
queues the threads, so only the file lock is ever polled (every 0.2-1 ms).

A write transaction takes its turn just before ``BEGIN IMMEDIATE`` and gives
it back right after its COMMIT or ROLLBACK, or when its connection is closed
(which is how an invalidated connection ends). Read transactions (deferred
``BEGIN`` in WAL mode) never queue.

The queue only orders writers; SQLite's own lock still guards the data, so a
writer may always go without it: one that waits longer than
``wait_seconds``, whose thread already holds the queue for another
connection, or whose lock files cannot be opened, goes on to ``BEGIN
IMMEDIATE`` and SQLite's busy timeout as before. Every wait on the queue is
thus bounded, and it adds no deadlock to the engine's other locks.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import threading
import time
from typing import Any

_thread_kind = threading.local()


def mark_background() -> None:
    """Mark the calling thread a background writer (see the module)."""
    _thread_kind.background = True


def is_background() -> bool:
    return getattr(_thread_kind, "background", False)


class WriterQueue:
    """The write-transaction queue of one SQLite database file (see the module)."""

    def __init__(self, database_path: str, *, wait_seconds: float = 2.0) -> None:
        self.path = os.path.abspath(database_path) + ".writers"
        self.wait_seconds = wait_seconds
        self._pid = -1
        self._after_fork()

    def acquire(self, conn: Any) -> bool:
        """Take the queue for ``conn``'s next write transaction; False when
        the caller should go on without it (see the module)."""
        if self._pid != os.getpid():
            self._after_fork()
        me = threading.get_ident()
        if self._holder_thread == me:
            return False  # this thread already writes on another connection
        background = is_background()
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            if not background:
                self._fg_waiting += 1
            try:
                while self._holder is not None or (background and self._fg_waiting):
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        return False
            finally:
                if not background:
                    self._fg_waiting -= 1
            self._holder, self._holder_thread = conn, me
        try:
            locked = self._lock_files(deadline, background)
        except BaseException:
            self._hand_on()
            raise
        if not locked:
            self._hand_on()
        return locked

    def release(self, conn: Any) -> None:
        """Give the queue back if ``conn`` holds it (else nothing)."""
        if conn is None or self._holder is not conn:
            return
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        with self._cond:
            self._holder, self._holder_thread = None, None
            self._cond.notify_all()

    def _lock_files(self, deadline: float, background: bool) -> bool:
        """Lock the queue file (other processes' writers), polling briefly
        while another process holds it; False if not had by ``deadline``."""
        if self._fd is None or self._fg_fd is None:
            try:
                self._fd = self._fd or _open(self.path)
                self._fg_fd = self._fg_fd or _open(self.path + "-fg")
            except OSError:
                return False
        intent = False
        pause = 0.0002
        try:
            while True:
                if background:
                    ready = _try_lock(self._fg_fd, fcntl.LOCK_EX)  # no foreground waiting
                    if ready:
                        fcntl.flock(self._fg_fd, fcntl.LOCK_UN)
                else:
                    ready = intent = intent or _try_lock(self._fg_fd, fcntl.LOCK_SH)
                if ready and _try_lock(self._fd, fcntl.LOCK_EX):
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 1.5, 0.001)
        finally:
            if intent:
                fcntl.flock(self._fg_fd, fcntl.LOCK_UN)

    def _after_fork(self) -> None:
        """A forked child starts with a queue of its own: a fresh condition and
        its own open files (closing the parent's copies leaves its locks be)."""
        if self._pid != -1:
            for fd in (self._fd, self._fg_fd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self._fd: int | None = None
        self._fg_fd: int | None = None
        self._cond = threading.Condition(threading.Lock())
        self._fg_waiting = 0
        self._holder: Any = None  # the DBAPI connection holding the queue
        self._holder_thread: int | None = None
        self._pid = os.getpid()


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_lock(fd: int, kind: int) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


class QueuedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives its :class:`WriterQueue` back after every
    COMMIT, ROLLBACK and close (the paths that end a transaction)."""

    writer_queue: WriterQueue | None = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if self.writer_queue is not None:
            self.writer_queue.release(self)
