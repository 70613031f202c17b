"""Engine objects -> EC2 output dicts (keys are botocore member names)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from awsapi.devices import device_name
from awsapi.ids import Kind, render
from engine.services.instance_summary import InstanceSummary, NicSummary, summarize
from engine.states import VmState, VolumeKind

if TYPE_CHECKING:
    from engine.models import Region, Tag, Zone
    from engine.services.catalog import TemplateDetail
    from engine.services.instance_details import InstanceDetail

# Engine VM state -> (EC2 code, EC2 name).
STATE: Final[dict[VmState, tuple[int, str]]] = {
    VmState.STARTING: (0, "pending"),
    VmState.RUNNING: (16, "running"),
    VmState.MIGRATING: (16, "running"),
    VmState.STOPPING: (64, "stopping"),
    VmState.STOPPED: (80, "stopped"),
    VmState.EXPUNGING: (32, "shutting-down"),
    VmState.DESTROYED: (48, "terminated"),
    VmState.EXPUNGED: (48, "terminated"),
    VmState.ERROR: (48, "terminated"),
}

# EC2 state name -> engine states (for the instance-state-name filter).
STATE_BY_NAME: Final[dict[str, tuple[str, ...]]] = {}
for _state, (_code, _name) in STATE.items():
    STATE_BY_NAME.setdefault(_name, ())
    STATE_BY_NAME[_name] += (_state.value,)
STATE_BY_CODE: Final[dict[str, tuple[str, ...]]] = {
    str(code): STATE_BY_NAME[name] for code, name in set(STATE.values())
}


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def state(vm_state: VmState) -> dict[str, Any]:
    code, name = STATE[vm_state]
    return {"Code": code, "Name": name}


def tags(rows: list[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in rows]


def zone_id(zone: Zone, region: Region | None = None) -> str:
    """AWS-style zone id (``use1-az1``): region initials + the zone's ordinal."""
    region_name = region.name if region else zone.name[:-1]
    parts = region_name.split("-")
    short = (parts[0][:2] + "".join(p[0] for p in parts[1:-1]) + parts[-1]) if len(parts) >= 3 \
        else region_name.replace("-", "")
    letter = zone.name[-1] if zone.name[-1].isalpha() else "a"
    return f"{short}-az{ord(letter) - ord('a') + 1}"


def private_dns(ip: str | None) -> str:
    return f"ip-{ip.replace('.', '-')}.ec2.internal" if ip else ""


def instance(d: InstanceDetail | InstanceSummary) -> dict[str, Any]:
    """An ``Instance`` (of a summary, or of a detail through its summary).
    Views of many instances share their constant parts (state, monitoring,
    CPU options, equal tag lists ... are the same objects): read-only. Its times are the
    engine's (naive UTC) datetimes, which the serializer writes as UTC:
    converting thousands of them per listing is not free."""
    s = d if type(d) is InstanceSummary else summarize(d)  # type: ignore[arg-type]
    vm_state = s.state
    nic = s.primary_nic if s.nics else None
    private_ip: str | None
    public_ip: str | None
    vpc: str | None
    subnet: str | None
    dns = ""
    if nic:
        private_ip = nic.ip_address
        public_ip = nic.public_address
        network_sid = nic.network_sid
        vpc = _VPC + (nic.vpc_sid or network_sid)
        subnet = _SUBNET + network_sid
        dns = private_dns(private_ip)  # the primary interface's too
    else:
        private_ip = public_ip = vpc = subnet = None
    groups = _group_list(s.security_groups)
    gone = vm_state in _GONE
    out: dict[str, Any] = {
        "InstanceId": _INSTANCE + s.sid,
        "ImageId": _IMAGE + s.template_sid,
        "State": _STATE_VIEW[vm_state],
        "PrivateDnsName": dns if not gone else "",
        "PublicDnsName": "",
        "StateTransitionReason": _transition_reason(s) if vm_state in _REASONED else "",
        "AmiLaunchIndex": s.launch_index,
        "ProductCodes": _NONE,
        "InstanceType": s.offering_name,
        "LaunchTime": s.created_at,
        "Placement": (_zone_placement(s.zone_name) if s.placement_group is None
                      else _placement(s)),
        "Monitoring": _MONITORING,
        "Architecture": s.arch,
        "RootDeviceType": "ebs",
        "RootDeviceName": s.root_device_name,
        "BlockDeviceMappings": _block_devices(s) if not gone else _NONE,
        "VirtualizationType": "hvm",
        "ClientToken": s.client_token or "",
        "Tags": _tag_list(tuple(s.tags)) if s.tags else None,
        "SecurityGroups": groups,
        "SourceDestCheck": nic.source_dest_check is not False if nic else True,
        "Hypervisor": "xen",
        "EbsOptimized": False,
        "EnaSupport": True,
        "CpuOptions": _cpu_options(s.cpus),
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "MetadataOptions": _DEFAULT_METADATA_OPTIONS,
    }
    if not gone:
        out["PrivateIpAddress"] = private_ip
        out["PublicIpAddress"] = public_ip
        out["VpcId"] = vpc
        out["SubnetId"] = subnet
        owner = s.account_number
        out["NetworkInterfaces"] = [_interface(owner, n, groups, dns if n is nic else None)
                                    for n in s.nics]
    if s.key_pair_name:
        out["KeyName"] = s.key_pair_name
    # As AWS, always shown (constants: the serializer writes a shared one once).
    out["HibernationOptions"] = _HIBERNATION_ON if s.hibernation_enabled else _HIBERNATION_OFF
    reason = _STATE_REASON.get(vm_state)
    if reason is not None:
        out["StateReason"] = reason
    return out


