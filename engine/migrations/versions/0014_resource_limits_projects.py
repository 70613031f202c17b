"""Per-account/domain resource limits and projects

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _ts() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
        mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table('resource_limits',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('account_uuid', sa.String(length=36), nullable=True),
    sa.Column('domain_uuid', sa.String(length=36), nullable=True),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('maximum', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid'], ),
    sa.ForeignKeyConstraint(['domain_uuid'], ['domains.uuid'], ),
    sa.PrimaryKeyConstraint('uuid'),
    sa.UniqueConstraint('account_uuid', 'resource'),
    sa.UniqueConstraint('domain_uuid', 'resource')
    )
    op.create_table('projects',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('sid', sa.String(length=17), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_text', sa.String(length=255), nullable=False),
    sa.Column('domain_uuid', sa.String(length=36), nullable=False),
    sa.Column('account_uuid', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created_at', _ts(), nullable=False),
    sa.Column('removed_at', _ts(), nullable=True),
    sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid'], ),
    sa.ForeignKeyConstraint(['domain_uuid'], ['domains.uuid'], ),
    sa.PrimaryKeyConstraint('uuid'),
    sa.UniqueConstraint('account_uuid'),
    sa.UniqueConstraint('domain_uuid', 'name'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_domain_uuid'), ['domain_uuid'],
                              unique=False)

    op.create_table('project_members',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project_uuid', sa.String(length=36), nullable=False),
    sa.Column('account_uuid', sa.String(length=36), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('created_at', _ts(), nullable=False),
    sa.ForeignKeyConstraint(['account_uuid'], ['accounts.uuid'], ),
    sa.ForeignKeyConstraint(['project_uuid'], ['projects.uuid'], ),
    sa.PrimaryKeyConstraint('uuid'),
    sa.UniqueConstraint('project_uuid', 'account_uuid')
    )
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_members_account_uuid'), ['account_uuid'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_project_members_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('project_members')
    op.drop_table('projects')
    op.drop_table('resource_limits')
