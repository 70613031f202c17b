"""Per-instance guest settings and reverse DNS of addresses:
instances.guest_shutdown_action ("stop"/"destroy": what a shutdown from
inside the guest does), instances.hibernation_enabled, and
public_ips.reverse_dns_name (the PTR name the holder set; NULL: the default).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of instances would drop a table other
    # tables' foreign keys point at, which SQLite refuses once rows exist.
    op.add_column('instances', sa.Column('guest_shutdown_action', sa.String(length=16),
                                         nullable=False, server_default='stop'))
    op.add_column('instances', sa.Column('hibernation_enabled', sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.add_column('public_ips', sa.Column('reverse_dns_name', sa.String(length=255),
                                          nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('public_ips', schema=None) as batch_op:
        batch_op.drop_column('reverse_dns_name')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('hibernation_enabled')
        batch_op.drop_column('guest_shutdown_action')
