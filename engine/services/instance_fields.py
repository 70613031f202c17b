"""More list fields of instances (merged into ``INSTANCE_FIELDS``). The
timestamp field that takes ``*``/``?`` patterns (``time_pattern_match``) lives
in ``volume_queries``; importers may still take it from here.

Every field here is a predicate: it takes the criterion's values and returns
a SQL condition on ``Instance``. Values are matched with ``*``/``?``
wildcards. Fields over NICs, volumes or public addresses match an instance if
any of its NICs (volumes, addresses) matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from engine.errors import InvalidParameter
from engine.models import (
    Account,
    AffinityGroup,
    Instance,
    InstanceAffinityGroup,
    InstanceSecurityGroup,
    Network,
    Nic,
    PublicIp,
    SecurityGroup,
    ServiceOffering,
    Template,
    Volume,
    Vpc,
    VpcTier,
    Zone,
)
from engine.models.instance_metadata import MetadataAccess
from engine.querying import ColumnLike, FieldMap, match_values
from engine.services.volume_queries import time_pattern_match

Predicate = Callable[[Sequence[str]], ColumnElement[bool]]


def _via(select_column: ColumnLike, match_column: ColumnLike, *joins: Any,
         key: ColumnLike = Instance.uuid, where: Sequence[Any] = ()) -> Predicate:
    """Instances with a related row (``select_column`` names the instance)
    whose ``match_column`` matches a value."""

    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        stmt = select(select_column)
        for target, on in joins:
            stmt = stmt.join(target, on)
        return key.in_(stmt.where(match_values(match_column, values, True), *where))  # type: ignore[union-attr]

    return cond


def _has_nic_with(match: Callable[[Sequence[str]], ColumnElement[bool]]) -> Predicate:
    return lambda values: Instance.uuid.in_(select(Nic.instance_uuid).where(match(values)))


def _nic_column(column: ColumnLike) -> Predicate:
    return _has_nic_with(lambda values: match_values(column, values, True))


def _nic_network(column: ColumnLike) -> Predicate:
    """NICs whose network (``Network``/``Vpc`` column) matches."""
    return lambda values: Instance.uuid.in_(
        select(Nic.instance_uuid).join(Network, Network.uuid == Nic.network_uuid)
        .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
        .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
        .where(match_values(column, values, True)))


def _ints(name: str, values: Sequence[str]) -> list[int]:
    for v in values:
        if not v.lstrip("-").isdigit():
            raise InvalidParameter("Filter", v, f"{name} expects whole numbers")
    return [int(v) for v in values]


def _bool_of(name: str, values: Sequence[str]) -> set[bool]:
    out = set()
    for v in values:
        if v.lower() not in ("true", "false"):
            raise InvalidParameter("Filter", v, f"{name} expects true or false")
        out.add(v.lower() == "true")
    return out


def _public_ip_owner(values: Sequence[str]) -> ColumnElement[bool]:
    """Public addresses owned by accounts numbered ``values``; ``""`` stands
    for the pool's own (unallocated) addresses."""
    conds: list[ColumnElement[bool]] = [PublicIp.account_uuid.in_(
        select(Account.uuid).where(match_values(Account.number, values, True)))]
    if "" in values or "*" in values:
        conds.append(PublicIp.account_uuid.is_(None))
    return Instance.uuid.in_(select(PublicIp.instance_uuid).where(or_(*conds)))


def _access(column: ColumnLike, default: object, parse: Callable[[str, Sequence[str]], Any]
            ) -> Predicate:
    """Metadata access options: an instance without a row has the defaults."""

    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        wanted = set(parse("metadata", values))
        rows = select(MetadataAccess.instance_uuid)
        conds = [Instance.uuid.in_(rows.where(column.in_(wanted)))]  # type: ignore[union-attr]
        if default in wanted:
            conds.append(Instance.uuid.not_in(rows))
        return or_(*conds)

    return cond


def _volume_flag(values: Sequence[str]) -> ColumnElement[bool]:
    flags = _bool_of("delete_on_termination", values)
    return Instance.uuid.in_(select(Volume.instance_uuid).where(
        Volume.delete_on_termination.in_(flags)))


def _volume_devices(values: Sequence[str]) -> ColumnElement[bool]:
    return Instance.uuid.in_(select(Volume.instance_uuid).where(
        Volume.device_id.in_(_ints("volume_device_id", values))))


