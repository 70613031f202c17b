"""Load balancer rules and their members; IP forwarding (one-to-one NAT) rules

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'load_balancer_rules',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('sid', sa.String(length=17), nullable=False),
        sa.Column('account_uuid', sa.String(length=36), nullable=False),
        sa.Column('public_ip_uuid', sa.String(length=36), nullable=False),
        sa.Column('network_uuid', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('algorithm', sa.String(length=32), nullable=False),
        sa.Column('protocol', sa.String(length=32), nullable=False),
        sa.Column('public_port', sa.Integer(), nullable=False),
        sa.Column('private_port', sa.Integer(), nullable=False),
        sa.Column('cidr_list', sa.String(length=255), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('for_display', sa.Boolean(), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid']),
        sa.ForeignKeyConstraint(['network_uuid'], ['networks.uuid']),
        sa.ForeignKeyConstraint(['public_ip_uuid'], ['public_ips.uuid']),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('sid'),
    )
    with op.batch_alter_table('load_balancer_rules', schema=None) as batch_op:
        for column in ('account_uuid', 'public_ip_uuid', 'network_uuid', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_load_balancer_rules_{column}'), [column],
                                  unique=False)

    op.create_table(
        'load_balancer_members',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('rule_uuid', sa.String(length=36), nullable=False),
        sa.Column('instance_uuid', sa.String(length=36), nullable=False),
        sa.Column('instance_ip', sa.String(length=64), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid']),
        sa.ForeignKeyConstraint(['rule_uuid'], ['load_balancer_rules.uuid']),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('rule_uuid', 'instance_uuid', 'instance_ip'),
    )
    with op.batch_alter_table('load_balancer_members', schema=None) as batch_op:
        for column in ('rule_uuid', 'instance_uuid', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_load_balancer_members_{column}'), [column],
                                  unique=False)

    op.create_table(
        'ip_forwarding_rules',
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('sid', sa.String(length=17), nullable=False),
        sa.Column('account_uuid', sa.String(length=36), nullable=False),
        sa.Column('public_ip_uuid', sa.String(length=36), nullable=False),
        sa.Column('network_uuid', sa.String(length=36), nullable=True),
        sa.Column('protocol', sa.String(length=32), nullable=False),
        sa.Column('start_port', sa.Integer(), nullable=False),
        sa.Column('end_port', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('for_display', sa.Boolean(), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid']),
        sa.ForeignKeyConstraint(['network_uuid'], ['networks.uuid']),
        sa.ForeignKeyConstraint(['public_ip_uuid'], ['public_ips.uuid']),
        sa.PrimaryKeyConstraint('uuid'),
        sa.UniqueConstraint('sid'),
    )
    with op.batch_alter_table('ip_forwarding_rules', schema=None) as batch_op:
        for column in ('account_uuid', 'public_ip_uuid', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_ip_forwarding_rules_{column}'), [column],
                                  unique=False)


def downgrade() -> None:
    for table, columns in (
        ('ip_forwarding_rules', ('account_uuid', 'public_ip_uuid', 'created_at')),
        ('load_balancer_members', ('rule_uuid', 'instance_uuid', 'created_at')),
        ('load_balancer_rules', ('account_uuid', 'public_ip_uuid', 'network_uuid',
                                 'created_at')),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
