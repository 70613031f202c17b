"""Running the app under gunicorn, one engine runtime (and job runner) per worker."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from engine.config import Config

log = logging.getLogger("nimbostack.server")


class _Application(BaseApplication):  # type: ignore[misc]
    def __init__(self, cfg: Config, options: dict[str, Any]) -> None:
        self._cfg = cfg
        self._options = options
        self._runtime: Any = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("worker_exit", self._worker_exit)

    def _post_worker_init(self, worker: Any) -> None:
        from nimbostack.wsgi import build

        app, runtime = build(self._cfg)
        self._runtime = runtime
        worker.wsgi = app
        worker.app.wsgi = lambda: app  # noqa: ARG005

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._runtime is not None:
            self._runtime.shutdown()

    def load(self) -> Any:
        # The real app is built per worker in post_worker_init (after fork), so
        # database connections and job threads are never shared across processes.
        def placeholder(environ: Any, start_response: Any) -> list[bytes]:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]

        return placeholder


def run_gunicorn(cfg: Config, *, host: str, port: int, workers: int, threads: int) -> int:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": None,
        "loglevel": "warning",
        "preload_app": False,
    }
    _Application(cfg, options).run()
    return 0
