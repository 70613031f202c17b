"""Read-only network lists that VM clients call alongside listVirtualMachines.

libcloud's ``list_nodes`` calls listPublicIpAddresses, listPortForwardingRules
and listIpForwardingRules on every listing. Until the engine has an address
service, public IPs are read from the VMs they are attached to (the addresses
the engine assigns with an instance); the engine has no NAT rules, so the rule
lists are always empty.
"""

from __future__ import annotations

from typing import Any

from engine.services.instance_details import InstanceDetail, InstanceQuery
from nativeapi.commands import CsContext, Listing, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _public_ip(d: InstanceDetail) -> dict[str, Any] | None:
    nic = d.primary_nic
    if nic is None or nic.public_ip is None:
        return None
    ip = nic.public_ip
    return {
        "id": ip.uuid,
        "ipaddress": ip.address,
        "allocated": ip.allocated_at,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "issourcenat": ip.is_source_nat,
        "isstaticnat": True,
        "issystem": False,
        "account": d.account.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "forvirtualnetwork": True,
        "virtualmachineid": d.instance.uuid,
        "virtualmachinename": d.instance.name,
        "virtualmachinedisplayname": d.instance.display_name or d.instance.name,
        "virtualmachinetype": "UserVm",
        "vmipaddress": nic.nic.ip_address,
        "associatednetworkid": nic.network.uuid,
        "associatednetworkname": nic.network.name,
        "networkid": nic.network.uuid,
        "state": ip.state,
        "purpose": "StaticNat",
        "tags": [],
    }


@command("listPublicIpAddresses")
def list_public_ip_addresses(ctx: CsContext, p: CsParams) -> Listing:
    page = ctx.services.instances.list(ctx.principal, InstanceQuery(
        list_all=bool(p.boolean("listall", False)), include_destroyed=False))
    rows = [row for d in page.items if (row := _public_ip(d)) is not None]
    wanted_id, wanted_ip, zone = p.uuid("id"), p.get("ipaddress"), p.uuid("zoneid")
    rows = [r for r in rows if (wanted_id is None or r["id"] == wanted_id)
            and (wanted_ip is None or r["ipaddress"] == wanted_ip)
            and (zone is None or r["zoneid"] == zone)]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listPortForwardingRules")
def list_port_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)  # still validate page/pagesize
    return Listing([], 0)


@command("listIpForwardingRules")
def list_ip_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    return Listing([], 0)

