"""Default containers and container zones: vpcs.is_default, vpcs.zone_uuid,
vpcs.account_uuid nullable (a region's default container belongs to no
account); existing zones' default shared networks become tiers (public
addresses mapped at launch) of one default container per region; and
instances.public_ip_mapped (launched wanting a public address).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22
"""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

DEFAULT_CIDR = "172.31.0.0/16"


def upgrade() -> None:
    with op.batch_alter_table('vpcs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zone_uuid', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('is_default', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36),
                              nullable=True)
        batch_op.create_foreign_key('fk_vpcs_zone_uuid_zones', 'zones', ['zone_uuid'], ['uuid'])
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_ip_mapped', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    _default_containers()


def _default_containers() -> None:
    """One default container per region holding its zones' live default
    networks that belong to no container yet."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT n.uuid, n.cidr, z.region_uuid FROM networks n "
        "JOIN zones z ON z.uuid = n.zone_uuid "
        "WHERE n.is_default = :yes AND n.removed_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM vpc_tiers t WHERE t.network_uuid = n.uuid) "
        "ORDER BY n.created_at"), {"yes": True}).all()
    by_region: dict[str, list[tuple[str, str]]] = {}
    for net_uuid, cidr, region_uuid in rows:
        by_region.setdefault(region_uuid, []).append((net_uuid, cidr))
    now = datetime.now(UTC).replace(tzinfo=None)
    for region_uuid, nets in by_region.items():
        vpc_uuid = str(uuid.uuid4())
        conn.execute(sa.text(
            "INSERT INTO vpcs (uuid, sid, account_uuid, region_uuid, zone_uuid, is_default, "
            "name, display_text, cidr, tenancy, dns_support, dns_hostnames, created_at) "
            "VALUES (:u, :s, NULL, :r, NULL, :yes, 'default', 'default', :c, 'default', "
            ":yes, :yes, :t)"),
            {"u": vpc_uuid, "s": secrets.token_hex(9)[:17], "r": region_uuid, "yes": True,
             "c": _covering([c for _, c in nets]), "t": now})
        for net_uuid, _ in nets:
            conn.execute(sa.text(
                "INSERT INTO vpc_tiers (network_uuid, vpc_uuid, map_public_ip, created_at) "
                "VALUES (:n, :v, :yes, :t)"),
                {"n": net_uuid, "v": vpc_uuid, "yes": True, "t": now})


def _covering(cidrs: list[str]) -> str:
    """172.31.0.0/16 when it holds every network, else the smallest block that does."""
    nets = [ipaddress.IPv4Network(c, strict=False) for c in cidrs]
    if all(n.subnet_of(ipaddress.IPv4Network(DEFAULT_CIDR)) for n in nets):
        return DEFAULT_CIDR
    block = nets[0]
    while not all(n.subnet_of(block) for n in nets):
        block = block.supernet()
    return str(block)


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text(
        "DELETE FROM vpc_tiers WHERE vpc_uuid IN (SELECT uuid FROM vpcs WHERE is_default = :yes)"),
        {"yes": True})
    conn.execute(sa.text("DELETE FROM vpcs WHERE is_default = :yes"), {"yes": True})
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('public_ip_mapped')
    with op.batch_alter_table('vpcs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_vpcs_zone_uuid_zones', type_='foreignkey')
        batch_op.alter_column('account_uuid', existing_type=sa.String(length=36),
                              nullable=False)
        batch_op.drop_column('is_default')
        batch_op.drop_column('zone_uuid')
