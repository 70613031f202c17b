"""EC2 filter names -> engine criteria, per Describe operation.

Each entry maps a wire filter name to an engine field and a value transform
(EC2 ids -> sids, EC2 state names -> engine states ...). ``tag:<key>``,
``tag-key`` and ``tag-value`` pass straight through; a name not in the map
gets AWS's ``InvalidParameterValue`` ("The filter 'x' is invalid").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Final

from awsapi.errors_wire import Ec2Error
from awsapi.filters_base import (
    NO_MATCH,
    FilterSpec,
    Transform,
    arn_tail,
    booleans,
    constant,
    constant_specs,
    expanding,
    has_wildcards,
    id_tails,
    lookup,
    lookup_known,
    nothing,
    nothing_specs,
    numbers,
    same,
    strip_prefix,
    strip_prefix_as,
    when_matches,
    wildcard_match,
    zone_ids,
)
from awsapi.filters_compute import (
    IMAGE_FILTERS,
    INSTANCE_FILTERS,
    VOLUME_SIZES,
    device_slots,
)
from awsapi.ids import Kind
from awsapi.views import STATE_BY_CODE, STATE_BY_NAME
from awsapi.views_catalog import STATES_BY_REACHABILITY, STATES_BY_STATUS
from awsapi.views_security import PROTOCOL_IN, TAGGABLE
from awsapi.views_storage import (
    MODIFICATION_STATE_BY_NAME,
    SETTLED,
    SNAPSHOT_PROGRESS,
    SNAPSHOT_STATE_BY_NAME,
    VOLUME_STATUS,
    iops,
)
from engine.querying import Criterion
from engine.services.volume_queries import AttachmentState
from engine.services.volumes import MAX_SIZE_GIB

__all__ = ["IMAGE_FILTERS", "INSTANCE_FILTERS", "FilterSpec", "Transform",
           "booleans", "constant", "lookup", "lookup_known", "nothing", "same",
           "strip_prefix", "strip_prefix_as"]


@expanding
def protocols(values: Sequence[str]) -> tuple[str, ...]:
    """Protocol names or numbers -> the engine's; a pattern -> every protocol
    whose name or number it matches."""
    out: list[str] = []
    for v in values:
        if has_wildcards(v):
            out += [p for k, p in PROTOCOL_IN.items() if wildcard_match(k, v.lower())]
        else:
            out.append(PROTOCOL_IN.get(v.lower(), "\x00" + v))
    return tuple(dict.fromkeys(out)) or ("\x00",)


_BOOLEANS: Final = {"true": ("true",), "false": ("false",)}


KEY_PAIR_FILTERS: Final[dict[str, FilterSpec]] = {
    "key-name": ("name", same, True),
    "key-pair-id": ("sid", strip_prefix(Kind.KEY_PAIR), True),
    "fingerprint": ("fingerprint", same, True),
    "key-type": ("key_type", same, True),
}

SECURITY_GROUP_FILTERS: Final[dict[str, FilterSpec]] = {
    "group-id": ("sid", strip_prefix(Kind.SECURITY_GROUP), True),
    "group-name": ("name", same, True),
    "description": ("description", same, True),
    "owner-id": ("owner_number", same, True),
    "vpc-id": ("vpc_sid", strip_prefix(Kind.VPC), True),
    **{f"{wire}.{name}": (f"{way}.{field}", transform, True)
       for wire, way in (("ip-permission", "ingress"), ("egress.ip-permission", "egress"))
       for name, field, transform in (
           ("cidr", "cidr", same), ("ipv6-cidr", "cidr", same),
           ("from-port", "from_port", same), ("to-port", "to_port", same),
           ("protocol", "protocol", protocols),
           ("group-id", "source_group_sid", strip_prefix(Kind.SECURITY_GROUP)),
           ("group-name", "source_group_name", same),
           ("user-id", "source_account_number", same),
           ("prefix-list-id", "cidr", nothing))},
}

SECURITY_GROUP_RULE_FILTERS: Final[dict[str, FilterSpec]] = {
    "group-id": ("group_sid", strip_prefix(Kind.SECURITY_GROUP), True),
    "security-group-rule-id": ("sid", strip_prefix(Kind.SECURITY_GROUP_RULE), True),
}

def _resource_refs(values: Sequence[str]) -> tuple[str, ...]:
    """Resource ids (or id patterns) -> the engine's ``<kind>:<sid pattern>``
    references, one per taggable kind whose ids the value can match."""
    out = [f"{engine_kind.value}:{tail}" for v in values
           for engine_kind, (kind, _) in TAGGABLE.items() for tail in id_tails(kind.prefix, v)]
    return tuple(dict.fromkeys(out)) or (NO_MATCH,)


TAG_FILTERS: Final[dict[str, FilterSpec]] = {
    "key": ("key", same, True),
    "value": ("value", same, True),
    "resource-id": ("resource_ref", _resource_refs, True),
    "resource-type": ("resource_kind", lookup(
        {name: (kind.value,) for kind, (_, name) in TAGGABLE.items()}), False),
}


def tag_table_criteria(filters: Iterable[Mapping[str, Any]] | None) -> tuple[Criterion, ...]:
    """Criteria on tags themselves (DescribeTags): ``tag:<k>`` is key k with one
    of the values, ``tag-key``/``tag-value`` are ``key``/``value``."""
    plain: list[Mapping[str, Any]] = []
    for f in filters or ():
        name = f.get("Name") or ""
        if name.startswith("tag:"):
            plain += [{"Name": "key", "Values": [name[4:]]},
                      {"Name": "value", "Values": f.get("Values") or []}]
        elif name in ("tag-key", "tag-value"):
            plain.append({"Name": name[4:], "Values": f.get("Values") or []})
        else:
            plain.append(f)
    return criteria(plain, TAG_FILTERS)


def criteria(filters: Iterable[Mapping[str, Any]] | None,
             table: Mapping[str, FilterSpec]) -> tuple[Criterion, ...]:
    """Engine criteria for the request's ``Filters`` member."""
    out: list[Criterion] = []
    for f in filters or ():
        name = f.get("Name")
        values = tuple(f.get("Values") or ())
        if not name:
            raise Ec2Error("InvalidParameterValue", "The filter name must not be empty")
        if name.startswith("tag:") or name in ("tag-key", "tag-value"):
            out.append(Criterion(name, values))
            continue
        spec = table.get(name)
        if spec is None:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        field, transform, wildcards = spec
        out.append(Criterion(field, transform(values), wildcards))
    return tuple(out)


