"""Public IP addresses: associate/disassociate (allocate/release), list, static NAT.

The engine does the work of these commands within the request; the async
ones get an already finished job keyed by the address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from nativeapi import views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    invalid_value,
    job_result,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_criteria, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job



@job_result("ipaddress")
def address_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The address an associateIpAddress job allocated (an id only once released)."""
    if job.resource_kind is not ResourceKind.PUBLIC_IP or not job.resource_uuid:
        return None
    try:
        return views.public_ip(ctx.services.addresses.get(ctx.principal, uuid=job.resource_uuid))
    except NotFound:
        return {"id": job.resource_uuid, "state": "Free"}


@command("associateIpAddress", is_async=True, creates="ipaddress")
def associate_ip_address(ctx: CsContext, p: CsParams) -> Submitted:
    ip = ctx.services.addresses.allocate(ctx.principal, p.uuid("zoneid"),
                                         p.get("ipaddress") or None,
                                         account_uuid=owner_uuid(ctx, p))
    return Submitted(finished(ctx, ResourceKind.PUBLIC_IP, ip.uuid), object_uuid=ip.uuid)


@command("disassociateIpAddress", is_async=True)
def disassociate_ip_address(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id")
    address = p.get("ipaddress")
    if (uuid is None) == (not address):
        raise invalid_value("Either the id or the ipaddress parameter must be specified, "
                            "not both")
    if uuid is None:
        uuid = ctx.services.addresses.get(ctx.principal, address=address).ip.uuid
    # QUIRK(cloudstack): releasing an address also ends its static NAT.
    ctx.services.addresses.release(ctx.principal, uuid, disassociate=True)
    return Submitted(finished(ctx, ResourceKind.PUBLIC_IP, uuid))


@command("listPublicIpAddresses")
def list_public_ip_addresses(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    for param, field in (("id", "uuid"), ("zoneid", "zone_uuid"), ("vlanid", "vlan_range_uuid"),
                         ("associatednetworkid", "network_uuid"), ("networkid", "network_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if p.get("ipaddress"):
        crit.append(Criterion("address", (p.require("ipaddress"),), False))
    if p.get("keyword"):
        crit.append(Criterion("address", (f"*{p.require('keyword')}*",)))
    source_nat = p.boolean("issourcenat")
    if source_nat is not None:
        crit.append(Criterion("is_source_nat", (str(source_nat).lower(),), False))
    static_nat = p.boolean("isstaticnat")
    if static_nat is not None:
        # Static NAT: an instance holds an address that is not a network's source NAT.
        crit.append(Criterion("has_instance", (str(static_nat).lower(),), False))
        if static_nat:
            crit.append(Criterion("is_source_nat", ("false",), False))
    state = (p.get("state") or "").lower()
    if state and state != "allocated":
        # Only allocated addresses are listed (allocatedonly=false shows no more).
        crit.append(Criterion("uuid", ("",), False))
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.addresses.list(ctx.principal, crit, paging(ctx, p),
                                       list_all=list_all(p), count=True)
    rows = [views.public_ip(d) for d in page.items]
    return Listing(rows, page.total if page.total is not None else len(rows))


@command("enableStaticNat")
def enable_static_nat(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.addresses.associate(ctx.principal, p.uuid("ipaddressid", required=True) or "",
                                     p.uuid("virtualmachineid", required=True) or "")
    return Success()


@command("disableStaticNat", is_async=True)
def disable_static_nat(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("ipaddressid", required=True) or ""
    ctx.services.addresses.disassociate(ctx.principal, ip_uuid=uuid, missing_ok=False)
    return Submitted(finished(ctx, ResourceKind.PUBLIC_IP, uuid))
