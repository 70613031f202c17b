"""The served WSGI application: EC2 answered without Flask, Flask built once, lazily."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from nimbostack import wsgi


def _environ(method: str, path: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
            "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1"}


class _Recorder:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = status
        self.headers = dict(headers)
        return lambda data: None


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> wsgi.Application:
    built: list[object] = []

    def fake_create_app(runtime: Any, endpoint: Any = None) -> Any:
        built.append(endpoint)

        def flask_like(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("404 NOT FOUND", [("Content-Type", "text/html")])
            return [b"flask"]

        return flask_like

    monkeypatch.setattr(wsgi, "create_app", fake_create_app)
    runtime = SimpleNamespace(config=SimpleNamespace(region="us-east-1"))
    application = wsgi.Application(runtime)  # type: ignore[arg-type]
    application.built = built  # type: ignore[attr-defined]
    return application


def test_ec2_requests_never_build_the_flask_app(app: wsgi.Application) -> None:
    for method in ("GET", "POST"):
        rec = _Recorder()
        body = b"".join(app(_environ(method, "/"), rec))
        assert rec.status.startswith("4")  # unsigned: refused by the EC2 endpoint
        assert b"<Response><Errors><Error><Code>" in body
        assert rec.headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert app.built == []  # type: ignore[attr-defined]


def test_other_requests_go_to_the_flask_app_built_once_with_the_same_endpoint(
        app: wsgi.Application) -> None:
    for method, path in (("GET", "/client/api"), ("HEAD", "/"), ("GET", "/imds/i-1/")):
        rec = _Recorder()
        assert b"".join(app(_environ(method, path), rec)) == b"flask"
    assert app.built == [app.endpoint]  # type: ignore[attr-defined]


def test_concurrent_first_requests_build_the_flask_app_once(app: wsgi.Application) -> None:
    barrier = threading.Barrier(8)
    results: list[object] = []

    def first() -> None:
        barrier.wait()
        results.append(app.flask_app())

    threads = [threading.Thread(target=first) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(app.built) == 1  # type: ignore[attr-defined]
    assert len({id(r) for r in results}) == 1


def test_the_ec2_path_imports_no_flask_or_werkzeug() -> None:
    code = ("import sys, nimbostack.wsgi, awsapi.app, engine.services; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'werkzeug', 'nativeapi', 'imds', 'cryptography')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_importing_the_services_bundle_imports_no_service() -> None:
    code = ("import sys, engine.services; "
            "print(sorted(m for m in sys.modules if m.startswith('engine.services.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