# --- DescribeInstanceStatus: engine criteria ----------------------------------
_STATUS_FILTERS: Final[dict[str, FilterSpec]] = {
    f"{check}.{what}": ("state", lookup(table), False)
    for check in ("instance-status", "system-status", "attached-ebs-status")
    for what, table in (("status", STATES_BY_STATUS), ("reachability", STATES_BY_REACHABILITY))
}
INSTANCE_STATUS_FILTERS: Final[dict[str, FilterSpec]] = {
    "availability-zone": ("zone_pattern", same, True),
    "availability-zone-id": ("zone_pattern", zone_ids, True),
    "instance-state-name": ("state", lookup(STATE_BY_NAME), False),
    "instance-state-code": ("state", lookup(STATE_BY_CODE), False),
    **_STATUS_FILTERS,
    # No scheduled events or managed operators exist: these match nothing.
    **{name: ("sid", nothing, False) for name in (
        "event.code", "event.description", "event.instance-event-id", "event.not-after",
        "event.not-before", "event.not-before-deadline", "operator.managed",
        "operator.principal")},
}


# --- filters on rendered output (small in-memory catalogs) --------------------
# Wire filter name -> path of member names in the output item. A path ending at
# a list matches if any element does; a missing member matches nothing.
ViewPath = tuple[str, ...]
ViewCriterion = tuple[ViewPath, tuple[str, ...]]


def _paths(table: Mapping[str, str]) -> dict[str, ViewPath]:
    return {name: tuple(path.split(".")) for name, path in table.items()}


