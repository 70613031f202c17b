"""Test support: a fresh database per use, on SQLite or the throwaway MariaDB,
and a live server (both APIs, real job runner, simulator hosts) on loopback.

``NIMBOSTACK_TEST_DB=mysql`` (with ``NIMBOSTACK_TEST_MYSQL_URL``, set by
``scripts/test.sh``) runs everything on MariaDB; the default is SQLite.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

BACKEND = os.environ.get("NIMBOSTACK_TEST_DB", "sqlite")
_counter = itertools.count()


def _mysql_admin_url() -> str:
    url = os.environ.get("NIMBOSTACK_TEST_MYSQL_URL")
    if not url:
        pytest.skip("NIMBOSTACK_TEST_MYSQL_URL is not set (run scripts/test.sh)")
    return url


def new_database_url(tmp: Path) -> str:
    """A URL naming a new, empty database on the backend under test."""
    if BACKEND != "mysql":
        return f"sqlite:///{tmp / f'db{next(_counter)}.sqlite'}"
    import pymysql

    base = make_url(_mysql_admin_url())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    # The random part keeps names unique even if this module is loaded twice.
    name = f"nimbostack_t{worker}_{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}"
    conn = pymysql.connect(host=base.host, port=base.port or 3306, user=base.username,
                           password=base.password or "")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


def make_config(db_url: str, home: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    from engine.config import Config

    cfg = Config(db_url=db_url)
    cfg.simulator_dir = home / "simulator"
    cfg.job_poll_seconds = 0.02
    # Tests change simulated hosts behind the engine's back; those that want the
    # reconciler pass reconcile=True (or run one themselves).
    cfg.reconcile = False
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@dataclass
class LiveServer:
    url: str
    port: int
    access_key: str
    secret_key: str
    runtime: Any
    region: str = "us-east-1"

    def ec2(self, access_key: str | None = None, secret_key: str | None = None):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "ec2", endpoint_url=self.url, region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key)

    @property
    def cloudstack_url(self) -> str:
        return f"{self.url}/client/api"

    def new_user(self, name: str, role: str = "user") -> tuple[str, str]:
        """Create an account (in ROOT) with one user; return its (access, secret) keys."""
        from engine.states import Role

        with self.runtime.unit() as services:
            _, user = services.accounts.create_account(name, Role(role))
            return user.api_key, user.secret_key


def start_live_server(db_url: str, home: Path) -> tuple[LiveServer, Any]:
    from werkzeug.serving import make_server

    from engine.runtime import Runtime
    from nimbostack.wsgi import create_app

    runtime = Runtime(make_config(db_url, home))
    runtime.prepare()
    runtime.register_server()
    runtime.start_jobs()
    app = create_app(runtime)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with runtime.unit(readonly=True) as services:
        admin = services.accounts.user_by_name("admin")
        keys = (admin.api_key, admin.secret_key)
    server = LiveServer(f"http://127.0.0.1:{httpd.server_port}", httpd.server_port, *keys,
                        runtime=runtime)
    return server, httpd


