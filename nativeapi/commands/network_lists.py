"""Read-only network lists that VM clients call alongside listVirtualMachines.

libcloud's ``list_nodes`` calls listPublicIpAddresses, listPortForwardingRules
and listIpForwardingRules on every listing. The engine has no port or IP
forwarding rules, so those two lists are always empty.
"""

from __future__ import annotations

from engine.querying import Criterion
from nativeapi import views
from nativeapi.commands import CsContext, Listing, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


@command("listPublicIpAddresses")
def list_public_ip_addresses(ctx: CsContext, p: CsParams) -> Listing:
    crit = []
    for param, field in (("id", "uuid"), ("zoneid", "zone_uuid"), ("vlanid", "vlan_range_uuid"),
                         ("associatednetworkid", "network_uuid"), ("networkid", "network_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if p.get("ipaddress"):
        crit.append(Criterion("address", (p.require("ipaddress"),), False))
    source_nat = p.boolean("issourcenat")
    if source_nat is not None:
        crit.append(Criterion("is_source_nat", (str(source_nat).lower(),), False))
    page = ctx.services.addresses.list(ctx.principal, crit, paging(ctx, p),
                                       list_all=bool(p.boolean("listall", False)), count=True)
    static_nat = p.boolean("isstaticnat")
    rows = [views.public_ip(d) for d in page.items]
    if static_nat is not None:
        rows = [r for r in rows if r["isstaticnat"] is static_nat]
        return Listing(rows, len(rows))
    return Listing(rows, page.total if page.total is not None else len(rows))


@command("listPortForwardingRules")
def list_port_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)  # still validate page/pagesize
    return Listing([], 0)


@command("listIpForwardingRules")
def list_ip_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    return Listing([], 0)

