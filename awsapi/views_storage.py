"""Engine volumes, snapshots and addresses -> EC2 output dicts (botocore member names).

Also the EC2 facts these views rest on: the volume and snapshot state names,
device names <-> engine device slots, and the IOPS/throughput EC2 reports for
each volume type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from awsapi.devices import ROOT_DEVICE, device_name, device_slot  # noqa: F401
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind, render
from awsapi.views import aware, tags, zone_id
from engine.states import JobStatus, SnapshotState, VolumeState

if TYPE_CHECKING:
    from engine.services.addresses import AddressDetail
    from engine.services.snapshots import SnapshotDetail
    from engine.services.volumes import VolumeDetail, VolumeModification

# ------------------------------------------------------------------ devices
# Engine data-disk slots are 1..25 except 3 (the CD-ROM); slot 0 is the root
# disk. EC2 names data devices /dev/sdf .. /dev/sdz; letter n takes the n-th
# free slot, so every letter has one.


def require_device_slot(name: str) -> int:
    """The data slot for ``name``, or EC2's InvalidParameterValue."""
    slot = device_slot(name)
    if not slot:
        # QUIRK(ec2): AWS's own wording for a device it will not attach at.
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({name}) for parameter device is invalid. "
                       f"{name} is not a valid EBS device name.")
    return slot


# ------------------------------------------------------------------ volumes
DEFAULT_VOLUME_TYPE: Final = "gp2"
# Volume type -> (min GiB, max GiB); AWS's documented ranges.
SIZE_RANGE: Final[dict[str, tuple[int, int]]] = {
    "gp2": (1, 16384), "gp3": (1, 16384), "io1": (4, 16384), "io2": (4, 16384),
    "st1": (125, 16384), "sc1": (125, 16384), "standard": (1, 1024),
}
PROVISIONED_IOPS: Final = frozenset({"io1", "io2"})

# Stable engine states of a volume that EC2 shows as available / in-use.
SETTLED: Final = (VolumeState.ALLOCATED, VolumeState.READY, VolumeState.RESIZING,
                  VolumeState.SNAPSHOTTING)


def _pairs(states: tuple[VolumeState, ...], *holders: str) -> tuple[str, ...]:
    return tuple(f"{s.value}/{h}" for s in states for h in holders)


# EC2 volume status -> engine "<state>/<attached|detached>" values.
VOLUME_STATUS: Final[dict[str, tuple[str, ...]]] = {
    "available": _pairs(SETTLED, "detached"),
    "in-use": _pairs(SETTLED, "attached"),
    "creating": _pairs((VolumeState.CREATING,), "attached", "detached"),
    "error": _pairs((VolumeState.ERROR,), "attached", "detached"),
    "deleting": _pairs((VolumeState.DESTROY,), "attached", "detached"),
    "deleted": _pairs((VolumeState.EXPUNGED,), "attached", "detached"),
}


def volume_state(d: VolumeDetail) -> str:
    v = d.volume
    match v.state:
        case VolumeState.CREATING:
            return "creating"
        case VolumeState.ERROR:
            return "error"
        case VolumeState.DESTROY:
            return "deleting"
        case VolumeState.EXPUNGED:
            return "deleted"
    return "in-use" if v.instance_uuid else "available"


def iops(volume_type: str, size_gib: int, stored: int | None = None) -> int | None:
    """The IOPS EC2 reports for a volume: the provisioned ``stored`` value, else
    the type's baseline."""
    if stored is not None and volume_type in PROVISIONED_IOPS | {"gp3"}:
        return stored
    match volume_type:
        case "gp2":
            return min(max(100, 3 * size_gib), 16000)
        case "gp3":
            return 3000
        case "io1" | "io2":
            return min(50 * size_gib, 64000)
    return None


def throughput(volume_type: str, stored: int | None = None) -> int | None:
    """The provisioned throughput (MiB/s) of a gp3 volume; None for other types."""
    if volume_type != "gp3":
        return None
    return stored if stored is not None else 125


def attachment(d: VolumeDetail, *, state: str | None = None) -> dict[str, Any]:
    v = d.volume
    assert d.instance is not None
    return {
        "VolumeId": render(Kind.VOLUME, v.sid),
        "InstanceId": render(Kind.INSTANCE, d.instance.sid),
        "Device": device_name(v.device_id, v.kind),
        "State": state or d.attachment.value,
        "AttachTime": aware(v.attached_at) or datetime.now(UTC),
        "DeleteOnTermination": v.delete_on_termination,
    }


def volume(d: VolumeDetail) -> dict[str, Any]:
    v = d.volume
    size = d.size_gib
    return {
        "VolumeId": render(Kind.VOLUME, v.sid),
        "Size": size,
        "SnapshotId": render(Kind.SNAPSHOT, d.snapshot.sid) if d.snapshot else "",
        "AvailabilityZone": d.zone.name,
        "AvailabilityZoneId": zone_id(d.zone),
        "State": volume_state(d),
        "CreateTime": aware(v.created_at),
        "Attachments": [attachment(d)] if v.instance_uuid and d.instance else [],
        "Encrypted": False,
        "VolumeType": v.volume_type,
        "Iops": iops(v.volume_type, size, v.iops),
        "Throughput": throughput(v.volume_type, v.throughput),
        "MultiAttachEnabled": False,
        "Tags": tags(d.tags) or None,
    }


