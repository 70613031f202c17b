"""A fresh database built from the models is stamped at the head without Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from engine import schema
from engine.db import connect

_REPO = Path(__file__).resolve().parents[3]


def test_fresh_database_is_stamped_at_the_head_alembic_agrees(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        schema.upgrade(db)
        assert schema.is_current(db)
        with db.engine.connect() as conn:
            assert schema.current_revision(conn) == schema.head_revision()
            pk = inspect(conn).get_pk_constraint("alembic_version")
            assert pk["constrained_columns"] == ["version_num"]
            assert pk["name"] in ("alembic_version_pkc", None)  # SQLite may not report names
        schema.upgrade(db, from_models=False)  # Alembic itself finds nothing to do
        assert schema.is_current(db)
    finally:
        db.dispose()


def test_building_and_checking_a_database_never_imports_alembic(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from engine import schema\n"
        "from engine.db import connect\n"
        f"db = connect('sqlite:///{tmp_path / 'fresh.db'}')\n"
        "schema.upgrade(db)\n"
        "schema.upgrade(db)\n"
        "print(schema.is_current(db), 'alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=_REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["True", "False"]