INSTANCE_TYPE_FILTERS: Final[dict[str, ViewPath]] = _paths({
    "auto-recovery-supported": "AutoRecoverySupported",
    "bare-metal": "BareMetal",
    "burstable-performance-supported": "BurstablePerformanceSupported",
    "current-generation": "CurrentGeneration",
    "dedicated-hosts-supported": "DedicatedHostsSupported",
    "ebs-info.ebs-optimized-info.baseline-bandwidth-in-mbps":
        "EbsInfo.EbsOptimizedInfo.BaselineBandwidthInMbps",
    "ebs-info.ebs-optimized-info.baseline-iops": "EbsInfo.EbsOptimizedInfo.BaselineIops",
    "ebs-info.ebs-optimized-info.baseline-throughput-in-mbps":
        "EbsInfo.EbsOptimizedInfo.BaselineThroughputInMBps",
    "ebs-info.ebs-optimized-info.maximum-bandwidth-in-mbps":
        "EbsInfo.EbsOptimizedInfo.MaximumBandwidthInMbps",
    "ebs-info.ebs-optimized-info.maximum-iops": "EbsInfo.EbsOptimizedInfo.MaximumIops",
    "ebs-info.ebs-optimized-info.maximum-throughput-in-mbps":
        "EbsInfo.EbsOptimizedInfo.MaximumThroughputInMBps",
    "ebs-info.ebs-optimized-support": "EbsInfo.EbsOptimizedSupport",
    "ebs-info.encryption-support": "EbsInfo.EncryptionSupport",
    "ebs-info.attachment-limit-type": "EbsInfo.AttachmentLimitType",
    "ebs-info.maximum-ebs-attachments": "EbsInfo.MaximumEbsAttachments",
    "ebs-info.nvme-support": "EbsInfo.NvmeSupport",
    "free-tier-eligible": "FreeTierEligible",
    "hibernation-supported": "HibernationSupported",
    "hypervisor": "Hypervisor",
    "instance-storage-info.disk.count": "InstanceStorageInfo.Disks.Count",
    "instance-storage-info.disk.size-in-gb": "InstanceStorageInfo.Disks.SizeInGB",
    "instance-storage-info.disk.type": "InstanceStorageInfo.Disks.Type",
    "instance-storage-info.encryption-support": "InstanceStorageInfo.EncryptionSupport",
    "instance-storage-info.nvme-support": "InstanceStorageInfo.NvmeSupport",
    "instance-storage-info.total-size-in-gb": "InstanceStorageInfo.TotalSizeInGB",
    "instance-storage-supported": "InstanceStorageSupported",
    "instance-type": "InstanceType",
    "memory-info.size-in-mib": "MemoryInfo.SizeInMiB",
    "network-info.bandwidth-weightings": "NetworkInfo.BandwidthWeightings",
    "network-info.efa-info.maximum-efa-interfaces": "NetworkInfo.EfaInfo.MaximumEfaInterfaces",
    "network-info.efa-supported": "NetworkInfo.EfaSupported",
    "network-info.ena-support": "NetworkInfo.EnaSupport",
    "network-info.flexible-ena-queues-support": "NetworkInfo.FlexibleEnaQueuesSupport",
    "network-info.encryption-in-transit-supported": "NetworkInfo.EncryptionInTransitSupported",
    "network-info.ipv4-addresses-per-interface": "NetworkInfo.Ipv4AddressesPerInterface",
    "network-info.ipv6-addresses-per-interface": "NetworkInfo.Ipv6AddressesPerInterface",
    "network-info.ipv6-supported": "NetworkInfo.Ipv6Supported",
    "network-info.maximum-network-cards": "NetworkInfo.MaximumNetworkCards",
    "network-info.maximum-network-interfaces": "NetworkInfo.MaximumNetworkInterfaces",
    "network-info.network-performance": "NetworkInfo.NetworkPerformance",
    "nitro-enclaves-support": "NitroEnclavesSupport",
    "nitro-tpm-support": "NitroTpmSupport",
    "nitro-tpm-info.supported-versions": "NitroTpmInfo.SupportedVersions",
    "phc-support": "PhcSupport",
    "placement-group-info.supported-strategies": "PlacementGroupInfo.SupportedStrategies",
    "processor-info.supported-architecture": "ProcessorInfo.SupportedArchitectures",
    "processor-info.sustained-clock-speed-in-ghz": "ProcessorInfo.SustainedClockSpeedInGhz",
    "processor-info.supported-features": "ProcessorInfo.SupportedFeatures",
    "reboot-migration-support": "RebootMigrationSupport",
    "supported-boot-mode": "SupportedBootModes",
    "supported-root-device-type": "SupportedRootDeviceTypes",
    "supported-usage-class": "SupportedUsageClasses",
    "supported-virtualization-type": "SupportedVirtualizationTypes",
    "vcpu-info.default-cores": "VCpuInfo.DefaultCores",
    "vcpu-info.default-threads-per-core": "VCpuInfo.DefaultThreadsPerCore",
    "vcpu-info.default-vcpus": "VCpuInfo.DefaultVCpus",
    "vcpu-info.valid-cores": "VCpuInfo.ValidCores",
    "vcpu-info.valid-threads-per-core": "VCpuInfo.ValidThreadsPerCore",
})

