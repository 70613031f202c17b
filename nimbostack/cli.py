"""The ``nimbostack`` command: serve, init, db upgrade, keys, status, host add, version."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from typing import Any

from engine.config import Config, default_db_url
from nimbostack import logs

log = logging.getLogger("nimbostack")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nimbostack")
    except PackageNotFoundError:
        return "0.0.0+local"


def _config(args: argparse.Namespace) -> Config:
    cfg = Config(db_url=getattr(args, "db_url", None) or default_db_url())
    workers = os.environ.get("NIMBOSTACK_JOB_WORKERS")
    if workers:
        cfg.job_workers = int(workers)
    lease = os.environ.get("NIMBOSTACK_JOB_LEASE")
    if lease:
        cfg.job_lease_seconds = float(lease)
    if os.environ.get("NIMBOSTACK_RECONCILE", "1") == "0":
        cfg.reconcile = False
    return cfg


def cmd_serve(args: argparse.Namespace) -> int:
    """Migrate and bootstrap the database, then serve (gunicorn, or Flask's
    server with ``--dev``).

    The cyclic garbage collector is off while the server starts: importing the
    engine and the front ends creates a few million objects and almost no
    garbage, and the collector would scan them over and over (about a sixth of
    the start-up). The gunicorn master turns it back on, after freezing what it
    loaded, before it forks the workers (:mod:`nimbostack.server`).
    """
    gc.disable()
    try:
        return _serve(args)
    finally:
        gc.enable()


def _serve(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.dev:
        return _serve_dev(cfg, args)
    from nimbostack.server import listen, preload, prepare_database, run_gunicorn, service_address

    # Listen first: a client connecting while the rest loads waits for the
    # first worker instead of being refused (and retrying some time later).
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        print(f"nimbostack serve: cannot listen on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 1
    from sqlalchemy.orm import configure_mappers

    import engine.runtime  # noqa: F401 - the ORM: both branches below need it, load it once

    configure_mappers()  # both need it too (registering the server is an ORM query)

    # Preparing the database and registering this server (in a child process)
    # and loading the API (here) are independent: they overlap.
    prepared = prepare_database(cfg, service_address(args.host, args.port), listener=listener)
    try:
        preload()
    finally:
        try:
            server_uuid = prepared()
        except RuntimeError as exc:
            listener.close()
            print(f"nimbostack serve: {exc}", file=sys.stderr)
            return 1
    log.info("serving EC2 at http://%s:%s/ and CloudStack at /client/api", args.host, args.port)
    return run_gunicorn(cfg, host=args.host, port=args.port, workers=args.workers,
                        threads=args.threads, server_uuid=server_uuid, listener=listener)


def _serve_dev(cfg: Config, args: argparse.Namespace) -> int:
    """Flask's single-process server (``serve --dev``)."""
    from engine.runtime import Runtime
    from nimbostack.server import service_address
    from nimbostack.wsgi import create_app

    setup = Runtime(cfg)
    setup.prepare(init=True)
    setup.shutdown()
    runtime = Runtime(cfg)
    runtime.register_server(address=service_address(args.host, args.port))
    runtime.start()
    app = create_app(runtime)
    gc.enable()
    log.info("serving EC2 at http://%s:%s/ and CloudStack at /client/api", args.host, args.port)
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    finally:
        runtime.shutdown()
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from engine.bootstrap import BootstrapOptions
    from engine.runtime import Runtime

    cfg = _config(args)
    runtime = Runtime(cfg)
    opts = BootstrapOptions.from_env(region=args.region, zone=args.zone, hosts=args.hosts,
                                     simulator_dir=str(cfg.simulator_dir))
    runtime.prepare(init=True, options=opts)
    runtime.shutdown()
    _warm_model_cache()
    print(f"initialized region {opts.region}, zone {opts.zone}")
    return 0


