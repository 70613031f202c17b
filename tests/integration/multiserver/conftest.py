"""Multi-server proofs run on MariaDB only (SQLite is one machine's file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import Runtime
from tests.integration.multiserver.fleet import ACCESS_KEY, SECRET_KEY, PrivateMariaDB
from tests.integration.serverproc import observer_runtime
from tests.support import BACKEND

HEARTBEAT = {"management.server.heartbeat.interval": "1",
             "management.server.heartbeat.threshold": "3"}


@pytest.fixture(autouse=True)
def _mariadb_only() -> None:
    if BACKEND != "mysql":
        pytest.skip("several servers on one database: MariaDB only")


def prepare(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """Bootstrap the database as the servers would (same admin keys) and beat fast."""
    monkeypatch.setenv("NIMBOSTACK_ADMIN_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("NIMBOSTACK_ADMIN_SECRET_KEY", SECRET_KEY)
    rt = Runtime(observer_config(db_url, home))
    rt.prepare()
    with rt.unit() as services:
        for name, value in HEARTBEAT.items():
            services.settings.update(name, value)
    return rt


def observer_config(db_url: str, home: Path):  # type: ignore[no-untyped-def]
    from tests.support import make_config

    return make_config(db_url, home)


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """An empty database: the servers bootstrap it with this module's admin keys."""
    return empty_db_url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def shared_db(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The shared MariaDB: a fresh database, bootstrapped; the test's own view of it."""
    prepare(db_url, home, monkeypatch).shutdown()
    with observer_runtime(db_url, home) as rt:
        yield rt


@pytest.fixture
def private_db() -> Iterator[PrivateMariaDB]:
    db = PrivateMariaDB()
    db.start()
    try:
        yield db
    finally:
        db.remove()
