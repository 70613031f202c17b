"""Read-only network lists that VM clients call alongside listVirtualMachines.

libcloud's ``list_nodes`` calls listPublicIpAddresses (see ``addresses``),
listPortForwardingRules and listIpForwardingRules on every listing. The engine
has no port or IP forwarding rules, so those two lists are always empty.
"""

from __future__ import annotations

from nativeapi.commands import CsContext, Listing, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


@command("listPortForwardingRules")
def list_port_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)  # still validate page/pagesize
    return Listing([], 0)


@command("listIpForwardingRules")
def list_ip_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    return Listing([], 0)

