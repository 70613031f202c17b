"""The ``nimbostack`` command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import new_database_url


def _run(args: list[str], home: Path, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NIMBOSTACK_HOME": str(home), "NIMBOSTACK_DB_URL": db_url, **env}
    return subprocess.run([sys.executable, "-m", "nimbostack", *args], env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_version(tmp_path: Path) -> None:
    out = _run(["version"], tmp_path, "sqlite:///unused")
    assert out.returncode == 0
    assert out.stdout.startswith("nimbostack ")


def test_init_is_idempotent_and_keys_come_from_the_environment(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    env = {"NIMBOSTACK_ADMIN_ACCESS_KEY": "AKIATESTTESTTEST0001",
           "NIMBOSTACK_ADMIN_SECRET_KEY": "s3cr3t-value-for-the-admin-user-000000"}
    first = _run(["init", "--zone", "lab-1a", "--hosts", "2"], tmp_path, url, **env)
    assert first.returncode == 0, first.stderr
    again = _run(["init", "--zone", "lab-1a", "--hosts", "2"], tmp_path, url, **env)
    assert again.returncode == 0, again.stderr
    keys = _run(["keys"], tmp_path, url)
    assert keys.returncode == 0, keys.stderr
    assert keys.stdout.splitlines() == [f"AWS_ACCESS_KEY_ID={env['NIMBOSTACK_ADMIN_ACCESS_KEY']}",
                                        f"AWS_SECRET_ACCESS_KEY={env['NIMBOSTACK_ADMIN_SECRET_KEY']}"]
    # The secret never reaches the logs.
    for proc in (first, again, keys):
        assert env["NIMBOSTACK_ADMIN_SECRET_KEY"] not in proc.stderr

    from sqlalchemy import func, select

    from engine.db import connect
    from engine.models import Host, ServiceOffering, Zone
    db = connect(url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Zone)) == 1
        assert s.scalar(select(func.count()).select_from(Host)) == 2
        assert s.scalar(select(func.count()).select_from(ServiceOffering).where(
            ServiceOffering.name == "t3.micro")) == 1
    db.dispose()


def test_db_upgrade_reports_the_head_revision(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    out = _run(["db", "upgrade"], tmp_path, url)
    assert out.returncode == 0, out.stderr
    from engine.schema import head_revision
    assert out.stdout.strip() == f"schema at revision {head_revision()}"
