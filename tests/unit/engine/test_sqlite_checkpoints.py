"""The write-ahead log is checkpointed by a thread of its own, not by a COMMIT."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text

from engine.db import connect
from engine.sqlite_checkpoints import SAFETY_NET_PAGES


def _threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "sqlite-checkpoint")


def _fill(db, rows: int) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s, s.begin():
        s.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"))
    for _ in range(rows // 100):
        with db.session() as s, s.begin():
            s.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 2000}] * 100)


def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        assert db.checkpointer is not None
        db.checkpointer.interval = 3600.0  # this test runs the rounds itself
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_NET_PAGES
        _fill(db, 3000)  # about 6 MB: past SQLite's default of 1,000 pages
        wal = tmp_path / "c.sqlite-wal"
        assert wal.stat().st_size > db.checkpointer.threshold_bytes  # no COMMIT checkpointed
        assert db.checkpointer.run_once()
        pages, done = db.checkpointer.last
        assert pages > 1000 and done == pages
        assert not db.checkpointer.run_once()  # nothing written since
        _fill(db, 100)  # the next writer starts the log again from its beginning
        assert db.checkpointer.run_once()
        pages, done = db.checkpointer.last
        assert pages < 1000 and done == pages
    finally:
        db.dispose()


def test_the_thread_starts_with_the_first_write_and_ends_with_dispose(tmp_path: Path) -> None:
    before = _threads()
    db = connect(f"sqlite:///{tmp_path / 'd.sqlite'}")
    assert db.checkpointer is not None
    db.checkpointer.interval = 0.05
    db.checkpointer.threshold_bytes = 64 << 10
    with db.read_session() as s, s.begin():
        s.execute(text("SELECT 1"))
    assert _threads() == before  # reading starts nothing
    _fill(db, 500)
    assert _threads() == before + 1
    deadline = time.monotonic() + 5
    while db.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert db.checkpointer.checkpoints >= 1
    db.dispose()
    deadline = time.monotonic() + 5
    while _threads() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _threads() == before


def test_a_removed_database_is_not_made_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite"
    db = connect(f"sqlite:///{path}")
    try:
        assert db.checkpointer is not None
        db.checkpointer.threshold_bytes = 0
        _fill(db, 100)
        db.engine.dispose()
        (tmp_path / "gone.sqlite-wal").write_bytes(b"x" * 10)  # a log left behind
        os.remove(path)
        with contextlib.suppress(sqlite3.Error):  # the thread logs it and goes on
            db.checkpointer.run_once()
        assert not path.exists()
    finally:
        db.dispose()
