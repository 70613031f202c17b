"""Running the app under gunicorn, one engine runtime (and job runner) per worker.

``nimbostack serve`` registers this management server's row once, before
the workers exist (in the child that prepares the database, see
:func:`prepare_database`, or else in the master once its socket is bound);
each worker's runtime attaches to that row, heartbeats it and owns its jobs as
``"<row>/<pid>"``.

Graceful shutdown (SIGTERM) is gunicorn's plus ours: the master closes the
listening socket and tells the workers; each worker finishes its in-flight
requests, then its runtime lets running job steps finish for up to
:data:`JOB_GRACE` seconds and hands the rest back (another server claims them
at once); when every worker is gone the master marks the row Down with its
``stopped_at``. SIGKILL loses nothing committed: peers see the heartbeats stop
and cut the dead server's leases.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from engine.config import Config

log = logging.getLogger("nimbostack.server")

GRACEFUL_TIMEOUT = 30  # seconds gunicorn gives a stopping worker before SIGKILL
JOB_GRACE = 15.0  # of which running jobs may use this much after requests drained
BACKGROUND_DELAY = 0.5  # seconds after a worker is ready before its background work starts
MALLOC_ARENAS = 2  # glibc malloc arenas per process unless MALLOC_ARENA_MAX says otherwise
MALLOC_MMAP_THRESHOLD = 128 * 1024  # bytes: bigger blocks are mapped and unmapped on their own
_M_ARENA_MAX = -8  # mallopt() parameter numbers (glibc malloc.h)
_M_MMAP_THRESHOLD = -3
LISTEN_BACKLOG = 2048  # gunicorn's default
BIND_ATTEMPTS = 5  # tries, a second apart, while the port is in use (as gunicorn does)
# A worker's collector thresholds (see tune_collector); CPython's are (700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)

# The first call a client (or a health probe) makes; a worker can answer it
# with what the master preloaded alone.
FIRST_OPERATION = "DescribeRegions"


def preload() -> None:
    """Import what a worker needs to answer its first EC2 call (the EC2 endpoint,
    the engine services and the action module of :data:`FIRST_OPERATION`, the
    botocore EC2 model and that operation's serializer plan) in this process,
    and configure the ORM mappers.

    Called in the gunicorn master before it forks: workers inherit it
    (copy-on-write) instead of each loading it again. The rest (Flask, the
    CloudStack and metadata front ends, the other action and command modules,
    the host reconciler and the job handlers) stays off the start-up path: each
    worker loads it in the background once it is serving
    (:meth:`nimbostack.wsgi.Application.warm_up`, :meth:`Runtime.start
    <engine.runtime.Runtime.start>`), or when a request needs it first. Nothing
    here opens a database connection or starts a thread; each worker still
    builds its own Runtime after the fork. Idempotent.
    """
    from sqlalchemy.orm import configure_mappers

    import nimbostack.wsgi  # noqa: F401 - and with it the EC2 endpoint
    from awsapi import actions
    from awsapi.model import operation
    from awsapi.protocol import serializer
    from engine.services import accounts, catalog  # noqa: F401 - what that call uses

    # Normally the first query does this; the database may have been prepared
    # in another process (prepare_database), so do it here, once for all workers.
    configure_mappers()
    actions.lookup(FIRST_OPERATION)
    op = operation(FIRST_OPERATION)
    if op is not None:
        serializer.prepare(op)


def preload_database_driver(url: str) -> None:
    """Import the SQLAlchemy dialect and DB-API module of ``url`` (each worker
    would otherwise import them when it builds its runtime). Opens nothing."""
    from sqlalchemy.engine import make_url

    make_url(url).get_dialect().import_dbapi()


def prepare_database(cfg: Config, address: str | None = None, *,
                     listener: socket.socket | None = None) -> Callable[[], str | None]:
    """Start migrating the schema, bootstrapping the embedded default
    (:meth:`Runtime.prepare <engine.runtime.Runtime.prepare>`) and, given an
    ``address``, registering this management server at it; return a function
    that waits for that to end and returns the registered server's uuid (None
    without ``address``), raising :class:`RuntimeError` if anything failed.
    The caller owns the row: it marks it stopped
    (:meth:`Runtime.mark_server_stopped <engine.runtime.Runtime.mark_server_stopped>`).

    The work runs in a forked child process, so that this process meanwhile
    loads the API (:func:`preload`): the two are independent, and on a machine
    with two cores a server answers sooner. On a database that is already
    prepared the child makes a handful of cheap queries. Call it with no
    database connection open and no other thread running (the child gets a copy
    of this process). ``listener``, this process's listening socket (see
    :func:`listen`), is closed in the child at once: only the server holds its
    port. Without ``os.fork`` the work is done before returning.
    """
    from engine.runtime import Runtime

    def run() -> str | None:
        setup = Runtime(cfg)
        try:
            setup.prepare(init=True)
            if address is None:
                return None
            uuid = setup.register_server(address=address)
            setup.attach_server(uuid)  # its owner marks it Down, not this runtime
            return uuid
        finally:
            setup.shutdown()

    if not hasattr(os, "fork"):
        uuid = run()
        return lambda: uuid
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: prepare, report through the pipe and exit status, never return
        code = 1
        try:
            if listener is not None:
                listener.close()
            os.close(read_end)
            uuid = run()
            os.write(write_end, (uuid or "").encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001 - every failure ends the child, reported below
            _log_failure(exc)
        finally:
            logging.shutdown()
            os._exit(code)
    os.close(write_end)

    def wait() -> str | None:
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("preparing the database failed (see the log above)")
        return answer or None

    return wait


def _log_failure(exc: BaseException) -> None:
    """Log why preparing the database failed: one line for an error the
    database reported (unreachable, refused credentials), a traceback else."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        log.error("preparing the database failed: %s", exc.orig)
    else:
        log.error("preparing the database failed", exc_info=exc)


