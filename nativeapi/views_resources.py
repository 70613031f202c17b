"""Engine objects -> CloudStack dicts for storage, security groups, key pairs, tags, events.

Same conventions as :mod:`nativeapi.views` (keys and JSON types from
``nativeapi/spec/commands.json``; None values are dropped by the renderer).
Fields that name infrastructure (storage pool, disk path) are for root admins only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from engine.errors import ResourceKind
from engine.services.affinity import AffinityDetail
from engine.services.events import EventDetail
from engine.services.key_pairs import KeyPairDetail
from engine.services.security_groups import GroupDetail
from engine.services.snapshots import SnapshotDetail
from engine.services.tags import TagDetail
from engine.services.volumes import VolumeDetail
from nativeapi.views import RESOURCE_TYPE, domain_path, tags, vm_state

if TYPE_CHECKING:
    from engine.models import SecurityRule

View = dict[str, Any]

# resourcetype names (any case) -> kinds; createTags/deleteTags/listTags accept these.
TAG_RESOURCE_TYPES: Final[Mapping[str, ResourceKind]] = {
    RESOURCE_TYPE[kind].lower(): kind
    for kind in (ResourceKind.INSTANCE, ResourceKind.VOLUME, ResourceKind.SNAPSHOT,
                 ResourceKind.SECURITY_GROUP, ResourceKind.PUBLIC_IP, ResourceKind.TEMPLATE,
                 ResourceKind.KEY_PAIR)
}


def _owner(account_name: str, domain_uuid: str, domain_name: str, path: str) -> View:
    return {"account": account_name, "domainid": domain_uuid, "domain": domain_name,
            "domainpath": path}


# --- volumes and snapshots -------------------------------------------------------------


def volume(d: VolumeDetail, *, show_admin: bool) -> View:
    """A ``VolumeResponse``; ``size`` in bytes."""
    v, vm = d.volume, d.instance
    offering = d.disk_offering
    out: View = {
        "id": v.uuid,
        "name": v.name,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "type": v.kind.value,
        "size": v.size_bytes,
        "virtualsize": v.size_bytes,
        "created": v.created_at,
        "state": v.state.value,
        **_owner(d.account.name, d.domain.uuid, d.domain.name, domain_path(d.domain)),
        "storagetype": "shared",
        "provisioningtype": "thin",
        "diskofferingid": offering.uuid if offering else None,
        "diskofferingname": offering.name if offering else None,
        "diskofferingdisplaytext": (offering.display_text or offering.name) if offering else None,
        "snapshotid": d.snapshot.uuid if d.snapshot else None,
        "templateid": v.template_uuid,
        "destroyed": False,
        "isextractable": False,
        "displayvolume": True,
        "quiescevm": False,
        "supportsstoragesnapshot": False,
        "deleteprotection": False,
        "hasannotations": False,
        "tags": tags(d.tags, d.account, d.domain),
    }
    if v.iops is not None:  # provisioned IOPS: a fixed rate, as min and max
        out.update(miniops=v.iops, maxiops=v.iops)
    if vm is not None:
        out.update(
            virtualmachineid=vm.uuid,
            vmname=vm.name,
            vmdisplayname=vm.display_name or vm.name,
            vmstate=vm_state(vm.state),
            vmtype="User",
            deviceid=v.device_id,
            attached=v.attached_at,
            hypervisor=vm.hypervisor,
        )
    if show_admin:
        out["path"] = v.path or None
        if d.pool is not None:
            out.update(storageid=d.pool.uuid, storage=d.pool.name)
    return out


def snapshot(d: SnapshotDetail) -> View:
    """A ``SnapshotResponse`` of a manual volume snapshot."""
    s = d.snapshot
    return {
        "id": s.uuid,
        "name": s.name,
        **_owner(d.account.name, d.domain.uuid, d.domain.name, domain_path(d.domain)),
        "snapshottype": "MANUAL",
        "intervaltype": "MANUAL",
        "locationtype": "PRIMARY",
        "volumeid": d.volume.uuid,
        "volumename": d.volume.name,
        "volumetype": s.volume_kind.value,
        "volumestate": d.volume.state.value,
        "created": s.created_at,
        "state": s.state.value,
        "physicalsize": s.size_bytes,
        "virtualsize": s.size_bytes,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "revertable": d.revertable,
        "hasannotations": False,
        "tags": tags(d.tags, d.account, d.domain),
    }


# --- security groups -------------------------------------------------------------------


def security_rule(r: SecurityRule, d: GroupDetail) -> View:
    """A ``SecurityGroupRuleResponse``: ports for tcp/udp, type/code for icmp,
    and either ``cidr`` or the source group's name and account."""
    out: View = {"ruleid": r.uuid, "protocol": r.protocol, "tags": []}
    if r.protocol in ("tcp", "udp"):
        out.update(startport=r.start_port, endport=r.end_port)
    elif r.protocol == "icmp":
        out.update(icmptype=r.start_port, icmpcode=r.end_port)
    if r.cidr is not None:
        out["cidr"] = r.cidr
    elif r.source_group_uuid:
        peer = d.peers.get(r.source_group_uuid)
        if peer is not None:
            account = d.peer_accounts.get(peer.account_uuid)
            out["securitygroupname"] = peer.name
            out["account"] = account.name if account is not None else None
    return out


