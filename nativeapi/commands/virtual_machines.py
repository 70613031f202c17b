"""Virtual machines: deploy, list, start, stop, reboot, destroy, recover, expunge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import PermissionDenied, ResourceKind
from engine.querying import Criterion
from engine.services.instance_details import InstanceQuery
from engine.services.instances import LaunchRequest
from engine.states import VmState
from nativeapi import views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import acting_principal
from nativeapi.errors_wire import ApiErrorCode, CloudStackError, CsErrorCode
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Instance, Job


_STATES = {s.value.lower(): s.value for s in VmState if s is not VmState.EXPUNGED}


def _security_groups(ctx: CsContext, p: CsParams) -> tuple[str, ...]:
    ids = p.uuid_list("securitygroupids")
    names = p.list("securitygroupnames")
    if ids and names:
        raise invalid_value("securitygroupids parameter is mutually exclusive with "
                            "securitygroupnames parameter")
    if not (ids or names):
        return ()
    return tuple(ctx.services.security_groups.resolve(ctx.principal, uuids=ids, names=names))


def _affinity_groups(ctx: CsContext, p: CsParams) -> tuple[str, ...]:
    ids, names = p.uuid_list("affinitygroupids"), p.list("affinitygroupnames")
    if ids and names:
        raise invalid_value("affinitygroupids parameter is mutually exclusive with "
                            "affinitygroupnames parameter")
    if not ids and not names:
        return ()
    return tuple(ctx.services.affinity.resolve(ctx.principal, ctx.principal.account_uuid,
                                               ids, names))


def _network(p: CsParams) -> str | None:
    networks = p.uuid_list("networkids")
    if len(networks) > 1:
        raise invalid_value("Only one network per virtual machine is supported")
    return networks[0] if networks else None


@command("deployVirtualMachine", is_async=True, creates="virtualmachine")
def deploy_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    template_uuid = p.uuid("templateid")
    if template_uuid is None:
        raise p.missing("templateid")
    start = bool(p.boolean("startvm", True))
    # An ISO needs a disk offering for the blank root disk; the VM boots with the ISO in.
    iso_root_gib = ctx.services.isos.root_size_for_iso(template_uuid, p.uuid("diskofferingid"),
                                                       p.long("size"))
    launch = ctx.services.instances.launch(acting_principal(ctx, p), LaunchRequest(
        template_uuid=template_uuid,
        offering_uuid=p.uuid("serviceofferingid", required=True) or "",
        zone_uuid=p.uuid("zoneid", required=True),
        key_name=p.get("keypair") or None,
        user_data_b64=p.get("userdata") or None,
        user_data_uuid=p.uuid("userdataid"),
        security_group_uuids=_security_groups(ctx, p),
        name=p.get("name") or None,
        display_name=p.get("displayname") or None,
        root_size_gib=p.long("rootdisksize") if iso_root_gib is None else iso_root_gib,
        network_uuid=_network(p),
        private_ip=p.get("ipaddress") or None,
        # QUIRK(cloudstack): parameters reserved to admins are ignored for other callers.
        host_uuid=p.uuid("hostid") if ctx.is_admin else None,
        start=start,
        group=p.get("group") or "",
        command=ctx.command.name,
        affinity_group_uuids=_affinity_groups(ctx, p),
    ))
    vm_uuid = launch.instances[0].instance.uuid
    if iso_root_gib is not None:
        ctx.services.isos.boot_attach(vm_uuid, template_uuid)
    job = launch.jobs[0] if launch.jobs else finished(ctx, ResourceKind.INSTANCE, vm_uuid)
    return Submitted(job, object_uuid=vm_uuid)



def _submitted(ctx: CsContext, result: tuple[Instance, Job | None]) -> Submitted:
    inst, job = result
    return Submitted(job if job is not None else finished(ctx, ResourceKind.INSTANCE, inst.uuid))


def _criteria(ctx: CsContext, p: CsParams) -> list[Criterion]:
    crit: list[Criterion] = []
    uuids = [u for u in [p.uuid("id"), *p.uuid_list("ids")] if u]
    if uuids:
        crit.append(Criterion("uuid", tuple(uuids), False))
    for param, field in (("zoneid", "zone_uuid"), ("templateid", "template_uuid"),
                         ("serviceofferingid", "offering_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if ctx.is_admin and p.uuid("hostid"):
        crit.append(Criterion("host_uuid", (p.uuid("hostid") or "",), False))
    for param, field in (("keypair", "key_name"), ("hypervisor", "hypervisor")):
        if p.get(param):
            crit.append(Criterion(field, (p.require(param),), False))
    # QUIRK(cloudstack): name (like keyword) is a substring match for VMs.
    for param in ("name", "keyword"):
        if p.get(param):
            crit.append(Criterion("name", (f"*{p.require(param)}*",)))
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    account = p.get("account")
    if account is not None or p.uuid("domainid"):
        crit.append(_owner(ctx, account, p.uuid("domainid")))
    return crit


def _owner(ctx: CsContext, account: str | None, domain_uuid: str | None) -> Criterion:
    me = ctx.principal
    if account == me.account_name and domain_uuid in (None, me.domain_uuid):
        return Criterion("account_uuid", (me.account_uuid,), False)
    # The engine cannot resolve other accounts by name yet.
    raise CloudStackError(ApiErrorCode.PARAM_ERROR,
                          "Listing by account/domainid is only supported for the caller's own "
                          "account", CsErrorCode.INVALID_PARAMETER_VALUE)


@command("listVirtualMachines")
def list_virtual_machines(ctx: CsContext, p: CsParams) -> Listing:
    crit = _criteria(ctx, p)
    state = p.get("state")
    if state:
        if state.lower() not in _STATES:
            return Listing([], 0)
        crit.append(Criterion("state", (_STATES[state.lower()],), False))
    page = ctx.services.instances.list(acting_principal(ctx, p), InstanceQuery(
        criteria=tuple(crit), paging=paging(ctx, p), list_all=bool(p.boolean("listall", False)),
        count=True))
    vm_id = p.uuid("id")
    if not page.items and vm_id:
        ctx.services.instances.get(ctx.principal, uuid=vm_id)  # an unknown id is a 431, not {}
    items = [views.virtual_machine(d, show_admin=ctx.is_admin) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("startVirtualMachine", is_async=True)
def start_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    host = p.uuid("hostid") if ctx.is_admin else None
    return _submitted(ctx, ctx.services.instances.start(
        ctx.principal, p.uuid("id", required=True) or "", command=ctx.command.name,
        host_uuid=host))


@command("stopVirtualMachine", is_async=True)
def stop_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    return _submitted(ctx, ctx.services.instances.stop(
        ctx.principal, p.uuid("id", required=True) or "", force=bool(p.boolean("forced", False)),
        command=ctx.command.name))


@command("rebootVirtualMachine", is_async=True)
def reboot_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    return _submitted(ctx, ctx.services.instances.reboot(
        ctx.principal, p.uuid("id", required=True) or "", command=ctx.command.name))


@command("destroyVirtualMachine", is_async=True)
def destroy_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    expunge = bool(p.boolean("expunge", False))
    if expunge and not ctx.is_admin:
        # QUIRK(cloudstack): expunge=true needs an admin unless
        # allow.user.expunge.recover.vm is set (listCapabilities says it is not).
        raise PermissionDenied("expunge a virtual machine")
    return _submitted(ctx, ctx.services.instances.destroy(
        ctx.principal, p.uuid("id", required=True) or "", expunge=expunge,
        command=ctx.command.name, honour_protection=True))


@command("recoverVirtualMachine", admin_only=True)
def recover_virtual_machine(ctx: CsContext, p: CsParams) -> dict[str, object]:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.instances.recover(ctx.principal, uuid)
    return views.virtual_machine(ctx.services.instances.get(ctx.principal, uuid=uuid),
                                 show_admin=ctx.is_admin)


@command("expungeVirtualMachine", is_async=True, admin_only=True)
def expunge_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    return _submitted(ctx, ctx.services.instances.expunge(
        ctx.principal, p.uuid("id", required=True) or "", command=ctx.command.name))
