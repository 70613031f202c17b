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


@dataclass
class _Template:
    """This process's bootstrapped database, which copies are made from."""

    url: str
    simulator_db: Path
    ddl: list[str]  # MariaDB: CREATE TABLE statements, in the order shown
    tables: list[str]  # MariaDB: the tables holding rows


_template: _Template | None = None
_template_lock = threading.Lock()


def _build_template() -> _Template:
    import atexit
    import shutil
    import tempfile

    from engine.runtime import Runtime

    home = Path(tempfile.mkdtemp(prefix="nimbostack-template-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # gone when the process ends
    url = new_database_url(home)
    runtime = Runtime(make_config(url, home))
    try:
        runtime.prepare()
    finally:
        runtime.shutdown()
    ddl: list[str] = []
    tables: list[str] = []
    if BACKEND == "mysql":
        conn = _mysql_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW TABLES")
                for (table,) in cur.fetchall():
                    cur.execute(f"SHOW CREATE TABLE `{table}`")
                    ddl.append(cur.fetchone()[1])
                    cur.execute(f"SELECT 1 FROM `{table}` LIMIT 1")
                    if cur.fetchone():
                        tables.append(table)
        finally:
            conn.close()
    return _Template(url, home / "simulator" / "simulator.sqlite3", ddl, tables)


def _mysql_connect(url: str):  # type: ignore[no-untyped-def]
    import pymysql

    u = make_url(url)
    return pymysql.connect(host=u.host, port=u.port or 3306, user=u.username,
                           password=u.password or "", database=u.database)


def _sqlite_copy(source: str | Path, target: Path) -> None:
    import sqlite3

    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def bootstrapped_database_url(home: Path) -> str:
    """A new database that already holds the schema and the embedded default,
    with ``home / "simulator"`` holding its simulated hosts, as
    ``Runtime(make_config(url, home)).prepare()`` would leave them (so that
    ``prepare`` finds it current and does nothing).

    It is a copy of one this process bootstrapped once: building the schema
    and the default through the ORM costs about a second per test on MariaDB,
    a copy a tenth of that. Tests of the bootstrap or of migrations take
    :func:`new_database_url` (an empty database) instead.
    """
    global _template
    with _template_lock:
        if _template is None:
            _template = _build_template()
    tmpl = _template
    _sqlite_copy(tmpl.simulator_db, home / "simulator" / "simulator.sqlite3")
    url = new_database_url(home)
    if BACKEND != "mysql":
        _sqlite_copy(make_url(tmpl.url).database or "", Path(make_url(url).database or ""))
        return url
    source = make_url(tmpl.url).database
    conn = _mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET FOREIGN_KEY_CHECKS=0")
            for statement in tmpl.ddl:
                cur.execute(statement)
            for table in tmpl.tables:
                cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{source}`.`{table}`")
        conn.commit()
    finally:
        conn.close()
    return url


def make_config(db_url: str, home: Path, **overrides: Any):  # type: ignore[no-untyped-def]
    from engine.config import Config

    cfg = Config(db_url=db_url)
    cfg.simulator_dir = home / "simulator"
    cfg.job_poll_seconds = 0.02
    # One process per test server: no other runner to leave jobs to.
    cfg.job_yield_seconds = 0.0
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
    """Serve ``db_url`` (prepared first: migrated and bootstrapped unless
    already) with ``home`` as the server's home."""
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


