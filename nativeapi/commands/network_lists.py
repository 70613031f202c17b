"""Read-only network lists that VM clients call alongside listVirtualMachines.

libcloud's ``list_nodes`` calls listPublicIpAddresses (see ``addresses``),
listPortForwardingRules (see ``rules``) and listIpForwardingRules on every
listing. The engine has no IP forwarding rules, so that list is always empty.
"""

from __future__ import annotations

from nativeapi.commands import CsContext, Listing, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


@command("listIpForwardingRules")
def list_ip_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    return Listing([], 0)

