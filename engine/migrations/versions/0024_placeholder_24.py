"""volumes.client_token and volumes.request_fingerprint: a create request's
idempotency token and the digest of that request (a retry with the same token
returns the same volume; one with other parameters is refused).
snapshots.copied_from_uuid: the snapshot a copy was made from.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('request_fingerprint', sa.String(length=64),
                                      nullable=True))
        batch_op.create_index('ux_volumes_account_client_token',
                              ['account_uuid', 'client_token'], unique=True)
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copied_from_uuid', sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_column('copied_from_uuid')
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index('ux_volumes_account_client_token')
        batch_op.drop_column('request_fingerprint')
        batch_op.drop_column('client_token')
