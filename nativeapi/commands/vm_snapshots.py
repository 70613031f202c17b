"""VM snapshots and VM restore: createVMSnapshot, listVMSnapshot,
revertToVMSnapshot, deleteVMSnapshot, restoreVirtualMachine.

Thin translators over ``services.vm_snapshots`` and ``services.instance_restore``;
the ``VMSnapshotResponse`` view lives here. revertToVMSnapshot and
restoreVirtualMachine answer with the virtual machine (their jobs run under
the VM's id, which queryAsyncJobResult renders).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound
from engine.querying import Criterion
from nativeapi.commands import (
    JOB_RESULTS,
    CsContext,
    Listing,
    Submitted,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_criteria
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.views import domain_path, tags

if TYPE_CHECKING:
    from engine.models import Job
    from engine.services.vm_snapshots import VmSnapshotDetail

View = dict[str, Any]


def vm_snapshot(d: VmSnapshotDetail) -> View:
    """A ``VMSnapshotResponse``: ``name`` is the internal name, ``displayname``
    the one given at creation (or the internal name)."""
    s, vm = d.snapshot, d.instance
    out: View = {
        "id": s.uuid,
        "name": s.name,
        "displayname": s.display_name,
        "description": s.description,
        "state": s.state,
        "type": s.kind,
        "current": bool(s.current),
        "created": s.created_at,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "virtualmachineid": vm.uuid,
        "virtualmachinename": vm.display_name or vm.name,
        "hypervisor": _hypervisor(vm.hypervisor),
        "account": d.account.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "domainpath": domain_path(d.domain),
        "hasannotations": False,
        "tags": tags(d.tags, d.account, d.domain),
    }
    if d.parent is not None:
        out["parent"] = d.parent.uuid
        out["parentName"] = d.parent.display_name
    return out


def _hypervisor(name: str) -> str:
    return {"kvm": "KVM", "vmware": "VMware", "xenserver": "XenServer",
            "simulator": "Simulator"}.get(name.lower(), name)


def vm_snapshot_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The VM snapshot a finished createVMSnapshot job took."""
    uuid = json.loads(job.payload or "{}").get("vm_snapshot_uuid")
    if not uuid:
        return None
    try:
        return vm_snapshot(ctx.services.vm_snapshots.get(ctx.principal, uuid))
    except NotFound:
        return {"id": uuid, "state": "Expunging"}


JOB_RESULTS["createVMSnapshot"] = vm_snapshot_job_result


@command("createVMSnapshot", is_async=True, creates="vmsnapshot")
def create_vm_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    vs, job = ctx.services.vm_snapshots.create(
        ctx.principal, p.uuid("virtualmachineid", required=True) or "",
        name=p.get("name") or None, description=p.get("description"),
        memory=bool(p.boolean("snapshotmemory", False)),
        quiesce=bool(p.boolean("quiescevm", False)), command=ctx.command.name)
    return Submitted(job, object_uuid=vs.uuid)


def _criteria(ctx: CsContext, p: CsParams) -> list[Criterion]:
    crit: list[Criterion] = []
    uuids = [u for u in [p.uuid("vmsnapshotid"), *p.uuid_list("vmsnapshotids")] if u]
    if uuids:
        crit.append(Criterion("uuid", tuple(uuids), False))
    vm = p.uuid("virtualmachineid")
    if vm:
        crit.append(Criterion("instance_uuid", (vm,), False))
    for param, field in (("name", "name"), ("state", "state"), ("keyword", "keyword")):
        if p.get(param):
            crit.append(Criterion(field, (p.require(param),), False))
    domain = p.uuid("domainid")
    if domain and not p.get("account"):
        field = "domain_tree" if p.boolean("isrecursive", False) else "domain_uuid"
        crit.append(Criterion(field, (domain,), False))
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    crit.extend(owner_criteria(ctx, p))
    return crit


@command("listVMSnapshot")
def list_vm_snapshot(ctx: CsContext, p: CsParams) -> Listing:
    scope = list_all(p) or bool(p.get("vmsnapshotid")) or bool(p.get("domainid"))
    page = ctx.services.vm_snapshots.list(ctx.principal, tuple(_criteria(ctx, p)),
                                          paging(ctx, p), list_all=scope, count=True)
    items = [vm_snapshot(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("revertToVMSnapshot", is_async=True)
def revert_to_vm_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    _, job = ctx.services.vm_snapshots.revert(
        ctx.principal, p.uuid("vmsnapshotid", required=True) or "", command=ctx.command.name)
    return Submitted(job)


@command("deleteVMSnapshot", is_async=True)
def delete_vm_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    return Submitted(ctx.services.vm_snapshots.delete(
        ctx.principal, p.uuid("vmsnapshotid", required=True) or "", command=ctx.command.name))


@command("restoreVirtualMachine", is_async=True)
def restore_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    """``rootdisksize`` in GiB; ``diskofferingid``/``details``/``expunge`` are accepted
    and not used (the old root disk is always removed)."""
    _, job = ctx.services.instance_restore.restore(
        ctx.principal, p.uuid("virtualmachineid", required=True) or "",
        template_uuid=p.uuid("templateid"), root_size_gib=p.long("rootdisksize"),
        command=ctx.command.name)
    return Submitted(job)