INSTANCE_TYPE_OFFERING_FILTERS: Final[dict[str, ViewPath]] = _paths({
    "instance-type": "InstanceType",
    "location": "Location",
})


def view_criteria(filters: Iterable[Mapping[str, Any]] | None,
                  table: Mapping[str, ViewPath]) -> tuple[ViewCriterion, ...]:
    """The request's ``Filters`` as (path, values); unknown names are rejected."""
    out: list[ViewCriterion] = []
    for f in filters or ():
        name = f.get("Name") or ""
        path = table.get(name)
        if path is None:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        out.append((path, tuple(f.get("Values") or ())))
    return tuple(out)


def view_matches(item: Mapping[str, Any], crit: Iterable[ViewCriterion]) -> bool:
    """Whether ``item`` passes every criterion (values OR-ed, criteria AND-ed).

    Strings match with ``*``/``?`` wildcards, booleans as ``true``/``false``,
    numbers numerically (``2`` matches ``2.0``).
    """
    return all(any(_value_matches(v, w) for v in _leaves(item, path) for w in wanted)
               for path, wanted in crit)


def _leaves(node: Any, path: ViewPath) -> list[Any]:
    if isinstance(node, list):
        return [leaf for n in node for leaf in _leaves(n, path)]
    if not path:
        return [node]
    if not isinstance(node, Mapping) or node.get(path[0]) is None:
        return []
    return _leaves(node[path[0]], path[1:])


def _value_matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted.lower() == ("true" if value else "false")
    if isinstance(value, int | float):
        try:
            return float(wanted) == float(value)
        except ValueError:
            return False
    return wildcard_match(str(value), wanted)


# --- volumes, snapshots, addresses --------------------------------------------
VOLUME_FILTERS: Final[dict[str, FilterSpec]] = {
    "volume-id": ("sid", strip_prefix(Kind.VOLUME), True),
    "status": ("state_attachment", lookup_known(VOLUME_STATUS), False),
    "size": ("size_gib", numbers(VOLUME_SIZES), False),
    "availability-zone": ("zone_pattern", same, True),
    "availability-zone-id": ("zone_pattern", zone_ids, True),
    "attachment.instance-id": ("instance_sid", strip_prefix(Kind.INSTANCE), True),
    "attachment.device": ("device_id", device_slots, False),
    "attachment.status": ("attachment", lookup({s.value: (s.value,) for s in AttachmentState}),
                          False),
    "attachment.delete-on-termination": ("delete_on_termination", lookup(_BOOLEANS), False),
    "attachment.attach-time": ("attached_at", same, True),
    "snapshot-id": ("snapshot_sid", strip_prefix(Kind.SNAPSHOT), True),
    "volume-type": ("volume_type", same, True),
    "create-time": ("created_at", same, True),
    "encrypted": ("sid", constant("false"), True),
    "multi-attach-enabled": ("sid", constant("false"), True),
    "fast-restored": ("sid", constant("false"), True),
    "operator.managed": ("sid", constant("false"), True),
    "operator.principal": ("sid", nothing, False),
}

