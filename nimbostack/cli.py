"""The ``nimbostack`` command: serve, init, db upgrade, keys, version."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from engine.config import Config, default_db_url
from nimbostack import logs

log = logging.getLogger("nimbostack")


def _version() -> str:
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
    return cfg


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.runtime import Runtime

    cfg = _config(args)
    setup = Runtime(cfg)
    setup.prepare(init=True)
    setup.shutdown()
    log.info("serving EC2 at http://%s:%s/ and CloudStack at /client/api", args.host, args.port)
    if args.dev:
        from nimbostack.wsgi import build

        app, runtime = build(cfg)
        try:
            app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
        finally:
            runtime.shutdown()
        return 0
    from nimbostack.server import run_gunicorn

    return run_gunicorn(cfg, host=args.host, port=args.port, workers=args.workers,
                        threads=args.threads)


def cmd_init(args: argparse.Namespace) -> int:
    from engine.bootstrap import BootstrapOptions
    from engine.runtime import Runtime

    cfg = _config(args)
    runtime = Runtime(cfg)
    opts = BootstrapOptions.from_env(region=args.region, zone=args.zone, hosts=args.hosts,
                                     simulator_dir=str(cfg.simulator_dir))
    runtime.prepare(init=True, options=opts)
    runtime.shutdown()
    print(f"initialized region {opts.region}, zone {opts.zone}")
    return 0


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
