"""The WSGI application: both API front ends over one engine runtime."""

from __future__ import annotations

from flask import Flask

from engine.config import Config
from engine.runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    """A Flask app serving EC2 at ``/``, CloudStack at ``/client/api`` and instance
    metadata at ``/imds/<instance-id>/`` (loopback callers only)."""
    import awsapi.app
    import imds.app
    import nativeapi.app

    app = Flask("nimbostack")
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    awsapi.app.init_app(app, runtime)
    nativeapi.app.init_app(app, runtime)
    imds.app.init_app(app, runtime)
    return app


def build(config: Config | None = None, *, run_jobs: bool = True) -> tuple[Flask, Runtime]:
    """Open the runtime (schema already migrated) and its app; start the job runner."""
    runtime = Runtime(config or Config())
    runtime.register_server()
    if run_jobs:
        runtime.start_jobs()
    return create_app(runtime), runtime