_OK: Final = tuple(s.value for s in SETTLED)
_IMPAIRED: Final = ("Error",)
_INITIALIZING: Final = ("Creating",)
VOLUME_STATUS_FILTERS: Final[dict[str, FilterSpec]] = {
    "availability-zone": ("zone_pattern", same, True),
    "volume-status.status": ("state", lookup_known({
        "ok": _OK, "impaired": _IMPAIRED, "insufficient-data": _INITIALIZING,
        "warning": ()}), False),
    "volume-status.details-name": ("sid", constant("io-enabled", "io-performance"), True),
    "volume-status.details-status": ("state", lookup_known({
        "passed": _OK + _INITIALIZING, "failed": _IMPAIRED,
        "not-applicable": _OK + _INITIALIZING + _IMPAIRED}), False),
    # No volume events or scheduled actions exist: these match nothing.
    **{name: ("sid", nothing, False) for name in (
        "action.code", "action.description", "action.event-id", "event.description",
        "event.event-id", "event.event-type", "event.not-after", "event.not-before")},
}

@cache
def _sizes_by_iops() -> dict[str, tuple[str, ...]]:
    """IOPS (as ``views_storage.iops`` reports them) -> ``<type>:<GiB>`` pairs."""
    out: dict[str, list[str]] = {}
    for volume_type in ("gp2", "gp3", "io1", "io2"):
        for size in range(1, MAX_SIZE_GIB + 1):
            out.setdefault(str(iops(volume_type, size)), []).append(f"{volume_type}:{size}")
    return {k: tuple(v) for k, v in out.items()}


@expanding
def iops_sizes(values: Sequence[str]) -> tuple[str, ...]:
    """IOPS values (or patterns over them) -> the ``<type>:<GiB>`` pairs that have them."""
    table = _sizes_by_iops()
    return lookup(table)(values) or ("\x00",)


VOLUME_MODIFICATION_FILTERS: Final[dict[str, FilterSpec]] = {
    "volume-id": ("volume_sid", strip_prefix(Kind.VOLUME), True),
    "modification-state": ("status", lookup_known(MODIFICATION_STATE_BY_NAME), False),
    "target-size": ("new_size_gib", same, True),
    "original-size": ("old_size_gib", same, True),
    "target-volume-type": ("new_volume_type", same, True),
    "original-volume-type": ("old_volume_type", same, True),
    "start-time": ("started_at", same, True),
    "original-iops": ("old_type_size", iops_sizes, False),
    "target-iops": ("new_type_size", iops_sizes, False),
    "originalMultiAttachEnabled": ("volume_sid", constant("false"), True),
    "targetMultiAttachEnabled": ("volume_sid", constant("false"), True),
}

SNAPSHOT_FILTERS: Final[dict[str, FilterSpec]] = {
    "snapshot-id": ("sid", strip_prefix(Kind.SNAPSHOT), True),
    "volume-id": ("volume_sid", strip_prefix(Kind.VOLUME), True),
    "status": ("state", lookup_known(SNAPSHOT_STATE_BY_NAME), False),
    "progress": ("state", lookup_known(SNAPSHOT_PROGRESS), False),
    "owner-id": ("owner_number", same, True),
    "description": ("description", same, True),
    "volume-size": ("size_gib", numbers(VOLUME_SIZES), False),
    "start-time": ("created_at", same, True),
    "encrypted": ("sid", constant("false"), True),
    "storage-tier": ("sid", constant("standard"), True),
    "transfer-type": ("sid", constant("standard"), True),
    "owner-alias": ("sid", nothing, False),
}

ADDRESS_FILTERS: Final[dict[str, FilterSpec]] = {
    "allocation-id": ("sid", strip_prefix(Kind.ADDRESS), True),
    "association-id": ("association_sid", strip_prefix(Kind.ASSOCIATION), True),
    "instance-id": ("instance_sid", strip_prefix(Kind.INSTANCE), True),
    "public-ip": ("address", same, True),
    "private-ip-address": ("private_ip", same, True),
    "domain": ("sid", constant("vpc"), True),
    "public-ipv4-pool": ("sid", constant("amazon"), True),
    # A border group is the region: the region's zones are its name + a letter.
    "network-border-group": ("zone_pattern", lambda vs: tuple(v + "?" for v in vs), True),
    "network-interface-id": ("nic_sid", strip_prefix(Kind.NETWORK_INTERFACE), True),
    "network-interface-owner-id": ("instance_owner_number", same, True),
}

# --- VPCs, subnets, internet gateways, route tables -----------------------------
vpc_cidr_associations = strip_prefix_as("vpc-cidr-assoc")  # ``vpc-cidr-assoc-<vpc sid>``


