"""Guest networks and network offerings.

createNetwork is synchronous; updateNetwork, restartNetwork and deleteNetwork
are async (their work is done within the request; the job is already
finished). Offerings are managed by root admins; everyone lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.guest_networks import GuestNetworkRequest
from engine.services.network_offerings import OfferingRequest, service_names
from nativeapi import views_networks
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.infrastructure import _vlan
from nativeapi.commands.ownership import owner_uuid
from nativeapi.commands.vpcs import create_tier, vpc_rows
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

_DELETE_OFFERING_META: dict[str, Any] = {
    "style": "sync", "responsekey": "deletenetworkofferingresponse",
    "itemkey": "success(SuccessResponse)", "responseclass": "SuccessResponse",
    "required": {"id": "uuid"}, "optional": {},
    "responsefields": {"success": "bool", "displaytext": "str"},
    "description": "Deletes a network offering.",
}


def _listing(ctx: CsContext, p: CsParams, rows: list[dict[str, Any]]) -> Listing:
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


# --- offerings ------------------------------------------------------------------------


@command("listNetworkOfferings")
def list_network_offerings(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    offerings = ctx.services.network_offerings.list(
        ctx.principal, uuid=p.uuid("id"), name=p.get("name") or None,
        guest_ip_type=p.get("guestiptype") or None, state=p.get("state") or None,
        availability=p.get("availability") or None, keyword=p.get("keyword") or None,
        is_default=p.boolean("isdefault"), specify_vlan=p.boolean("specifyvlan"),
        services=tuple(p.list("supportedservices")),
        source_nat=p.boolean("sourcenatsupported"),
        traffic_type=p.get("traffictype") or None)
    if p.boolean("forvpc"):
        offerings = []  # no offering here is for VPC tiers
    network_uuid = p.uuid("networkid")
    if network_uuid:  # offerings the network can be moved to: same guest type
        current = ctx.services.guest_networks.get(ctx.principal, network_uuid, for_change=False)
        offerings = [o for o in offerings if o.guest_ip_type == current.offering.guest_ip_type
                     and o.uuid != current.offering.uuid]
    return _listing(ctx, p, [views_networks.network_offering(o) for o in offerings])


@command("createNetworkOffering", admin_only=True)
def create_network_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    services = {s: "" for s in p.list("supportedservices")}
    for entry in p.map("serviceproviderlist"):
        low = {k.lower(): v for k, v in entry.items()}
        if low.get("service"):
            services[low["service"]] = low.get("provider", "")
    offering = ctx.services.network_offerings.create(ctx.principal, OfferingRequest(
        name=p.require("name"), guest_ip_type=p.require("guestiptype"),
        display_text=p.get("displaytext") or "", traffic_type=p.require("traffictype"),
        availability=p.get("availability") or "Optional", services=services,
        specify_vlan=bool(p.boolean("specifyvlan", False)),
        specify_ip_ranges=bool(p.boolean("specifyipranges", False)),
        conserve_mode=bool(p.boolean("conservemode", True)),
        egress_default_allow=bool(p.boolean("egressdefaultpolicy", True)),
        is_persistent=bool(p.boolean("ispersistent", False)),
        network_rate_mbps=p.integer("networkrate"), tags=p.get("tags") or "",
        enable=bool(p.boolean("enable", False))))
    return views_networks.network_offering(offering)


@command("updateNetworkOffering", admin_only=True)
def update_network_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    uuid = p.uuid("id")
    if not uuid:
        if not p.get("name"):
            raise invalid_value("One of id or name must be specified")
        found = ctx.services.network_offerings.list(ctx.principal, name=p.get("name"))
        if not found:
            raise invalid_value(f"Unable to find network offering {p.get('name')}")
        uuid = found[0].uuid
    offering = ctx.services.network_offerings.update(
        ctx.principal, uuid, name=p.get("name") if p.uuid("id") else None,
        display_text=p.get("displaytext") or None, availability=p.get("availability") or None,
        state=p.get("state") or None, sort_key=p.integer("sortkey"),
        tags=p.get("tags"))
    return views_networks.network_offering(offering)


@command("deleteNetworkOffering", meta=_DELETE_OFFERING_META, admin_only=True)
def delete_network_offering(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.network_offerings.delete(ctx.principal, p.uuid("id", required=True) or "")
    return Success()


# --- networks -------------------------------------------------------------------------


@job_result("network")
def network_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The network an updateNetwork job changed."""
    if job.resource_kind is not ResourceKind.NETWORK or not job.resource_uuid:
        return None
    try:
        found = ctx.services.guest_networks.get(ctx.principal, job.resource_uuid,
                                                for_change=False)
    except NotFound:
        return None
    return views_networks.network(found, show_admin=ctx.is_admin)


@command("createNetwork")
def create_network(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    if p.get("vpcid"):
        return create_tier(ctx, p)
    vlan = ""
    if ctx.is_admin and p.get("vlan"):
        vlan = _vlan(p.get("vlan"))
        vlan = "" if vlan == "untagged" else vlan
    created = ctx.services.guest_networks.create(ctx.principal, GuestNetworkRequest(
        zone_uuid=p.uuid("zoneid", required=True) or "", name=p.require("name"),
        offering_uuid=p.uuid("networkofferingid", required=True) or "",
        display_text=p.get("displaytext") or "", gateway=p.get("gateway") or None,
        netmask=p.get("netmask") or None, vlan=vlan, account_uuid=owner_uuid(ctx, p)))
    return views_networks.network(created, show_admin=ctx.is_admin)


@command("listNetworks")
def list_networks(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    kind = (p.get("type") or "").lower()
    if kind and kind not in ("shared", "isolated"):
        return Listing([], 0)
    if (p.get("traffictype") or "guest").lower() != "guest" or p.boolean("issystem"):
        return Listing([], 0)
    found = ctx.services.guest_networks.list(
        ctx.principal, uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"),
        shared=None if not kind else kind == "shared",
        list_all=bool(p.boolean("listall", False)))
    account = owner_uuid(ctx, p)
    keyword, name = p.get("keyword"), p.get("name")
    offering = p.uuid("networkofferingid")
    acl = (p.get("acltype") or "").lower()
    services = {s.lower() for s in p.list("supportedservices")}
    rows = [views_networks.network(g, show_admin=ctx.is_admin) for g in found
            if (not keyword or keyword.lower() in g.network.name.lower())
            and (not name or g.network.name == name)
            and (not account or g.network.account_uuid == account)
            and (not offering or g.offering.uuid == offering)
            and (not acl or acl == ("domain" if g.network.account_uuid is None else "account"))
            and services <= {s.lower() for s, _ in service_names(g.offering)}]
    return _listing(ctx, p, vpc_rows(ctx, p, rows))


@command("updateNetwork", is_async=True)
def update_network(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    updated = ctx.services.guest_networks.update(
        ctx.principal, uuid, name=p.get("name") or None,
        display_text=p.get("displaytext") or None,
        offering_uuid=p.uuid("networkofferingid"))
    return Submitted(finished(ctx, ResourceKind.NETWORK, updated.network.uuid))


@command("restartNetwork", is_async=True)
def restart_network(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    restarted = ctx.services.guest_networks.restart(ctx.principal, uuid,
                                                    cleanup=bool(p.boolean("cleanup", False)))
    return Submitted(finished(ctx, ResourceKind.NETWORK, restarted.network.uuid))


@command("deleteNetwork", is_async=True)
def delete_network(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.guest_networks.delete(ctx.principal, uuid,
                                       forced=bool(p.boolean("forced", False)))
    return Submitted(finished(ctx, ResourceKind.NETWORK, uuid))
