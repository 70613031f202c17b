"""Default containers' routing and interface source/destination checking:
gateways.account_uuid and route_tables.account_uuid nullable (a default
container's gateway and main route table belong to no account); every live
default container gets its attached gateway (with the container's sid, the id
it was listed with before) and its main route table (local route, 0.0.0.0/0
through the gateway, main association); nics.source_dest_check.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-22
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gateways', schema=None) as batch_op:
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36), nullable=True)
    with op.batch_alter_table('route_tables', schema=None) as batch_op:
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36), nullable=True)
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_dest_check', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    _default_routing()


def _sid() -> str:
    return secrets.token_hex(9)[:17]


def _default_routing() -> None:
    """A gateway and a main route table for each live default container
    that has none (the engine does the same for containers made later)."""
    conn = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    vpcs = conn.execute(sa.text(
        "SELECT uuid, sid, cidr FROM vpcs WHERE is_default = :yes AND removed_at IS NULL"),
        {"yes": True}).all()
    for vpc_uuid, vpc_sid, cidr in vpcs:
        gw_uuid = conn.execute(sa.text(
            "SELECT uuid FROM gateways WHERE vpc_uuid = :v AND removed_at IS NULL"),
            {"v": vpc_uuid}).scalar()
        if gw_uuid is None:
            gw_uuid = str(uuid.uuid4())
            conn.execute(sa.text(
                "INSERT INTO gateways (uuid, sid, account_uuid, vpc_uuid, created_at) "
                "VALUES (:u, :s, NULL, :v, :t)"),
                {"u": gw_uuid, "s": vpc_sid, "v": vpc_uuid, "t": now})
        has_main = conn.execute(sa.text(
            "SELECT uuid FROM route_tables WHERE vpc_uuid = :v AND is_main = :yes "
            "AND removed_at IS NULL"), {"v": vpc_uuid, "yes": True}).scalar()
        if has_main is not None:
            continue
        table_uuid = str(uuid.uuid4())
        conn.execute(sa.text(
            "INSERT INTO route_tables (uuid, sid, account_uuid, vpc_uuid, is_main, created_at) "
            "VALUES (:u, :s, NULL, :v, :yes, :t)"),
            {"u": table_uuid, "s": _sid(), "v": vpc_uuid, "yes": True, "t": now})
        conn.execute(sa.text(
            "INSERT INTO route_table_links (uuid, sid, route_table_uuid, network_uuid, "
            "created_at) VALUES (:u, :s, :r, NULL, :t)"),
            {"u": str(uuid.uuid4()), "s": _sid(), "r": table_uuid, "t": now})
        for dest, target, gateway in ((cidr, "local", None),
                                      ("0.0.0.0/0", "gateway", gw_uuid)):
            conn.execute(sa.text(
                "INSERT INTO routes (uuid, route_table_uuid, destination, target, "
                "gateway_uuid, created_at) VALUES (:u, :r, :d, :g, :w, :t)"),
                {"u": str(uuid.uuid4()), "r": table_uuid, "d": dest, "g": target,
                 "w": gateway, "t": now})


def downgrade() -> None:
    conn = op.get_bind()
    ownerless = "SELECT uuid FROM route_tables WHERE account_uuid IS NULL"
    conn.execute(sa.text(f"DELETE FROM routes WHERE route_table_uuid IN ({ownerless})"))
    conn.execute(sa.text(
        f"DELETE FROM route_table_links WHERE route_table_uuid IN ({ownerless})"))
    conn.execute(sa.text("DELETE FROM tags WHERE resource_uuid IN "
                         "(SELECT uuid FROM route_tables WHERE account_uuid IS NULL) "
                         "OR resource_uuid IN (SELECT uuid FROM gateways "
                         "WHERE account_uuid IS NULL)"))
    conn.execute(sa.text("DELETE FROM route_tables WHERE account_uuid IS NULL"))
    conn.execute(sa.text("DELETE FROM routes WHERE gateway_uuid IN "
                         "(SELECT uuid FROM gateways WHERE account_uuid IS NULL)"))
    conn.execute(sa.text("DELETE FROM gateways WHERE account_uuid IS NULL"))
    with op.batch_alter_table('nics', schema=None) as batch_op:
        batch_op.drop_column('source_dest_check')
    with op.batch_alter_table('route_tables', schema=None) as batch_op:
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36),
                              nullable=False)
    with op.batch_alter_table('gateways', schema=None) as batch_op:
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36),
                              nullable=False)
