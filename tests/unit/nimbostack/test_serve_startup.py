"""Start-up settings of ``nimbostack serve``: collector state, gunicorn options, preload."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import Config
from nimbostack import cli, server


def test_serve_turns_the_collector_back_on_when_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def failing(args: object) -> int:
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_serve", failing)
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        cli.cmd_serve(cli.build_parser().parse_args(["serve"]))
    assert seen == [False]  # off while starting
    assert gc.isenabled()


def test_gunicorn_control_socket_is_off(tmp_path: Path) -> None:
    app = server._Application(Config(db_url=f"sqlite:///{tmp_path / 'x.db'}"),
                              {"bind": "127.0.0.1:0", "workers": 1}, "127.0.0.1:0")
    if "control_socket_disable" not in app.cfg.settings:
        pytest.skip("this gunicorn has no control socket")
    assert app.cfg.control_socket_disable is True


def test_preload_loads_what_the_first_ec2_call_needs_and_not_flask() -> None:
    code = ("import sys; from nimbostack import server; server.preload(); "
            "from awsapi import actions; "
            "print(sorted(m for m in ('awsapi.app', 'engine.reconciler', 'nimbostack.wsgi', "
            "'engine.services.catalog', 'flask', 'nativeapi.app', 'imds.app', "
            "'awsapi.actions.volumes') if m in sys.modules)); "
            "print(actions.lookup(server.FIRST_OPERATION) is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["['awsapi.app',", "'engine.reconciler',", "'engine.services.catalog',",
                   "'nimbostack.wsgi']", "True"]