def tune_malloc() -> None:
    """Bound what glibc's malloc holds on to, in this process and the workers
    it forks (a no-op without glibc):

    - at most :data:`MALLOC_ARENAS` arenas (one per busy thread by default,
      each keeping freed memory), unless ``MALLOC_ARENA_MAX`` is set;
    - blocks of :data:`MALLOC_MMAP_THRESHOLD` bytes or more always mapped on
      their own and unmapped when freed, unless ``MALLOC_MMAP_THRESHOLD_`` is
      set. By default glibc raises that threshold to the size of each mapped
      block freed (up to 32 MiB), so after the first big response the
      megabytes of a DescribeInstances page (its text, its list of pieces)
      come from the heap, which then stays fragmented and resident: measured
      on a worker after four 10,000-instance listings, 125-131 MiB against
      116-122 MiB with the fixed threshold.

    ``mallopt`` is looked up among the symbols the interpreter already has
    loaded (``CDLL(None)``), not through ``ctypes.util.find_library``, which
    runs ``ldconfig -p`` in a subprocess (about 15 ms of a server's start-up)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    if not os.environ.get("MALLOC_ARENA_MAX"):  # else glibc read it at start-up
        mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    if not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)


def tune_collector() -> None:
    """Set the collector's thresholds to :data:`GC_THRESHOLDS` in this process.

    A big response keeps tens of thousands of containers alive until it is
    written (a 1,000-instance DescribeInstances page about 19,000): at
    CPython's default a page triggers some 27 young collections, 2-3 of the
    middle generation and, every five pages or so, a full one, about 8 ms of
    the page's ~90 ms CPU; at 10,000 it triggers about one young collection
    and no full one (about 3 ms). Unreachable cycles are still found within
    10,000 net allocations of containers, so a worker's memory stays bounded
    (measured at 10,000 instances: no higher than at the default)."""
    gc.set_threshold(*GC_THRESHOLDS)


def listen(host: str, port: int, *, attempts: int = BIND_ATTEMPTS) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``SO_REUSEADDR``,
    IPv6 for an IPv6 literal), for :func:`run_gunicorn` to serve on.

    ``nimbostack serve`` opens it before it loads anything else: clients that
    connect while the server is still starting wait in the listen backlog and
    are answered by the first worker that is ready, instead of being refused
    and trying again later. While the port is in use it tries ``attempts``
    times, a second apart (as gunicorn does), then raises the ``OSError``."""
    address = host.strip("[]")  # "[::1]" as in a URL
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for attempt in range(1, attempts + 1):
        try:
            return socket.create_server((address, port), family=family, backlog=LISTEN_BACKLOG)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == attempts:
                raise
            log.warning("%s:%s is in use; trying again in 1 s", host, port)
            time.sleep(1)
    raise AssertionError("unreachable")


