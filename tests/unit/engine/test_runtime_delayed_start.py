"""Runtime.start(delay=...): background work starts later, or never after shutdown()."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.config import Config
from engine.runtime import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    cfg = Config(db_url=f"sqlite:///{tmp_path / 'rt.db'}", simulator_dir=tmp_path / "sim",
                 reconcile=False)
    rt = Runtime(cfg)
    rt.prepare(init=False)
    return rt


def _threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(name))


def test_delayed_start_returns_at_once_and_starts_the_runner_later(runtime: Runtime) -> None:
    try:
        runtime.start(delay=0.2)
        assert runtime.runner is None
        deadline = time.monotonic() + 10
        while runtime.runner is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runtime.runner is not None
    finally:
        runtime.shutdown(job_timeout=1)
    assert runtime.runner is None


def test_shutdown_before_the_delay_cancels_the_start(runtime: Runtime) -> None:
    before = threading.active_count()
    runtime.start(delay=0.3)
    runtime.start(delay=0.3)  # a second request while one is pending changes nothing
    runtime.shutdown(job_timeout=1)
    time.sleep(0.6)
    assert runtime.runner is None and runtime.monitor is None
    assert threading.active_count() <= before


def test_start_without_delay_is_immediate(runtime: Runtime) -> None:
    try:
        runtime.start()
        assert runtime.runner is not None
    finally:
        runtime.shutdown(job_timeout=1)
