"""Template user data links (CloudStack linkUserDataToTemplate)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    op.create_table(
        'template_user_data',
        sa.Column('template_uuid', sa.String(length=36), nullable=False),
        sa.Column('user_data_uuid', sa.String(length=36), nullable=False),
        sa.Column('policy', sa.String(length=32), nullable=False),
        sa.Column('created_at', _DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['template_uuid'], ['templates.uuid'], ),
        sa.ForeignKeyConstraint(['user_data_uuid'], ['user_data.uuid'], ),
        sa.PrimaryKeyConstraint('template_uuid'),
    )
    with op.batch_alter_table('template_user_data', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_user_data_user_data_uuid'),
                              ['user_data_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_template_user_data_created_at'),
                              ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('template_user_data', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_user_data_created_at'))
        batch_op.drop_index(batch_op.f('ix_template_user_data_user_data_uuid'))
    op.drop_table('template_user_data')
