"""VM snapshots (CloudStack createVMSnapshot) and their per-volume members

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'vm_snapshots',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('sid', sa.String(length=17), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('display_name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('account_uuid', sa.String(length=36), nullable=False),
        sa.Column('zone_uuid', sa.String(length=36), nullable=False),
        sa.Column('instance_uuid', sa.String(length=36), nullable=False),
        sa.Column('parent_uuid', sa.String(length=36), nullable=True),
        sa.Column('current', sa.Boolean(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('quiesce', sa.Boolean(), nullable=False),
        sa.Column('created_at', _TIMESTAMP, nullable=False),
        sa.Column('removed_at', _TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid'], ),
        sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], ),
        sa.ForeignKeyConstraint(['zone_uuid'], ['zones.uuid'], ),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('sid'),
    )
    with op.batch_alter_table('vm_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_vm_snapshots_account_created',
                              ['account_uuid', 'created_at', 'uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_vm_snapshots_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_vm_snapshots_instance_uuid'), ['instance_uuid'],
                              unique=False)

    op.create_table(
        'vm_snapshot_disks',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('vm_snapshot_uuid', sa.String(length=36), nullable=False),
        sa.Column('volume_uuid', sa.String(length=36), nullable=False),
        sa.Column('disk_sid', sa.String(length=17), nullable=False),
        sa.Column('snapshot_sid', sa.String(length=40), nullable=False),
        sa.Column('pool_uuid', sa.String(length=36), nullable=True),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('created_at', _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['vm_snapshot_uuid'], ['vm_snapshots.uuid'],
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('snapshot_sid'),
    )
    with op.batch_alter_table('vm_snapshot_disks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vm_snapshot_disks_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_vm_snapshot_disks_vm_snapshot_uuid'),
                              ['vm_snapshot_uuid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vm_snapshot_disks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vm_snapshot_disks_vm_snapshot_uuid'))
        batch_op.drop_index(batch_op.f('ix_vm_snapshot_disks_created_at'))
    op.drop_table('vm_snapshot_disks')
    with op.batch_alter_table('vm_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vm_snapshots_instance_uuid'))
        batch_op.drop_index(batch_op.f('ix_vm_snapshots_created_at'))
        batch_op.drop_index('ix_vm_snapshots_account_created')
    op.drop_table('vm_snapshots')
