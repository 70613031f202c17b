"""A live server of its own for the hypervisor tests (hosts they add must not
change the capacity other tests see on the shared ``server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import LiveServer, bootstrapped_database_url, start_live_server


@pytest.fixture(scope="module")
def hv_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("hv-server")
    live, httpd = start_live_server(bootstrapped_database_url(home), home)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()
