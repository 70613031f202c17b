"""Warming a worker: what it loads is moved out of the cycle collector's reach."""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import Any

import pytest

from nimbostack import wsgi


def test_warm_up_freezes_what_it_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(wsgi, "create_app", lambda runtime, endpoint=None: object())
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    runtime: Any = SimpleNamespace(config=SimpleNamespace(region="us-east-1"))
    application = wsgi.Application(runtime)
    application.warm_up()
    assert calls == ["freeze"]
    assert application.flask_app() is not None  # built by the warm-up, before the freeze