def volume_status(d: VolumeDetail) -> dict[str, Any]:
    v = d.volume
    status = {VolumeState.ERROR: "impaired",
              VolumeState.CREATING: "insufficient-data"}.get(v.state, "ok")
    io = "failed" if status == "impaired" else "passed"
    out: dict[str, Any] = {
        "VolumeId": render(Kind.VOLUME, v.sid),
        "AvailabilityZone": d.zone.name,
        "AvailabilityZoneId": zone_id(d.zone),
        "VolumeStatus": {"Status": status, "Details": [
            {"Name": "io-enabled", "Status": io},
            {"Name": "io-performance", "Status": "not-applicable"}]},
        "Events": [],
        "Actions": [],
    }
    if v.instance_uuid and d.instance:
        out["AttachmentStatuses"] = [{"InstanceId": render(Kind.INSTANCE, d.instance.sid),
                                      "IoPerformance": "normal"}]
    return out


# Engine job status -> EC2 modification state.
MODIFICATION_STATE: Final[dict[JobStatus, str]] = {
    JobStatus.QUEUED: "modifying",
    JobStatus.RUNNING: "modifying",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}
MODIFICATION_STATE_BY_NAME: Final[dict[str, tuple[str, ...]]] = {}
for _status, _name in MODIFICATION_STATE.items():
    MODIFICATION_STATE_BY_NAME[_name] = MODIFICATION_STATE_BY_NAME.get(_name, ()) + (
        _status.value,)
MODIFICATION_STATE_BY_NAME["optimizing"] = ()


def modification(m: VolumeModification) -> dict[str, Any]:
    state = MODIFICATION_STATE[m.status]
    out: dict[str, Any] = {
        "VolumeId": render(Kind.VOLUME, m.volume_sid),
        "ModificationState": state,
        "TargetSize": m.new_size_gib,
        "TargetVolumeType": m.new_volume_type,
        "TargetIops": iops(m.new_volume_type, m.new_size_gib, m.new_iops),
        "TargetThroughput": throughput(m.new_volume_type, m.new_throughput),
        "TargetMultiAttachEnabled": False,
        "OriginalSize": m.old_size_gib,
        "OriginalVolumeType": m.old_volume_type,
        "OriginalIops": iops(m.old_volume_type, m.old_size_gib, m.old_iops),
        "OriginalThroughput": throughput(m.old_volume_type, m.old_throughput),
        "OriginalMultiAttachEnabled": False,
        "Progress": 100 if state == "completed" else 0,
        "StartTime": aware(m.started_at),
    }
    if state in ("completed", "failed"):
        out["EndTime"] = aware(m.completed_at) or aware(m.started_at)
    if state == "failed" and m.message:
        out["StatusMessage"] = m.message
    return out


# ---------------------------------------------------------------- snapshots
SNAPSHOT_STATE: Final[dict[SnapshotState, str]] = {
    SnapshotState.ALLOCATED: "pending",
    SnapshotState.CREATING: "pending",
    SnapshotState.BACKED_UP: "completed",
    SnapshotState.ERROR: "error",
    SnapshotState.DESTROYED: "error",
}
SNAPSHOT_STATE_BY_NAME: Final[dict[str, tuple[str, ...]]] = {
    "pending": (SnapshotState.ALLOCATED.value, SnapshotState.CREATING.value),
    "completed": (SnapshotState.BACKED_UP.value,),
    "error": (SnapshotState.ERROR.value,),
    "recoverable": (),
    "recovering": (),
}
SNAPSHOT_PROGRESS: Final[dict[str, tuple[str, ...]]] = {
    "100%": (SnapshotState.BACKED_UP.value,),
    "0%": (SnapshotState.ALLOCATED.value, SnapshotState.CREATING.value,
           SnapshotState.ERROR.value),
}


def snapshot(d: SnapshotDetail) -> dict[str, Any]:
    s = d.snapshot
    state = SNAPSHOT_STATE[s.state]
    out: dict[str, Any] = {
        "SnapshotId": render(Kind.SNAPSHOT, s.sid),
        # QUIRK(ec2): a copy names no volume: AWS shows the placeholder vol-ffffffff.
        "VolumeId": "vol-ffffffff" if s.copied_from_uuid else render(Kind.VOLUME, d.volume.sid),
        "State": state,
        "StartTime": aware(s.created_at),
        "Progress": "100%" if state == "completed" else "0%",
        "OwnerId": d.account.number,
        "Description": s.description,
        "VolumeSize": d.size_gib,
        "Encrypted": False,
        "StorageTier": "standard",
        "Tags": tags(d.tags) or None,
    }
    if state == "error":
        out["StateMessage"] = "The snapshot could not be taken"
    return out


def snapshot_info(d: SnapshotDetail) -> dict[str, Any]:
    """A snapshot as CreateSnapshots lists it (the SnapshotInfo shape)."""
    full = snapshot(d)
    out = {k: full[k] for k in ("SnapshotId", "VolumeId", "State", "StartTime", "Progress",
                                "OwnerId", "Description", "VolumeSize", "Encrypted", "Tags")}
    out["AvailabilityZone"] = d.zone.name
    return out


# ---------------------------------------------------------------- addresses
def address(d: AddressDetail, region: str) -> dict[str, Any]:
    ip = d.ip
    out: dict[str, Any] = {
        "PublicIp": ip.address,
        "AllocationId": render(Kind.ADDRESS, ip.sid),
        "Domain": "vpc",
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": region,
        "Tags": tags(d.tags) or None,
    }
    if d.instance is not None:
        out["InstanceId"] = render(Kind.INSTANCE, d.instance.sid)
        if ip.association_sid:
            out["AssociationId"] = render(Kind.ASSOCIATION, ip.association_sid)
        if d.nic is not None:
            out["PrivateIpAddress"] = d.nic.ip_address
            out["NetworkInterfaceId"] = render(Kind.NETWORK_INTERFACE, d.nic.sid)
            out["NetworkInterfaceOwnerId"] = d.account.number
    return out