def service_address(host: str, port: int) -> str:
    """``ip:port`` peers and clients reach this server at."""
    if host in ("", "0.0.0.0", "::"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"{host}:{port}"


class _Application(BaseApplication):  # type: ignore[misc]
    def __init__(self, cfg: Config, options: dict[str, Any], address: str,
                 server_uuid: str | None = None) -> None:
        self._cfg = cfg
        self._options = options
        self._address = address
        self._runtime: Any = None
        self._server_uuid = server_uuid  # registered already (prepare_database), or in when_ready
        self._master_pid = os.getpid()
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._when_ready)
        self.cfg.set("on_exit", self._on_exit)
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("worker_exit", self._worker_exit)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 25's control socket (one path per user, shared by every
            # server on the machine; a thread and asyncio in the master): unused.
            self.cfg.set("control_socket_disable", True)

    # ------------------------------------------------------------ master
    def _when_ready(self, arbiter: Any) -> None:
        if self._server_uuid is None:
            from engine.runtime import Runtime

            registrar = Runtime(self._cfg)
            try:
                self._server_uuid = registrar.register_server(address=self._address)
                registrar.attach_server(self._server_uuid)  # the master marks it Down itself
            finally:
                registrar.shutdown()  # no connection may survive into the forked workers
        log.info("registered management server %s at %s", self._server_uuid, self._address)
        preload()  # done already by ``nimbostack serve``: then a no-op
        preload_database_driver(self._cfg.db_url)
        # What the master holds now lives as long as the workers: keep the
        # collector from scanning it (and from dirtying the shared pages), then
        # turn it back on (``nimbostack serve`` starts with it off). No
        # collection first: start-up leaves only a few hundred cyclic objects
        # behind, not worth the ~0.1 s a full pass over everything loaded costs.
        gc.freeze()
        gc.enable()

    def _on_exit(self, arbiter: Any) -> None:
        self.mark_stopped()

    def mark_stopped(self) -> None:
        """Mark this server's row Down (in the master only; once)."""
        uuid, self._server_uuid = self._server_uuid, None
        if uuid is None or os.getpid() != self._master_pid:
            return
        from engine.runtime import Runtime

        closer = Runtime(self._cfg)
        try:
            closer.mark_server_stopped(uuid)
        finally:
            closer.shutdown()

    # ------------------------------------------------------------ workers
    def _post_worker_init(self, worker: Any) -> None:
        from engine.runtime import Runtime
        from nimbostack.wsgi import Application

        runtime = Runtime(self._cfg)
        if self._server_uuid is not None:
            runtime.attach_server(self._server_uuid)
        app = Application(runtime)
        self._runtime = runtime
        worker.wsgi = app
        worker.app.wsgi = lambda: app
        gc.freeze()  # the app and runtime live as long as the worker
        tune_collector()
        # Heartbeat, job runner and reconciler begin once the worker is serving,
        # and so does loading what the first EC2 call did not need.
        runtime.start(delay=BACKGROUND_DELAY)
        app.warm_up_later(BACKGROUND_DELAY)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._runtime is not None:
            self._runtime.shutdown(job_timeout=JOB_GRACE)

    def load(self) -> Any:
        # The real app is built per worker in post_worker_init (after fork), so
        # database connections and job threads are never shared across processes.
        def placeholder(environ: Any, start_response: Any) -> list[bytes]:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]

        return placeholder


def run_gunicorn(cfg: Config, *, host: str, port: int, workers: int, threads: int,
                 server_uuid: str | None = None, listener: socket.socket | None = None) -> int:
    """Serve under gunicorn until stopped. ``server_uuid`` is this server's row
    when it was registered beforehand (:func:`prepare_database`); it is marked
    Down when the master ends, even if gunicorn never became ready (a port in
    use). Without it the master registers one when its socket is bound.

    ``listener`` is a socket :func:`listen` opened on ``host:port`` already;
    gunicorn takes it over (``fd://``) instead of binding its own."""
    bind = f"fd://{listener.detach()}" if listener is not None else f"{host}:{port}"
    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": None,
        "loglevel": "warning",
        "preload_app": False,
    }
    tune_malloc()
    app = _Application(cfg, options, service_address(host, port), server_uuid)
    try:
        app.run()
    finally:
        # gunicorn exits through SystemExit, in the master and in every forked
        # worker alike; mark_stopped acts in the master only.
        app.mark_stopped()
    return 0
