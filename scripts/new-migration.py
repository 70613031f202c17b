"""Generate an Alembic revision from the models (developer tool).

usage: python scripts/new-migration.py "message" REV_ID
Compares the models with a scratch SQLite database migrated to head.
"""

import sys
import tempfile

from alembic import command

from engine.db import connect
from engine.schema import alembic_config

message, rev_id = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as d:
    url = f"sqlite:///{d}/scratch.db"
    db = connect(url)
    cfg = alembic_config(url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        conn.commit()