def security_group_full(d: GroupDetail, only_rules: Iterable[str] | None = None) -> View:
    """A ``SecurityGroupResponse`` with its rules (only ``only_rules`` uuids, if given)."""
    g = d.group
    keep = None if only_rules is None else set(only_rules)

    def rules(rows: Sequence[SecurityRule]) -> list[View]:
        return [security_rule(r, d) for r in rows if keep is None or r.uuid in keep]

    return {
        "id": g.uuid,
        "name": g.name,
        "description": g.description,
        **_owner(d.account.name, d.domain.uuid, d.domain.name, domain_path(d.domain)),
        "ingressrule": rules(d.ingress),
        "egressrule": rules(d.egress),
        "tags": tags(d.tags, d.account, d.domain),
        "virtualmachinecount": len(d.instance_uuids),
        "virtualmachineids": list(d.instance_uuids),
    }


# --- key pairs, tags, events -----------------------------------------------------------


def key_pair(d: KeyPairDetail, private_key: str | None = None) -> View:
    """An ``SSHKeyPairResponse`` (MD5 colon fingerprint); ``privatekey`` once, on create."""
    k = d.key_pair
    return {
        "id": k.uuid,
        "name": k.name,
        "account": d.account.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "fingerprint": k.fingerprint_md5,
        "privatekey": private_key,
        "hasannotations": False,
    }


def tag(d: TagDetail) -> View:
    """A ``ResourceTagResponse``."""
    return tags([d.tag], d.account, d.domain)[0]


def event(d: EventDetail) -> View:
    """An ``EventResponse``."""
    e = d.event
    out: View = {
        "id": e.uuid,
        "username": d.user.username if d.user is not None else None,
        "type": e.event_type,
        "level": e.level,
        "description": e.description,
        "created": e.created_at,
        "state": e.state,
        "archived": False,
        "resourceid": e.resource_uuid,
        "resourcetype": (RESOURCE_TYPE.get(e.resource_kind, e.resource_kind.value)
                         if e.resource_kind is not None else None),
    }
    if d.account is not None:
        out["account"] = d.account.name
    if d.domain is not None:
        out.update(domainid=d.domain.uuid, domain=d.domain.name, domainpath=domain_path(d.domain))
    return out


def affinity_group(d: AffinityDetail) -> View:
    """An ``AffinityGroupResponse``."""
    g = d.group
    return {
        "id": g.uuid,
        "name": g.name,
        "description": g.description,
        "type": g.policy,
        **_owner(d.account.name, d.domain.uuid, d.domain.name, domain_path(d.domain)),
        "virtualmachineIds": list(d.instance_uuids),
    }