def _volume_times(values: Sequence[str]) -> ColumnElement[bool]:
    when = func.coalesce(Volume.attached_at, Volume.created_at)
    return Instance.uuid.in_(select(Volume.instance_uuid).where(
        time_pattern_match(when, "volume_attached_at")(values)))


def _nic_times(values: Sequence[str]) -> ColumnElement[bool]:
    return Instance.uuid.in_(select(Nic.instance_uuid).where(
        time_pattern_match(Nic.created_at, "nic_created_at")(values)))


def _truths(values: Sequence[str]) -> list[bool]:
    """``true``/``false`` values as booleans (others match nothing)."""
    return sorted({v.lower() == "true" for v in values if v.lower() in ("true", "false")})


def _flag(column: Any) -> Predicate:
    """A boolean column matched by ``true``/``false`` values."""
    return lambda values: column.in_(_truths(values))


def _nic_source_dest_check(values: Sequence[str]) -> ColumnElement[bool]:
    """The primary NIC's source/destination check (``true``/``false``)."""
    return Instance.uuid.in_(select(Nic.instance_uuid).where(
        Nic.is_default.is_(True), Nic.source_dest_check.in_(_truths(values))))


INSTANCE_MORE_FIELDS: FieldMap = {
    # guest settings (true/false)
    "hibernation_enabled": _flag(Instance.hibernation_enabled),
    "nic_source_dest_check": _nic_source_dest_check,
    "arch": _via(Template.uuid, Template.arch, key=Instance.template_uuid),
    "root_device_name": _via(Template.uuid, Template.root_device_name,
                             key=Instance.template_uuid),
    "zone_pattern": _via(Zone.uuid, Zone.name, key=Instance.zone_uuid),
    "owner_number": _via(Account.uuid, Account.number, key=Instance.account_uuid),
    "client_token": lambda values: match_values(Instance.client_token, values, True),
    "created_at": time_pattern_match(Instance.created_at, "created_at"),
    # catalog and groups, by pattern
    "offering_pattern": _via(ServiceOffering.uuid, ServiceOffering.name,
                             key=Instance.service_offering_uuid),
    "template_sid_pattern": _via(Template.uuid, Template.sid, key=Instance.template_uuid),
    "security_group_name": _via(InstanceSecurityGroup.instance_uuid, SecurityGroup.name, (
        SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)),
    "security_group_sid": _via(InstanceSecurityGroup.instance_uuid, SecurityGroup.sid, (
        SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)),
    "affinity_group_name": _via(InstanceAffinityGroup.instance_uuid, AffinityGroup.name, (
        AffinityGroup, AffinityGroup.uuid == InstanceAffinityGroup.group_uuid)),
    # volumes
    "volume_sid": _via(Volume.instance_uuid, Volume.sid),
    "volume_device_id": _volume_devices,
    "volume_delete_on_termination": _volume_flag,
    "volume_attached_at": _volume_times,
    # NICs
    "nic_sid": _nic_column(Nic.sid),
    "nic_ip": _nic_column(Nic.ip_address),
    "nic_mac": _nic_column(Nic.mac_address),
    "nic_device_id": lambda values: Instance.uuid.in_(select(Nic.instance_uuid).where(
        Nic.device_id.in_(_ints("nic_device_id", values)))),
    "nic_created_at": _nic_times,
    "nic_network_sid": _nic_network(Network.sid),
    "nic_container_sid": _nic_network(func.coalesce(Vpc.sid, Network.sid)),
    # public addresses
    "public_ip_pattern": _via(PublicIp.instance_uuid, PublicIp.address),
    "public_ip_sid": _via(PublicIp.instance_uuid, PublicIp.sid,
                          where=(PublicIp.account_uuid.is_not(None),)),
    "public_ip_association_sid": _via(PublicIp.instance_uuid, PublicIp.association_sid),
    "public_ip_owner": _public_ip_owner,
    # metadata access options (true/false, the hop limit a number)
    "metadata_endpoint": _access(MetadataAccess.endpoint_enabled, True, _bool_of),
    "metadata_token_required": _access(MetadataAccess.require_token, False, _bool_of),
    "metadata_ipv6": _access(MetadataAccess.ipv6_enabled, False, _bool_of),
    "metadata_tags": _access(MetadataAccess.expose_tags, False, _bool_of),
    "metadata_hop_limit": _access(MetadataAccess.token_hop_limit, 1, _ints),
}
