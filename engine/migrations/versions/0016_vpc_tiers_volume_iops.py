"""Volume IOPS/throughput: the provisioned performance kept on each volume

Two nullable columns on ``volumes``: ``iops`` and ``throughput`` (MiB/s).
The file name is historical; this revision holds nothing else.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('iops', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('throughput', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_column('throughput')
        batch_op.drop_column('iops')
