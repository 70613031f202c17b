"""Shared fixtures; the helpers they use live in tests/support.py (a plain module,
so tests can import them without importing a conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.models import load_all
from tests.support import (
    LiveServer,
    bootstrapped_database_url,
    new_database_url,
    start_live_server,
)

# Tests create and compare the whole schema from Base.metadata (a server loads
# model modules on demand; tests of that run in fresh interpreters).
load_all()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A database holding the schema and the embedded default for home ``tmp_path``."""
    return bootstrapped_database_url(tmp_path)


@pytest.fixture
def empty_db_url(tmp_path: Path) -> str:
    """A new database with no tables at all."""
    return new_database_url(tmp_path)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server per test session (per xdist worker)."""
    home = tmp_path_factory.mktemp("server")
    live, httpd = start_live_server(bootstrapped_database_url(home), home)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()


@pytest.fixture
def ec2(server: LiveServer):  # type: ignore[no-untyped-def]
    return server.ec2()
