"""Alembic environment: runs migrations on the connection handed in by engine.schema."""

from __future__ import annotations

from alembic import context

from engine.db import Base
from engine.models import load_all

load_all()  # every table on Base.metadata

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:  # offline mode: emit SQL for the configured URL
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
