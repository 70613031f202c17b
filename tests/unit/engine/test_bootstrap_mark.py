"""A bootstrapped database is recognised in one query; a new generation bootstraps again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import bootstrap_mark
from engine.config import Config
from engine.runtime import Runtime

_REPO = Path(__file__).resolve().parents[3]


def _runtime(tmp_path: Path) -> Runtime:
    return Runtime(Config(db_url=f"sqlite:///{tmp_path / 'x.db'}", simulator_dir=tmp_path / "sim"))


def test_generation_is_a_stable_positive_bigint() -> None:
    gen = bootstrap_mark.generation()
    assert 0 < gen < 2**63
    bootstrap_mark.generation.cache_clear()
    assert bootstrap_mark.generation() == gen


def test_prepare_marks_the_database_and_then_skips_the_bootstrap(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        with runtime.db.engine.connect() as conn:
            runtime.prepare()
            assert bootstrap_mark.is_current(conn)
            conn.rollback()
            conn.execute(text("DELETE FROM disk_offerings WHERE name = 'Custom'"))
            conn.commit()
        runtime.prepare()  # current: nothing is re-added
        with runtime.db.engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM disk_offerings")).scalars().all()
        assert "Custom" not in names
    finally:
        runtime.shutdown()


def test_a_new_generation_bootstraps_again(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _runtime(tmp_path)
    try:
        runtime.prepare()
        with runtime.db.engine.connect() as conn:
            conn.execute(text("DELETE FROM disk_offerings WHERE name = 'Custom'"))
            conn.commit()
        monkeypatch.setattr(bootstrap_mark, "generation", lambda: 12345)
        runtime.prepare()  # the code's default changed: what is missing is added
        with runtime.db.engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM disk_offerings")).scalars().all()
            stored = conn.execute(text("SELECT next_value FROM sequences WHERE name = :n"),
                                  {"n": bootstrap_mark.MARK}).scalar()
        assert "Custom" in names
        assert stored == 12345
    finally:
        runtime.shutdown()


def test_preparing_a_prepared_database_does_not_import_the_bootstrap(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    runtime.prepare()
    runtime.shutdown()
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from engine.config import Config\n"
            "from engine.runtime import Runtime\n"
            f"r = Runtime(Config(db_url='sqlite:///{tmp_path / 'x.db'}', "
            f"simulator_dir=Path({str(tmp_path / 'sim')!r})))\n"
            "r.prepare()\n"
            "r.shutdown()\n"
            "print('engine.bootstrap' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=_REPO).stdout.strip()
    assert out == "False"
