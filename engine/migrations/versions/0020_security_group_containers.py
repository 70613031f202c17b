"""Security groups of containers (VPCs): security_groups.vpc_uuid ("" for a
group of no container, as every existing group is), names unique per account
and container. Each live non-default container gets its default group.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-22
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_OLD = ['account_uuid', 'name']
_NEW = ['account_uuid', 'vpc_uuid', 'name']
_UQ = {"uq": "uq_%(table_name)s_%(column_0_name)s"}  # names SQLite's unnamed constraint


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('security_groups', naming_convention=_UQ) as batch_op:
            batch_op.add_column(sa.Column('vpc_uuid', sa.String(length=36), nullable=False,
                                          server_default=''))
            batch_op.drop_constraint('uq_security_groups_account_uuid', type_='unique')
            batch_op.create_unique_constraint('uq_security_groups_account_vpc_name', _NEW)
    else:  # MariaDB names an unnamed unique key after its first column
        op.add_column('security_groups', sa.Column('vpc_uuid', sa.String(length=36),
                                                   nullable=False, server_default=''))
        op.create_unique_constraint('uq_security_groups_account_vpc_name', 'security_groups',
                                    _NEW)  # first, so account_uuid's foreign key keeps an index
        op.drop_constraint('account_uuid', 'security_groups', type_='unique')
    _container_defaults()


def _container_defaults() -> None:
    """A default group (all traffic out to anywhere, all in from its members)
    for every live non-default container that has none."""
    conn = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    vpcs = conn.execute(sa.text(
        "SELECT uuid, account_uuid FROM vpcs WHERE is_default = :no AND removed_at IS NULL "
        "AND account_uuid IS NOT NULL"), {"no": False}).all()
    for vpc_uuid, account_uuid in vpcs:
        group_uuid = str(uuid.uuid4())
        conn.execute(sa.text(
            "INSERT INTO security_groups (uuid, sid, account_uuid, vpc_uuid, name, description, "
            "is_default, created_at) VALUES (:u, :s, :a, :v, 'default', "
            "'Default Security Group', :yes, :t)"),
            {"u": group_uuid, "s": secrets.token_hex(9)[:17], "a": account_uuid, "v": vpc_uuid,
             "yes": True, "t": now})
        for direction, cidr, source in (("egress", "0.0.0.0/0", None),
                                        ("ingress", None, group_uuid)):
            conn.execute(sa.text(
                "INSERT INTO security_rules (uuid, sid, group_uuid, direction, protocol, cidr, "
                "source_group_uuid, description, created_at) "
                "VALUES (:u, :s, :g, :d, 'all', :c, :src, '', :t)"),
                {"u": str(uuid.uuid4()), "s": secrets.token_hex(9)[:17], "g": group_uuid,
                 "d": direction, "c": cidr, "src": source, "t": now})


def downgrade() -> None:
    conn = op.get_bind()
    mine = "SELECT uuid FROM security_groups WHERE vpc_uuid <> ''"
    conn.execute(sa.text(f"DELETE FROM security_rules WHERE group_uuid IN ({mine})"))
    conn.execute(sa.text(f"DELETE FROM nic_security_groups WHERE group_uuid IN ({mine})"))
    conn.execute(sa.text(f"DELETE FROM instance_security_groups WHERE group_uuid IN ({mine})"))
    conn.execute(sa.text(f"DELETE FROM tags WHERE resource_uuid IN ({mine})"))
    conn.execute(sa.text("DELETE FROM security_groups WHERE vpc_uuid <> ''"))
    if conn.dialect.name == 'sqlite':
        with op.batch_alter_table('security_groups', naming_convention=_UQ) as batch_op:
            batch_op.drop_constraint('uq_security_groups_account_vpc_name', type_='unique')
            batch_op.create_unique_constraint('uq_security_groups_account_uuid', _OLD)
            batch_op.drop_column('vpc_uuid')
    else:
        op.create_unique_constraint('account_uuid', 'security_groups', _OLD)
        op.drop_constraint('uq_security_groups_account_vpc_name', 'security_groups',
                           type_='unique')
        op.drop_column('security_groups', 'vpc_uuid')
