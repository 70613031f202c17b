"""Start-up of ``nimbostack serve``: collector state, gunicorn options, preload, the
database prepared in a child process."""

from __future__ import annotations

import errno
import gc
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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
            "from awsapi import actions; from engine.models import Region; "
            "from sqlalchemy import inspect; "
            "print(sorted(m for m in ('awsapi.app', 'engine.reconciler', 'nimbostack.wsgi', "
            "'engine.services.catalog', 'flask', 'nativeapi.app', 'imds.app', "
            "'awsapi.actions.volumes', 'engine.jobs.handlers', 'awsapi.errors', "
            "'engine.services.volumes') if m in sys.modules)); "
            "print(actions.lookup(server.FIRST_OPERATION) is not None); "
            "print(inspect(Region).configured)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["['awsapi.app',", "'engine.services.catalog',", "'nimbostack.wsgi']",
                   "True", "True"]


def test_prepare_database_migrates_and_bootstraps_in_a_child(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    listener = server.listen("127.0.0.1", 0)
    try:
        wait = server.prepare_database(Config(db_url=url, simulator_dir=tmp_path / "sim"),
                                       listener=listener)
        assert wait() is None  # no address: nothing registered
        assert listener.fileno() != -1  # closed in the child only
    finally:
        listener.close()
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["admin"]
            assert conn.execute(text("SELECT count(*) FROM management_servers")).scalar() == 0
    finally:
        engine.dispose()


def test_prepare_database_registers_the_server_it_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    cfg = Config(db_url=url, simulator_dir=tmp_path / "sim")
    uuid = server.prepare_database(cfg, "127.0.0.1:8080")()
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT uuid, address FROM management_servers")).all()
        assert [tuple(r) for r in rows] == [(uuid, "127.0.0.1:8080")]
        app = server._Application(cfg, {"bind": "127.0.0.1:0", "workers": 1}, "127.0.0.1:8080",
                                  uuid)
        app.mark_stopped()  # what the master does when gunicorn ends, ready or not
        app.mark_stopped()  # once
        with engine.connect() as conn:
            state = conn.execute(text("SELECT state FROM management_servers")).scalar()
        assert state == "Down"
    finally:
        engine.dispose()


def test_prepare_database_reports_a_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the database's directory would be
    wait = server.prepare_database(Config(db_url=f"sqlite:///{blocker / 'x.db'}",
                                          simulator_dir=tmp_path / "sim"))
    with pytest.raises(RuntimeError, match="preparing the database failed"):
        wait()


def test_model_modules_leave_annotations_to_the_interpreter() -> None:
    """See engine/models/__init__.py: string annotations cost start-up time."""
    models = Path(__file__).resolve().parents[3] / "engine" / "models"
    offenders = [p.name for p in sorted(models.glob("*.py"))
                 if "from __future__ import annotations" in p.read_text()]
    assert offenders == []


def test_a_database_error_is_reported_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    err = OperationalError("SELECT 1", {}, ConnectionRefusedError("Can't connect to server"))
    with caplog.at_level("ERROR", logger="nimbostack.server"):
        server._log_failure(err)
    (record,) = caplog.records
    assert record.getMessage() == "preparing the database failed: Can't connect to server"
    assert record.exc_info is None


def test_listen_accepts_connections_before_anything_serves() -> None:
    """A client connecting while the server still loads waits in the backlog."""
    listener = server.listen("127.0.0.1", 0)
    try:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            conn, _ = listener.accept()
            with conn:
                assert conn.recv(64).startswith(b"GET / ")
    finally:
        listener.close()


def test_listen_tries_again_while_the_port_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(server.time, "sleep", waits.append)
    busy = server.listen("127.0.0.1", 0)
    try:
        with pytest.raises(OSError) as err:
            server.listen("127.0.0.1", busy.getsockname()[1], attempts=3)
        assert err.value.errno == errno.EADDRINUSE
        assert waits == [1, 1]
    finally:
        busy.close()


def test_serve_reports_a_port_in_use(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(server.time, "sleep", lambda s: None)
    busy = server.listen("127.0.0.1", 0)
    try:
        port = busy.getsockname()[1]
        assert cli.cmd_serve(cli.build_parser().parse_args(["serve", "--port", str(port)])) == 1
    finally:
        busy.close()
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_gunicorn_takes_over_the_listening_socket(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def run(self: server._Application) -> None:
        seen["bind"] = self.cfg.bind
        seen["address"] = self.cfg.address

    monkeypatch.setattr(server._Application, "run", run)
    listener = server.listen("127.0.0.1", 0)
    fd = listener.fileno()
    server.run_gunicorn(Config(db_url=f"sqlite:///{tmp_path / 'x.db'}"), host="127.0.0.1",
                        port=listener.getsockname()[1], workers=1, threads=1,
                        listener=listener)
    try:
        assert seen == {"bind": [f"fd://{fd}"], "address": [fd]}
        assert listener.fileno() == -1  # detached: gunicorn owns (and closes) the descriptor
    finally:
        os.close(fd)


def test_malloc_is_tuned_without_a_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    def no_lookup(name: str) -> str:
        raise AssertionError("find_library runs ldconfig in a subprocess")

    monkeypatch.setattr(ctypes.util, "find_library", no_lookup)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    server.tune_malloc()


def test_a_worker_raises_the_collector_thresholds(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """After its app is built, a worker collects at GC_THRESHOLDS (a big page
    then triggers about one young collection instead of dozens)."""
    import engine.runtime
    from nimbostack import wsgi

    class FakeRuntime:
        def __init__(self, cfg: Config) -> None:
            self.started: list[float] = []

        def attach_server(self, uuid: str) -> None:
            pass

        def start(self, *, delay: float = 0.0) -> None:
            self.started.append(delay)

    class FakeApp:
        def __init__(self, runtime: FakeRuntime) -> None:
            self.runtime = runtime

        def warm_up_later(self, delay: float) -> None:
            pass

    monkeypatch.setattr(engine.runtime, "Runtime", FakeRuntime)
    monkeypatch.setattr(wsgi, "Application", FakeApp)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # not this test process's heap
    before = gc.get_threshold()
    application = server._Application(Config(db_url=f"sqlite:///{tmp_path / 'x.db'}"),
                                      {"workers": 1}, "127.0.0.1:1", "server-uuid")
    try:
        application._post_worker_init(SimpleNamespace(wsgi=None, app=SimpleNamespace(wsgi=None)))
        assert gc.get_threshold() == server.GC_THRESHOLDS
        assert server.GC_THRESHOLDS[0] > before[0]
    finally:
        gc.set_threshold(*before)
