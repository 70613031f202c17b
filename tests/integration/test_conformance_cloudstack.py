"""Glue: run the black-box CloudStack conformance suite (conformance/cloudstack/)
against a live server on a fresh database, in a subprocess that knows only the
endpoint and the admin's keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import LiveServer, bootstrapped_database_url, start_live_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("conformance-cs")
    live, httpd = start_live_server(bootstrapped_database_url(home), home)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()


@pytest.mark.slow
def test_cloudstack_conformance_suite_passes(fresh_server: LiveServer) -> None:
    env = {**os.environ,
           "CONFORMANCE_CS_ENDPOINT": fresh_server.cloudstack_url,
           "CONFORMANCE_CS_KEY": fresh_server.access_key,
           "CONFORMANCE_CS_SECRET": fresh_server.secret_key}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/cloudstack", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:benchmark"],
        check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    tail = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, tail
    assert " passed" in run.stdout and "skipped" not in run.stdout.splitlines()[-1], tail