_NO_IPV6: Final[dict[str, FilterSpec]] = {
    name: ("sid", nothing, False) for name in (
        "ipv6-cidr-block-association.ipv6-cidr-block",
        "ipv6-cidr-block-association.association-id",
        "ipv6-cidr-block-association.state",
        "ipv6-cidr-block-association.ipv6-pool")}

VPC_FILTERS: Final[dict[str, FilterSpec]] = {
    "vpc-id": ("sid", strip_prefix(Kind.VPC), True),
    "cidr": ("cidr", same, True),
    "cidr-block-association.cidr-block": ("cidr", same, True),
    "cidr-block-association.association-id": ("sid", vpc_cidr_associations, True),
    "cidr-block-association.state": ("sid", constant("associated"), True),
    # Matched by the DescribeVpcs handler against the caller's set (taken out before).
    "dhcp-options-id": ("sid", constant("*"), True),
    "is-default": ("is_default", booleans, False),
    "state": ("sid", constant("available"), True),
    "owner-id": ("owner_number", same, True),
    **_NO_IPV6,
}

SUBNET_FILTERS: Final[dict[str, FilterSpec]] = {
    "subnet-id": ("sid", strip_prefix(Kind.SUBNET), True),
    "vpc-id": ("vpc_sid", strip_prefix(Kind.VPC), True),
    "availability-zone": ("zone_name", same, True),
    "default-for-az": ("is_default", booleans, False),
    "defaultForAz": ("is_default", booleans, False),
    "cidr-block": ("cidr", same, True),
    "cidr": ("cidr", same, True),
    "cidrBlock": ("cidr", same, True),
    "state": ("sid", constant("available"), True),
    "owner-id": ("owner_number", same, True),
    "map-public-ip-on-launch": ("map_public_ip", booleans, False),
    "map-customer-owned-ip-on-launch": ("sid", constant("false"), True),
    "assign-ipv6-address-on-creation": ("sid", constant("false"), True),
    "enable-dns64": ("sid", constant("false"), True),
    "ipv6-native": ("sid", constant("false"), True),
    "outpost-arn": ("sid", nothing, False),
    "customer-owned-ipv4-pool": ("sid", nothing, False),
    "availability-zone-id": ("zone_name", zone_ids, True),
    "available-ip-address-count": ("free_addresses", same, True),
    "subnet-arn": ("sid", arn_tail("subnet", strip_prefix(Kind.SUBNET)), True),
    "enable-lni-at-device-index": ("sid", nothing, False),
    **constant_specs({
        "private-dns-name-options-on-launch.hostname-type": "ip-name",
        "private-dns-name-options-on-launch.enable-resource-name-dns-a-record": "false",
        "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": "false"}),
    **_NO_IPV6,
}

INTERNET_GATEWAY_FILTERS: Final[dict[str, FilterSpec]] = {
    "internet-gateway-id": ("sid", strip_prefix(Kind.INTERNET_GATEWAY), True),
    "attachment.vpc-id": ("vpc_sid", strip_prefix(Kind.VPC), True),
    "attachment.state": ("attached", lookup({"available": ("available",),
                                             "attached": ("attached",)}), False),
    "owner-id": ("owner_number", same, True),
}

def _route_gateways(values: Sequence[str]) -> tuple[str, ...]:
    """Gateway ids (patterns) -> gateway sid patterns; a value matching
    ``local`` (the VPC's own route) also gives ``""``, the engine's no-gateway."""
    out = [t for v in values for t in id_tails(Kind.INTERNET_GATEWAY.prefix, v)]
    out += [""] if any(wildcard_match("local", v) for v in values) else []
    return tuple(dict.fromkeys(out)) or (NO_MATCH,)


