"""A management server of a test module's own (for tests that add zones or change
global settings the shared server's other tests must not see)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import LiveServer, bootstrapped_database_url, start_live_server


def own_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[LiveServer]:
    """Generator body for a module-scoped fixture: start a live server on a fresh
    database under a temp folder ``name``, yield it, shut it down afterwards."""
    home = tmp_path_factory.mktemp(name)
    live, httpd = start_live_server(bootstrapped_database_url(home), home)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()
