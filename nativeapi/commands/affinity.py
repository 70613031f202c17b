"""Affinity groups: create, delete, list, list types; change a stopped VM's groups.

The engine does the work of the async commands within the request; they get an
already finished job keyed by the group (or the VM, for updateVMAffinityGroup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.affinity import POLICIES
from nativeapi import views_resources as views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    job_result,
    paging,
)
from nativeapi.commands.ownership import list_all, owner_criteria, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from engine.models import Job


@job_result("affinitygroup")
def affinity_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    if job.resource_kind is not ResourceKind.AFFINITY_GROUP or not job.resource_uuid:
        return None
    try:
        return views.affinity_group(ctx.services.affinity.get(ctx.principal,
                                                              uuid=job.resource_uuid))
    except NotFound:
        return None


@command("createAffinityGroup", is_async=True, creates="affinitygroup")
def create_affinity_group(ctx: CsContext, p: CsParams) -> Submitted:
    group = ctx.services.affinity.create(ctx.principal, p.require("name"), p.require("type"),
                                         p.get("description") or "",
                                         account_uuid=owner_uuid(ctx, p))
    return Submitted(finished(ctx, ResourceKind.AFFINITY_GROUP, group.uuid),
                     object_uuid=group.uuid)


@command("deleteAffinityGroup", is_async=True)
def delete_affinity_group(ctx: CsContext, p: CsParams) -> Submitted:
    uuid, name = p.uuid("id"), p.get("name")
    if (uuid is None) == (not name):
        raise invalid_value("Either the affinity group's name or id is required, not both")
    detail = ctx.services.affinity.get(ctx.principal, uuid=uuid, name=name,
                                       account_uuid=owner_uuid(ctx, p))
    ctx.services.affinity.delete(ctx.principal, detail.group.uuid)
    job = finished(ctx, ResourceKind.AFFINITY_GROUP, detail.group.uuid)
    return Submitted(job)


@command("listAffinityGroups")
def list_affinity_groups(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    for param, field in (("id", "uuid"), ("virtualmachineid", "instance_uuid")):
        if p.uuid(param):
            crit.append(Criterion(field, (p.uuid(param) or "",), False))
    if p.get("name"):
        crit.append(Criterion("name", (p.require("name"),), False))
    if p.get("type"):
        crit.append(Criterion("policy", (p.require("type"),), False))
    if p.get("keyword"):
        crit.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.affinity.list(ctx.principal, crit, paging(ctx, p),
                                      list_all=list_all(p), count=True)
    items = [views.affinity_group(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


_TYPES_META = {
    "style": "sync",
    "itemkey": "affinityGroupType",
    "responseclass": "AffinityGroupTypeResponse",
    "listshaped": True,
    "required": {},
    "optional": {"page": "integer", "pagesize": "integer", "keyword": "string"},
    "responsefields": {"type": "str"},
    "description": "Lists affinity group types available",
}


@command("listAffinityGroupTypes", meta=_TYPES_META)
def list_affinity_group_types(ctx: CsContext, p: CsParams) -> Listing:
    items = [{"type": policy} for policy in POLICIES]
    return Listing(items, len(items))


_UPDATE_VM_META = {
    "style": "async",
    "async_": True,
    "itemkey": "virtualmachine",
    "responsekey": "updatevirtualmachineresponse",
    "responseclass": "UserVmResponse",
    "required": {"id": "uuid"},
    "optional": {"affinitygroupids": "list", "affinitygroupnames": "list"},
    "responsefields": load_commands()["listVirtualMachines"]["responsefields"],
    "description": "Updates the affinity/anti-affinity group associations of a virtual "
                   "machine. The VM has to be stopped and restarted for the new properties "
                   "to take effect.",
}


@command("updateVMAffinityGroup", meta=_UPDATE_VM_META, is_async=True)
def update_vm_affinity_group(ctx: CsContext, p: CsParams) -> Submitted:
    vm_uuid = p.uuid("id", required=True) or ""
    ids, names = p.uuid_list("affinitygroupids"), p.list("affinitygroupnames")
    if ids and names:
        raise invalid_value("affinitygroupids parameter is mutually exclusive with "
                            "affinitygroupnames parameter")
    ctx.services.affinity.update_instance(ctx.principal, vm_uuid, ids, names)
    return Submitted(finished(ctx, ResourceKind.INSTANCE, vm_uuid))

