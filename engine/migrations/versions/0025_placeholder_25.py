"""templates.client_token and templates.request_fingerprint: a copy request's
idempotency token and the digest of that request (a retry with the same token
returns the same template; one with other parameters is refused).
snapshots.is_public and the snapshot_permissions table: who besides the owner
may make volumes from a snapshot.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb') \
    .with_variant(mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_fingerprint', sa.String(length=64),
                                      nullable=True))
        batch_op.create_index('ux_templates_account_client_token',
                              ['account_uuid', 'client_token'], unique=True)
    # A plain ADD COLUMN: a batch rebuild of snapshots would drop a table that
    # other rows point at, which SQLite refuses with foreign keys on.
    op.add_column('snapshots', sa.Column('is_public', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.create_table(
        'snapshot_permissions',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('snapshot_uuid', sa.String(length=36), nullable=False),
        sa.Column('account_uuid', sa.String(length=36), nullable=False),
        sa.Column('created_at', _DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid'], ),
        sa.ForeignKeyConstraint(['snapshot_uuid'], ['snapshots.uuid'], ),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('snapshot_uuid', 'account_uuid'),
    )
    with op.batch_alter_table('snapshot_permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_permissions_account_uuid'),
                              ['account_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_snapshot_permissions_created_at'),
                              ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_snapshot_permissions_snapshot_uuid'),
                              ['snapshot_uuid'], unique=False)


def downgrade() -> None:
    op.drop_table('snapshot_permissions')
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_column('is_public')
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_index('ux_templates_account_client_token')
        batch_op.drop_column('request_fingerprint')
        batch_op.drop_column('client_token')