# Constant parts shared by every instance view (never mutate them).
_NONE: Final[list[Any]] = []
_MONITORING: Final = {"State": "disabled"}
_HIBERNATION_ON: Final = {"Configured": True}
_HIBERNATION_OFF: Final = {"Configured": False}
_DEFAULT_METADATA_OPTIONS: Final = {"State": "applied", "HttpTokens": "optional",
                                    "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
_STATE_VIEW: Final = {s: {"Code": code, "Name": name} for s, (code, name) in STATE.items()}


@functools.lru_cache(maxsize=64)
def _cpu_options(cpus: int) -> dict[str, int]:
    return {"CoreCount": max(1, cpus // 2) if cpus > 1 else 1,
            "ThreadsPerCore": 2 if cpus > 1 else 1}


@functools.lru_cache(maxsize=256)
def _tag_list(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """The ``Tags`` of (key, value) pairs; instances with the same tags (a
    batch launched together) share one list, which the serializer writes once."""
    return [{"Key": k, "Value": v} for k, v in pairs]


@functools.lru_cache(maxsize=1024)
def _group_list(groups: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """The instance's groups ((name, sid) pairs); instances with the same
    groups share one list (which the serializer then writes once)."""
    return [{"GroupName": name, "GroupId": _SECURITY_GROUP + sid} for name, sid in groups]


_GONE: Final = frozenset({VmState.EXPUNGED, VmState.ERROR, VmState.DESTROYED})
# "<prefix>-" of the ids rendered for every instance (what ids.render prepends).
_INSTANCE: Final = render(Kind.INSTANCE, "")
_IMAGE: Final = render(Kind.IMAGE, "")
_VPC: Final = render(Kind.VPC, "")
_SUBNET: Final = render(Kind.SUBNET, "")
_ENI: Final = render(Kind.NETWORK_INTERFACE, "")
_SECURITY_GROUP: Final = render(Kind.SECURITY_GROUP, "")
_VOLUME: Final = render(Kind.VOLUME, "")


_USER_ENDED: Final = frozenset({VmState.STOPPED, VmState.STOPPING, VmState.EXPUNGED,
                                VmState.EXPUNGING, VmState.DESTROYED})


# States whose instances have a transition reason (others have "").
_REASONED: Final = _USER_ENDED | {VmState.ERROR}


def _transition_reason(s: InstanceSummary) -> str:
    if s.state in _USER_ENDED:
        when = aware(s.state_changed_at)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S GMT") if when else ""
        return f"User initiated ({stamp})"
    if s.state == VmState.ERROR:
        return "Server.InternalError"
    return ""


_USER_SHUTDOWN: Final = {"Code": "Client.UserInitiatedShutdown",
                         "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
# StateReason by state (states without one are absent).
_STATE_REASON: Final[dict[VmState, dict[str, str]]] = {
    VmState.ERROR: {"Code": "Server.InternalError",
                    "Message": "Server.InternalError: Internal error on launch"},
    **{s: _USER_SHUTDOWN for s in (VmState.STOPPED, VmState.STOPPING, VmState.EXPUNGED,
                                   VmState.EXPUNGING, VmState.DESTROYED)},
}


def _block_devices(s: InstanceSummary) -> list[dict[str, Any]]:
    out = []
    for v in s.volumes:
        kind = v.kind
        name = (s.root_device_name if kind == VolumeKind.ROOT
                else device_name(v.device_id, kind))
        out.append({"DeviceName": name, "Ebs": {
            "AttachTime": v.attached_at,
            "DeleteOnTermination": v.delete_on_termination,
            "Status": "attached", "VolumeId": _VOLUME + v.sid}})
    return out


def reservation(reservation_sid: str, owner: str,
                items: Sequence[InstanceDetail] | Sequence[InstanceSummary]) -> dict[str, Any]:
    return {
        "ReservationId": render(Kind.RESERVATION, reservation_sid),
        "OwnerId": owner,
        "Groups": [],
        "Instances": [instance(d) for d in items],
    }


def image(t: TemplateDetail) -> dict[str, Any]:
    tm = t.template
    ready = any(tz.state.value == "Ready" for _, tz in t.zones)
    errors = [tz.error_text for _, tz in t.zones if tz.state.value == "Error"]
    failed = not ready and bool(errors) and len(errors) == len(t.zones)
    out: dict[str, Any] = {
        "ImageId": render(Kind.IMAGE, tm.sid),
        "ImageLocation": f"{t.owner.number}/{tm.name}",
        "State": "available" if ready else "failed" if failed else "pending",
        "OwnerId": t.owner.number,
        "CreationDate": aware(tm.created_at).strftime("%Y-%m-%dT%H:%M:%S.000Z"),  # type: ignore[union-attr]
        "Public": tm.is_public,
        "Architecture": tm.arch,
        "ImageType": "machine",
        "Name": tm.name,
        "Description": tm.display_text,
        "RootDeviceType": "ebs",
        "RootDeviceName": tm.root_device_name,
        "BlockDeviceMappings": [{"DeviceName": tm.root_device_name, "Ebs": _image_root(t)}],
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EnaSupport": True,
        "PlatformDetails": "Windows" if t.os_type.platform == "windows" else "Linux/UNIX",
        "UsageOperation": "RunInstances",
    }
    if t.tags:
        out["Tags"] = tags(t.tags)
    if tm.template_type == "BUILTIN":
        out["ImageOwnerAlias"] = "amazon"
    if failed:
        out["StateReason"] = {"Code": "Client.ImageDownloadFailed",
                              "Message": errors[0] or "The image could not be made"}
    if t.os_type.platform == "windows":
        out["Platform"] = "windows"
    return out


def _image_root(t: TemplateDetail) -> dict[str, Any]:
    """The root mapping of an image: its size, and the snapshot it was made
    with (and that volume's type) when it has one."""
    size_gib = max(1, -(-t.template.size_bytes // 1024**3))
    ebs: dict[str, Any] = {"DeleteOnTermination": True}
    volume_type = "gp2"
    if t.source_snapshot is not None:
        snapshot_sid, volume_type = t.source_snapshot
        ebs["SnapshotId"] = render(Kind.SNAPSHOT, snapshot_sid)
        volume_type = volume_type or "gp2"
    ebs.update({"VolumeSize": size_gib, "VolumeType": volume_type, "Encrypted": False})
    return ebs


def _interface(owner: str, nic: NicSummary, groups: list[dict[str, str]],
               dns: str | None = None) -> dict[str, Any]:
    """One attached interface of an instance of account ``owner``, as
    RunInstances/DescribeInstances list them (``dns``: its private DNS name,
    if the caller has it)."""
    ip = nic.ip_address
    if dns is None:
        dns = private_dns(ip)
    network_sid = nic.network_sid
    out: dict[str, Any] = {
        "NetworkInterfaceId": _ENI + nic.sid,
        "SubnetId": _SUBNET + network_sid,
        "VpcId": _VPC + (nic.vpc_sid or network_sid),
        "Description": nic.description or "",
        "OwnerId": owner,
        "Status": "in-use",
        "MacAddress": nic.mac_address,
        "PrivateIpAddress": ip,
        "PrivateDnsName": dns,
        "SourceDestCheck": nic.source_dest_check is not False,
        "Groups": groups,
        "InterfaceType": "interface",
        "Attachment": {
            "AttachmentId": _ATTACHMENT + (nic.attachment_sid or nic.sid),
            "DeviceIndex": nic.device_id,
            "NetworkCardIndex": 0,
            "Status": "attached",
            "AttachTime": nic.attached_at,
            "DeleteOnTermination": bool(nic.delete_on_termination),
        },
    }
    primary: dict[str, Any] = {"Primary": True, "PrivateIpAddress": ip, "PrivateDnsName": dns}
    address = nic.public_address
    if address is not None:
        association = {"PublicIp": address, "PublicDnsName": "",
                       "IpOwnerId": owner if nic.public_association_sid else "amazon"}
        out["Association"] = primary["Association"] = association
    out["PrivateIpAddresses"] = [primary]
    return out


_ATTACHMENT: Final = "eni-attach-"


def _placement(s: InstanceSummary) -> dict[str, Any]:
    """Zone, tenancy and the placement group (the instance's first affinity group)."""
    group = s.placement_group
    if group is None:
        return _zone_placement(s.zone_name)
    name, sid = group
    return {"AvailabilityZone": s.zone_name, "GroupName": name,
            "Tenancy": "default", "GroupId": render(Kind.PLACEMENT_GROUP, sid)}


@functools.lru_cache(maxsize=256)
def _zone_placement(zone_name: str) -> dict[str, Any]:
    """The (shared, read-only) placement of an instance in no placement group."""
    return {"AvailabilityZone": zone_name, "GroupName": "", "Tenancy": "default"}