def _warm_model_cache() -> None:
    """Parse the EC2 model once now, so that its cache under the home directory
    (see :mod:`awsapi.model`) spares the first ``serve`` the parsing."""
    try:
        from awsapi.model import service_model

        service_model()
    except Exception as exc:  # noqa: BLE001 - only an optimisation
        log.debug("EC2 model cache not written: %s", exc)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine import schema
    from engine.db import connect

    db = connect(_config(args).db_url)
    try:
        schema.upgrade(db)
    finally:
        db.dispose()
    print(f"schema at revision {schema.head_revision()}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from engine.runtime import Runtime

    runtime = Runtime(_config(args))
    runtime.prepare(init=True)
    with runtime.unit(readonly=True) as services:
        user = services.accounts.user_by_name(args.user)
        print(f"AWS_ACCESS_KEY_ID={user.api_key}")
        print(f"AWS_SECRET_ACCESS_KEY={user.secret_key}")
    runtime.shutdown()
    return 0


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def cmd_status(args: argparse.Namespace) -> int:
    """Servers with state and heartbeat age, jobs by status, hosts by state.
    Exit 0 when the database answered, 1 when it did not."""
    from engine.db import connect
    from engine.services.management_servers import ManagementServerService
    from engine.uow import unit_of_work

    db = connect(_config(args).db_url)
    try:
        with unit_of_work(db.read_session) as s:
            registry = ManagementServerService(s)
            summary = registry.summary()
            pending = registry.pending_jobs()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        print(f"database unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print("management servers:")
    print(f"  {'id':36}  {'name':20} {'address':21} {'state':5} {'heartbeat':>9} "
          f"{'jobs':>4}  version")
    for m in summary.servers:
        age = (summary.now - m.heartbeat_at).total_seconds() if m.heartbeat_at else None
        print(f"  {m.uuid:36}  {m.name[:20]:20} {m.address[:21]:21} {m.state:5} "
              f"{_age(age):>9} {pending.get(m.uuid, 0):>4}  {m.version}")
    print("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.jobs.items()))
                      or "none"))
    print("hosts: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.hosts.items()))
                       or "none"))
    return 0


def cmd_host_add(args: argparse.Namespace) -> int:
    """Register a hypervisor host through the engine's inventory; print its id and name.
    Zone, pod and cluster are names or ids; an unknown cluster name is created."""
    from engine.errors import EngineError, NotFound, ResourceKind
    from engine.runtime import Runtime
    from engine.services.inventory import HostRequest

    runtime = Runtime(_config(args))
    try:
        with runtime.unit() as services:
            zones = [z for z, _ in services.catalog.zones()]
            zone = next((z for z in zones if args.zone in (z.uuid, z.name)), None)
            if zone is None:
                raise NotFound(ResourceKind.ZONE, args.zone)
            pod = next((d.pod for d in services.inventory.pods(zone_uuid=zone.uuid)
                        if args.pod in (d.pod.uuid, d.pod.name)), None)
            if pod is None:
                raise NotFound(ResourceKind.POD, args.pod)
            cluster = next((d.cluster for d in services.inventory.clusters(pod_uuid=pod.uuid)
                            if args.cluster in (d.cluster.uuid, d.cluster.name)), None)
            detail = services.inventory.register_host(
                HostRequest(zone.uuid, pod.uuid, cluster.uuid if cluster else "", args.url,
                            args.username, args.password),
                cluster_name=args.cluster, hypervisor=args.hypervisor)
            host_id, host_name = detail.host.uuid, detail.host.name
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        runtime.shutdown()
    print(f"{host_id} {host_name}")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    print(f"nimbostack {_version()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nimbostack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db-url", help="SQLAlchemy URL (default: NIMBOSTACK_DB_URL or SQLite)")

    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("NIMBOSTACK_WORKERS", "2")))
    serve.add_argument("--threads", type=int, default=4)
    serve.add_argument("--dev", action="store_true", help="single-process debug server")
    db_option(serve)
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", help="create the schema and the embedded default (idempotent)")
    init.add_argument("--region", default="us-east-1")
    init.add_argument("--zone", default=None)
    init.add_argument("--hosts", type=int, default=None)
    db_option(init)
    init.set_defaults(func=cmd_init)

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations")
    db_option(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)

    keys = sub.add_parser("keys", help="print the admin's API keys as AWS_* variables")
    keys.add_argument("--user", default="admin")
    db_option(keys)
    keys.set_defaults(func=cmd_keys)

    status = sub.add_parser("status", help="management servers, jobs and hosts of the database")
    db_option(status)
    status.set_defaults(func=cmd_status)

    host = sub.add_parser("host", help="hypervisor hosts")
    host_sub = host.add_subparsers(dest="host_command", required=True)
    add = host_sub.add_parser("add", help="register a hypervisor host (prints its id and name)")
    add.add_argument("--zone", required=True, help="zone name or id")
    add.add_argument("--pod", required=True, help="pod name or id (in the zone)")
    add.add_argument("--cluster", required=True,
                     help="cluster name or id (in the pod; a new name creates it)")
    add.add_argument("--hypervisor", required=True, help="e.g. Simulator, KVM")
    add.add_argument("--url", required=True, help="the host's URL, e.g. sim://host-9")
    add.add_argument("--username")
    add.add_argument("--password")
    db_option(add)
    add.set_defaults(func=cmd_host_add)

    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "init" and args.zone is None:
        args.zone = f"{args.region}a"
    logs.configure(os.environ.get("NIMBOSTACK_LOG_LEVEL", "INFO"))
    result: Any = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
