"""Filter tables of DescribeInstances and DescribeImages.

Filters on what every resource here shows the same way (``views.instance`` /
``views.image``: architecture from the template, ``hvm``, ``ebs``, ``xen``,
default tenancy ...) are ``constant``; filters on features that do not exist
here (spot, capacity reservations, IPv6, Elastic GPUs ...) match nothing, as
AWS's do for resources without the attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from awsapi.devices import DATA_SLOTS, device_name, device_slot
from awsapi.filters_base import (
    FilterSpec,
    booleans,
    constant,
    constant_specs,
    expanding,
    has_wildcards,
    lookup,
    nothing_specs,
    numbers,
    private_dns_names,
    same,
    strip_prefix,
    strip_prefix_as,
    when_matches,
    wildcard_match,
    zone_ids,
)
from awsapi.ids import Kind
from awsapi.views import STATE_BY_CODE, STATE_BY_NAME
from engine.services.volumes import MAX_SIZE_GIB
from engine.states import VmState

_ENABLED: Final = {"enabled": ("true",), "disabled": ("false",)}
_STOPPED_OR_GONE: Final = tuple(s.value for s in (
    VmState.STOPPED, VmState.STOPPING, VmState.EXPUNGED, VmState.EXPUNGING, VmState.DESTROYED))


DEVICE_INDEXES: Final = range(32)  # interface device indexes a pattern may name
HOP_LIMITS: Final = range(1, 65)  # the metadata service's hop limits
LAUNCH_INDEXES: Final = range(1000)  # a launch's instances a pattern may name
VOLUME_SIZES: Final = range(1, MAX_SIZE_GIB + 1)
_BOOLEANS: Final = {"true": ("true",), "false": ("false",)}


@expanding
def device_slots(values: Sequence[str]) -> tuple[str, ...]:
    """Device names -> the engine's disk slots; a pattern -> every slot whose
    name (as instances show it) matches."""
    out: list[str] = []
    for v in values:
        if has_wildcards(v):
            out += [str(slot) for slot in (0, *DATA_SLOTS)
                    if wildcard_match(device_name(slot), v)]
        else:
            slot = device_slot(v)
            out.append(str(slot) if slot is not None else "-1")
    return tuple(dict.fromkeys(out)) or ("-1",)


def _network_interface_filters(prefix: str) -> dict[str, FilterSpec]:
    """The ``network-interface.*`` filters (also used without the prefix)."""
    assoc: dict[str, FilterSpec] = {
        "allocation-id": ("public_ip_sid", strip_prefix(Kind.ADDRESS), True),
        "association-id": ("public_ip_association_sid", strip_prefix(Kind.ASSOCIATION), True),
        "ip-owner-id": ("public_ip_owner", lambda vs: tuple(
            "" if v == "amazon" else v for v in vs), True),
        "public-ip": ("public_ip_pattern", same, True),
    }
    table: dict[str, FilterSpec] = {
        "addresses.primary": ("nic_sid", constant("true"), True),
        "addresses.private-ip-address": ("nic_ip", same, True),
        "addresses.private-dns-name": ("nic_ip", private_dns_names, True),
        "attachment.attach-time": ("nic_created_at", same, True),
        "attachment.attachment-id": ("nic_sid", strip_prefix_as("eni-attach"), True),
        "attachment.delete-on-termination": ("nic_sid", constant("true"), True),
        "attachment.device-index": ("nic_device_id", numbers(DEVICE_INDEXES), False),
        "attachment.instance-id": ("sid", strip_prefix(Kind.INSTANCE), True),
        "attachment.instance-owner-id": ("owner_number", same, True),
        "attachment.network-card-index": ("nic_sid", constant("0"), True),
        "attachment.status": ("nic_sid", constant("attached"), True),
        "availability-zone": ("zone_pattern", same, True),
        "description": ("nic_sid", constant(""), True),
        "group-id": ("security_group_sid", strip_prefix(Kind.SECURITY_GROUP), True),
        "group-name": ("security_group_name", same, True),
        "mac-address": ("nic_mac", same, True),
        "network-interface-id": ("nic_sid", strip_prefix(Kind.NETWORK_INTERFACE), True),
        "operator.managed": ("nic_sid", constant("false"), True),
        "owner-id": ("owner_number", same, True),
        "private-dns-name": ("nic_ip", private_dns_names, True),
        "private-ip-address": ("nic_ip", same, True),
        "requester-managed": ("nic_sid", constant("false"), True),
        "source-dest-check": ("nic_source_dest_check", when_matches(_BOOLEANS), False),
        "status": ("nic_sid", constant("in-use"), True),
        "subnet-id": ("nic_network_sid", strip_prefix(Kind.SUBNET), True),
        "vpc-id": ("nic_container_sid", strip_prefix(Kind.VPC), True),
        **{f"association.{k}": v for k, v in assoc.items()},
        **{f"addresses.association.{k}": v for k, v in assoc.items()},
        **nothing_specs(
            "addresses.association.carrier-ip", "addresses.association.customer-owned-ip",
            "addresses.association.public-dns-name", "association.carrier-ip",
            "association.customer-owned-ip", "association.public-dns-name",
            "deny-all-igw-traffic", "ipv4-prefixes.ipv4-prefix", "ipv6-address",
            "ipv6-addresses.ipv6-address", "ipv6-addresses.is-primary-ipv6", "ipv6-native",
            "ipv6-prefixes.ipv6-prefix", "operator.principal", "outpost-arn",
            "public-dns-name", "requester-id", "tag-key", "tag-value"),
    }
    return {prefix + name: spec for name, spec in table.items()}


INSTANCE_FILTERS: Final[dict[str, FilterSpec]] = {
    **_network_interface_filters("network-interface."),
    "instance-id": ("sid", strip_prefix(Kind.INSTANCE), True),
    "image-id": ("template_sid_pattern", strip_prefix(Kind.IMAGE), True),
    "instance-state-name": ("state", lookup(STATE_BY_NAME), False),
    "instance-state-code": ("state", lookup(STATE_BY_CODE), False),
    "instance-type": ("offering_pattern", same, True),
    "placement-group-name": ("affinity_group_name", same, True),
    "key-name": ("key_name", same, True),
    "availability-zone": ("zone_pattern", same, True),
    "availability-zone-id": ("zone_pattern", zone_ids, True),
    "private-ip-address": ("nic_ip", same, True),
    "private-dns-name": ("nic_ip", private_dns_names, True),
    "ip-address": ("public_ip_pattern", same, True),
    "reservation-id": ("reservation_sid", strip_prefix(Kind.RESERVATION), True),
    "launch-index": ("launch_index", numbers(LAUNCH_INDEXES), False),
    "group-name": ("security_group_name", same, True),
    "instance.group-name": ("security_group_name", same, True),
    "group-id": ("security_group_sid", strip_prefix(Kind.SECURITY_GROUP), True),
    "instance.group-id": ("security_group_sid", strip_prefix(Kind.SECURITY_GROUP), True),
    "architecture": ("arch", same, True),
    "vpc-id": ("nic_container_sid", strip_prefix(Kind.VPC), True),
    "subnet-id": ("nic_network_sid", strip_prefix(Kind.SUBNET), True),
    "launch-time": ("created_at", same, True),
    "client-token": ("client_token", same, True),
    "owner-id": ("owner_number", same, True),
    "root-device-name": ("root_device_name", same, True),
    "block-device-mapping.attach-time": ("volume_attached_at", same, True),
    "block-device-mapping.delete-on-termination": ("volume_delete_on_termination",
                                                   lookup(_BOOLEANS), False),
    "block-device-mapping.device-name": ("volume_device_id", device_slots, False),
    "block-device-mapping.status": ("volume_sid", constant("attached"), True),
    "block-device-mapping.volume-id": ("volume_sid", strip_prefix(Kind.VOLUME), True),
    "metadata-options.http-endpoint": ("metadata_endpoint", lookup(_ENABLED), False),
    "metadata-options.http-protocol-ipv6": ("metadata_ipv6", lookup(_ENABLED), False),
    "metadata-options.instance-metadata-tags": ("metadata_tags", lookup(_ENABLED), False),
    "metadata-options.http-tokens": ("metadata_token_required", lookup(
        {"required": ("true",), "optional": ("false",)}), False),
    "metadata-options.http-put-response-hop-limit": ("metadata_hop_limit",
                                                     numbers(HOP_LIMITS), False),
    "state-reason-code": ("state", when_matches({
        "Client.UserInitiatedShutdown": _STOPPED_OR_GONE,
        "Server.InternalError": (VmState.ERROR.value,)}), False),
    "state-reason-message": ("state", when_matches({
        "Client.UserInitiatedShutdown: User initiated shutdown": _STOPPED_OR_GONE,
        "Server.InternalError: Internal error on launch": (VmState.ERROR.value,)}), False),
    "reason": ("state", when_matches({
        "User initiated (*)": _STOPPED_OR_GONE,
        "Server.InternalError": (VmState.ERROR.value,)}), False),
    "hibernation-options.configured": ("hibernation_enabled", when_matches(_BOOLEANS), False),
    "source-dest-check": ("nic_source_dest_check", when_matches(_BOOLEANS), False),
    **constant_specs({
        "ebs-optimized": "false", "ena-support": "true", "enclave-options.enabled": "false",
        "hypervisor": "xen",
        "maintenance-options.auto-recovery": "default",
        "metadata-options.http-protocol-ipv4": "enabled", "metadata-options.state": "applied",
        "monitoring-state": "disabled", "network-performance-options.bandwidth-weighting":
        "default", "operator.managed": "false", "platform-details": "Linux/UNIX",
        "private-dns-name-options.enable-resource-name-dns-a-record": "false",
        "private-dns-name-options.enable-resource-name-dns-aaaa-record": "false",
        "private-dns-name-options.hostname-type": "ip-name", "root-device-type": "ebs",
        "tenancy": "default", "usage-operation": "RunInstances",
        "virtualization-type": "hvm"}),
    **nothing_specs(
        "affinity", "boot-mode", "capacity-reservation-id",
        "capacity-reservation-specification.capacity-reservation-preference",
        "capacity-reservation-specification.capacity-reservation-target."
        "capacity-reservation-id",
        "capacity-reservation-specification.capacity-reservation-target."
        "capacity-reservation-resource-group-arn",
        "current-instance-boot-mode", "dns-name", "host-id", "iam-instance-profile.arn",
        "iam-instance-profile.id", "instance-lifecycle", "ipv6-address", "kernel-id",
        "operator.principal", "outpost-arn", "placement-partition-number", "platform",
        "product-code", "product-code.type", "ramdisk-id", "requester-id",
        "spot-instance-request-id", "tpm-support", "usage-operation-update-time"),
}

_IMAGE_STATES: Final = {"available": ("ready",), "pending": ("pending",),
                        "failed": ("failed",)}

IMAGE_FILTERS: Final[dict[str, FilterSpec]] = {
    "image-id": ("sid", strip_prefix(Kind.IMAGE), True),
    "name": ("name", same, True),
    "description": ("description", same, True),
    "is-public": ("is_public", booleans, False),
    "architecture": ("arch", same, True),
    "owner-id": ("owner_number", same, True),
    "state": ("availability", when_matches(_IMAGE_STATES), False),
    "state-reason-code": ("availability", when_matches(
        {"Client.ImageDownloadFailed": ("failed",)}), False),
    "state-reason-message": ("error_text", same, True),
    # CreationDate shows whole seconds (".000Z"): such a value means that second.
    "creation-date": ("created_at", lambda vs: tuple(
        v[:-5] + "Z" if v.endswith(".000Z") else v for v in vs), True),
    "owner-alias": ("template_type", lookup({"amazon": ("BUILTIN",)}), False),
    "platform": ("os_platform", lookup({"windows": ("windows",)}), False),
    "platform-details": ("os_platform", when_matches(
        {"Windows": ("windows",), "Linux/UNIX": ("linux",)}), False),
    "root-device-name": ("root_device_name", same, True),
    "block-device-mapping.device-name": ("root_device_name", same, True),
    "block-device-mapping.volume-size": ("size_gib", numbers(VOLUME_SIZES), False),
    "manifest-location": ("qualified_name", same, True),
    "source-image-id": ("source_template_sid", strip_prefix(Kind.IMAGE), True),
    "block-device-mapping.snapshot-id": ("source_snapshot_sid", strip_prefix(Kind.SNAPSHOT),
                                         True),
    **constant_specs({
        "block-device-mapping.delete-on-termination": "true",
        "block-device-mapping.encrypted": "false", "block-device-mapping.volume-type": "gp2",
        "ena-support": "true", "free-tier-eligible": "false", "hypervisor": "xen",
        "image-allowed": "true", "image-type": "machine", "root-device-type": "ebs",
        "virtualization-type": "hvm"}),
    **nothing_specs(
        "kernel-id", "product-code", "product-code.type",
        "ramdisk-id", "source-image-region", "source-instance-id", "sriov-net-support"),
}