ROUTE_TABLE_FILTERS: Final[dict[str, FilterSpec]] = {
    "route-table-id": ("sid", strip_prefix(Kind.ROUTE_TABLE), True),
    "vpc-id": ("vpc_sid", strip_prefix(Kind.VPC), True),
    "owner-id": ("owner_number", same, True),
    "association.main": ("main", lookup(_BOOLEANS), False),
    "association.route-table-association-id": (
        "link_sid", strip_prefix(Kind.ROUTE_TABLE_ASSOCIATION), True),
    "association.route-table-id": ("sid", strip_prefix(Kind.ROUTE_TABLE), True),
    "association.subnet-id": ("link_network_sid", strip_prefix(Kind.SUBNET), True),
    "association.gateway-id": ("sid", nothing, False),
    "route.destination-cidr-block": ("route_destination", same, True),
    "route.gateway-id": ("route_gateway_sid", _route_gateways, True),
    "route.origin": ("route_target", lookup_known({
        "CreateRouteTable": ("local",), "CreateRoute": ("gateway",)}), False),
    "route.state": ("route_state", when_matches({"active": ("active",),
                                                 "blackhole": ("blackhole",)}), False),
    **{name: ("sid", nothing, False) for name in (
        "route.destination-ipv6-cidr-block", "route.destination-prefix-list-id",
        "route.egress-only-internet-gateway-id", "route.instance-id", "route.nat-gateway-id",
        "route.transit-gateway-id", "route.vpc-peering-connection-id")},
}


PLACEMENT_GROUP_FILTERS: Final[dict[str, FilterSpec]] = {
    "group-name": ("name", same, True),
    "group-id": ("sid", strip_prefix(Kind.PLACEMENT_GROUP), True),
    "state": ("sid", constant("available"), True),
    "strategy": ("policy", lookup({"spread": ("host anti-affinity",),
                                   "cluster": ("host affinity",)}), False),
    "group-arn": ("name", arn_tail("placement-group"), True),
    "spread-level": ("policy", lookup({"host": ("host anti-affinity",)}), False),
}


def _ip_owners(values: Sequence[str]) -> tuple[str, ...]:
    """``amazon`` (the pool's own addresses) is the engine's ``""``."""
    return tuple("" if v == "amazon" else v for v in values)


NETWORK_INTERFACE_FILTERS: Final[dict[str, FilterSpec]] = {
    "network-interface-id": ("sid", strip_prefix(Kind.NETWORK_INTERFACE), True),
    "subnet-id": ("network_sid", strip_prefix(Kind.SUBNET), True),
    "vpc-id": ("vpc_sid", strip_prefix(Kind.VPC), True),
    "attachment.instance-id": ("instance_sid", strip_prefix(Kind.INSTANCE), True),
    "attachment.attachment-id": ("attachment_sid", strip_prefix_as("eni-attach"), True),
    "attachment.device-index": ("device_id", same, True),
    "attachment.status": ("attachment_status", same, True),
    "attachment.delete-on-termination": ("delete_on_termination", same, True),
    "attachment.instance-owner-id": ("owner_number", same, True),
    "private-ip-address": ("ip_address", same, True),
    "addresses.private-ip-address": ("ip_address", same, True),
    "addresses.primary": ("sid", constant("true"), True),
    "private-dns-name": ("sid", nothing, False),
    "mac-address": ("mac_address", same, True),
    "availability-zone": ("zone_name", same, True),
    "owner-id": ("owner_number", same, True),
    "status": ("status", same, True),
    "group-id": ("group_sid", strip_prefix(Kind.SECURITY_GROUP), True),
    "group-name": ("group_name", same, True),
    "association.public-ip": ("public_ip", same, True),
    "addresses.association.public-ip": ("public_ip", same, True),
    "interface-type": ("sid", constant("interface"), True),
    "requester-managed": ("sid", constant("false"), True),
    "source-dest-check": ("source_dest_check", same, True),
    "description": ("description", same, True),
    "availability-zone-id": ("zone_name", zone_ids, True),
    "attachment.attach-time": ("created_at", same, True),
    "association.allocation-id": ("public_ip_sid", strip_prefix(Kind.ADDRESS), True),
    "association.association-id": (
        "public_ip_association_sid", strip_prefix(Kind.ASSOCIATION), True),
    "association.ip-owner-id": ("public_ip_owner", _ip_owners, True),
    "addresses.association.owner-id": ("public_ip_owner", _ip_owners, True),
    "operator.managed": ("sid", constant("false"), True),
    **nothing_specs("association.public-dns-name", "ipv6-addresses.ipv6-address",
                    "operator.principal", "requester-id"),
}

