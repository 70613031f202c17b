"""The WSGI application: both API front ends over one engine runtime.

:func:`create_app` builds the whole Flask app (EC2 at ``/`` mounted ahead of
it). A server uses :class:`Application` instead: it answers EC2 (``GET`` and
``POST /``) with the plain WSGI endpoint at once and builds the Flask app,
which serves everything else, only when it is first needed or when
:meth:`Application.warm_up` runs, so a freshly started worker answers EC2
before Flask and the CloudStack and metadata front ends are even imported.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from awsapi.app import CredentialCache, Ec2Endpoint, is_ec2_request
from engine.config import Config
from engine.runtime import Runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask import Flask

log = logging.getLogger("nimbostack.wsgi")

MAX_CONTENT_LENGTH = 32 * 1024 * 1024  # bytes of a request body, on every API

# Operations whose serialization plans a warming server builds ahead of use.
BUSY_OPERATIONS = ("DescribeRegions", "DescribeAvailabilityZones", "DescribeInstances",
                   "RunInstances", "TerminateInstances", "DescribeImages")


def create_app(runtime: Runtime, endpoint: Ec2Endpoint | None = None) -> Flask:
    """A Flask app serving EC2 at ``/`` (``endpoint``, by default a new one),
    CloudStack at ``/client/api`` and instance metadata at ``/imds/<instance-id>/``
    (loopback callers only)."""
    from flask import Flask

    import awsapi.app
    import imds.app
    import nativeapi.app

    app = Flask("nimbostack")
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    awsapi.app.init_app(app, runtime, endpoint)
    nativeapi.app.init_app(app, runtime)
    imds.app.init_app(app, runtime)
    return app


class Application:
    """The served WSGI application: ``GET``/``POST /`` straight to the EC2
    endpoint, every other request to the Flask app of :func:`create_app`
    (sharing the endpoint and its credential cache).

    The Flask app is built exactly once, by whichever comes first of the first
    non-EC2 request and :meth:`warm_up`; concurrent callers wait for that one
    build. A failed build is retried by the next caller.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.endpoint = Ec2Endpoint(runtime, CredentialCache(runtime),
                                    max_body=lambda: MAX_CONTENT_LENGTH)
        self._flask: Flask | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if is_ec2_request(environ):
            return self.endpoint(environ, start_response)
        return self.flask_app()(environ, start_response)

    def flask_app(self) -> Flask:
        """The Flask app, built on the first call (thread-safe, built once)."""
        app = self._flask
        if app is None:
            with self._lock:
                app = self._flask
                if app is None:
                    app = self._flask = create_app(self.runtime, self.endpoint)
        return app

    def warm_up(self) -> None:
        """Load now what the first requests would otherwise load: the Flask app
        and its front ends, every EC2 action and CloudStack command module and
        the busiest operations' serializer plans. Idempotent and thread-safe.

        Everything loaded here lives as long as the process, so it is then
        moved out of the collector's reach (``gc.freeze``): the full
        collections a big DescribeInstances page triggers no longer rescan
        the modules and plans loaded here (tens of thousands of objects)."""
        from awsapi import actions
        from awsapi.model import operation
        from awsapi.protocol import serializer

        self.flask_app()
        actions.load_all()
        from nativeapi import commands

        commands.load()
        for name in BUSY_OPERATIONS:
            op = operation(name)
            if op is not None:
                serializer.prepare(op)
        gc.freeze()

    def warm_up_later(self, delay: float) -> threading.Thread:
        """Run :meth:`warm_up` in a daemon thread after ``delay`` seconds (errors
        are logged: the requests that need the pieces load them themselves)."""
        def run() -> None:
            time.sleep(delay)
            try:
                self.warm_up()
            except Exception:
                log.exception("warming up the application failed")

        thread = threading.Thread(target=run, name="nimbostack-warm-up", daemon=True)
        thread.start()
        return thread


def build(config: Config | None = None, *, run_jobs: bool = True) -> tuple[Flask, Runtime]:
    """Open the runtime (schema already migrated) and its app; start the job runner."""
    runtime = Runtime(config or Config())
    runtime.register_server()
    if run_jobs:
        runtime.start_jobs()
    return create_app(runtime), runtime
