"""The SQLite writer queue (engine.sqlite_writers) as engine.db uses it: write
transactions take their turn in order and give it back on every path; reads
never queue; a waiting foreground writer goes before background ones; other
processes queue on the lock file; every wait is bounded."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.db import Database, connect
from engine.sqlite_writers import QueuedConnection, WriterQueue, mark_background
from engine.uow import read_unit_of_work, unit_of_work


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with unit_of_work(db.session) as s:
        s.execute(text("CREATE TABLE t (n INTEGER)"))
    return db


def _queue(db: Database) -> WriterQueue:
    with db.engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert isinstance(dbapi, QueuedConnection) and dbapi.writer_queue is not None
        return dbapi.writer_queue


def _free(queue: WriterQueue) -> bool:
    """Whether the queue is free now (taken and given back at once)."""
    probe = object()
    if not queue.acquire(probe):
        return False
    queue.release(probe)
    return True


def _in_thread(fn) -> threading.Thread:  # type: ignore[no-untyped-def]
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_the_lock_file_lies_next_to_the_database(db: Database, tmp_path: Path) -> None:
    queue = _queue(db)
    assert queue.path == str(tmp_path / "db.sqlite.writers")
    assert _free(queue)


def test_a_write_transaction_holds_the_queue_until_commit(db: Database) -> None:
    queue = _queue(db)
    with unit_of_work(db.session) as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        assert not _free_elsewhere(queue)
    assert _free(queue)


def _free_elsewhere(queue: WriterQueue, wait: float = 0.05) -> bool:
    """Whether another thread can take the queue within ``wait`` seconds."""
    got: list[bool] = []
    saved, queue.wait_seconds = queue.wait_seconds, wait
    try:
        _in_thread(lambda: got.append(_free(queue))).join()
    finally:
        queue.wait_seconds = saved
    return got[0]


def test_reads_do_not_queue(db: Database) -> None:
    queue = _queue(db)
    with unit_of_work(db.session) as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        seen: list[int] = []

        def read() -> None:
            with read_unit_of_work(db.read_session) as r:
                seen.append(r.scalar(text("SELECT count(*) FROM t")))

        _in_thread(read).join(timeout=5)
        assert seen == [0]  # WAL: the reader sees the last commit, without waiting
        assert not _free_elsewhere(queue)


def test_the_queue_is_given_back_on_rollback_error_and_invalidation(db: Database) -> None:
    queue = _queue(db)
    with pytest.raises(RuntimeError), unit_of_work(db.session) as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("boom")
    assert _free_elsewhere(queue)
    with pytest.raises(OperationalError), unit_of_work(db.session) as s:
        s.execute(text("INSERT INTO no_such_table VALUES (1)"))
    assert _free_elsewhere(queue)
    with db.session() as s:
        s.begin()
        s.execute(text("INSERT INTO t VALUES (2)"))
        s.connection().invalidate()  # closes the DBAPI connection
    assert _free_elsewhere(queue)
    with read_unit_of_work(db.read_session) as r:
        assert r.scalar(text("SELECT count(*) FROM t")) == 0


def test_a_waiting_writer_goes_on_as_soon_as_the_holder_commits(db: Database) -> None:
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with unit_of_work(db.session) as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            time.sleep(0.2)
            order.append("first commits")

    def second() -> None:
        holding.wait()
        with unit_of_work(db.session) as s:
            s.execute(text("INSERT INTO t VALUES (2)"))  # begins the transaction
            order.append("second writes")

    threads = [_in_thread(first), _in_thread(second)]
    for t in threads:
        t.join(timeout=10)
    assert order == ["first commits", "second writes"]


def test_a_waiting_foreground_writer_goes_before_background_ones(db: Database) -> None:
    queue = _queue(db)
    order: list[str] = []
    holder = object()
    assert queue.acquire(holder)

    def writer(name: str, background: bool) -> None:
        if background:
            mark_background()
        conn = object()
        assert queue.acquire(conn)
        order.append(name)
        queue.release(conn)

    bg = _in_thread(lambda: writer("background", True))
    time.sleep(0.05)  # the background writer waits first
    fg = _in_thread(lambda: writer("foreground", False))
    time.sleep(0.05)
    queue.release(holder)
    bg.join(timeout=5)
    fg.join(timeout=5)
    assert order == ["foreground", "background"]


def test_a_thread_writing_on_two_connections_does_not_wait_for_itself(db: Database) -> None:
    queue = _queue(db)
    first, second = object(), object()
    assert queue.acquire(first)
    started = time.monotonic()
    assert queue.acquire(second) is False  # goes on without the queue, at once
    assert time.monotonic() - started < 0.5
    queue.release(second)  # not the holder: nothing happens
    assert not _free_elsewhere(queue)
    queue.release(first)
    assert _free(queue)


def test_waits_are_bounded(db: Database) -> None:
    queue = _queue(db)
    holder = object()
    assert queue.acquire(holder)
    started = time.monotonic()
    assert _free_elsewhere(queue, wait=0.2) is False
    assert 0.15 < time.monotonic() - started < 5
    queue.release(holder)


def _hold_in_child(path: str, held: multiprocessing.Event, release: multiprocessing.Event) -> None:
    db = connect(f"sqlite:///{path}")
    with unit_of_work(db.session) as s:
        s.execute(text("INSERT INTO t VALUES (7)"))
        held.set()
        release.wait(10)


def test_other_processes_queue_on_the_lock_file(db: Database, tmp_path: Path) -> None:
    _queue(db)  # this process's queue exists (and is inherited by the child)
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_in_child,
                        args=(str(tmp_path / "db.sqlite"), held, release))
    child.start()
    try:
        assert held.wait(10)
        assert not _free_elsewhere(_queue(db), wait=0.1)
        release.set()
        child.join(10)
        assert child.exitcode == 0
        assert _free_elsewhere(_queue(db))
    finally:
        release.set()
        child.join(10)
    with read_unit_of_work(db.read_session) as r:
        assert r.scalar(text("SELECT n FROM t")) == 7


def test_a_memory_database_has_no_queue() -> None:
    db = connect("sqlite://")
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.writer_queue is None  # type: ignore[union-attr]
    with unit_of_work(db.session) as s:
        assert s.scalar(text("SELECT 1")) == 1
