"""NIC add/remove on running VMs, template-linked user data

Standalone interfaces: owner, attachment id, status, description,
delete-on-termination and attach time on ``nics``; ``nic_security_groups``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql')


def upgrade() -> None:
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_uuid', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('attachment_sid', sa.String(length=17), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=32), nullable=False,
                                      server_default='in-use'))
        batch_op.add_column(sa.Column('description', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('delete_on_termination', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('attached_at', _DATETIME, nullable=True))
        batch_op.create_index(batch_op.f('ix_nics_account_uuid'), ['account_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_nics_attachment_sid'), ['attachment_sid'],
                              unique=True)
    # Interfaces made before this revision belong to their instance's account.
    op.execute("UPDATE nics SET account_uuid = (SELECT instances.account_uuid FROM instances "
               "WHERE instances.uuid = nics.instance_uuid) WHERE account_uuid IS NULL")

    op.create_table('nic_security_groups',
    sa.Column('nic_uuid', sa.String(length=36), nullable=False),
    sa.Column('group_uuid', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['group_uuid'], ['security_groups.uuid'], ),
    sa.ForeignKeyConstraint(['nic_uuid'], ['nics.uuid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('nic_uuid', 'group_uuid')
    )
    with op.batch_alter_table('nic_security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nic_security_groups_group_uuid'), ['group_uuid'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nic_security_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nic_security_groups_group_uuid'))
    op.drop_table('nic_security_groups')
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nics_attachment_sid'))
        batch_op.drop_index(batch_op.f('ix_nics_account_uuid'))
        batch_op.drop_column('attached_at')
        batch_op.drop_column('delete_on_termination')
        batch_op.drop_column('description')
        batch_op.drop_column('status')
        batch_op.drop_column('attachment_sid')
        batch_op.drop_column('account_uuid')
