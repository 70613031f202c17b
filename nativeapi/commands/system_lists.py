"""Lists of things nimbostack never has: virtual routers, system VMs and
portable IP ranges. Guest networking needs no appliance here, so these
answer well-formed empty lists (after the usual paging checks), which is what
CloudStack itself answers for a zone without them.
"""

from __future__ import annotations

from nativeapi.commands import CsContext, Listing, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _none(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)  # page/pagesize are still checked
    return Listing([], 0)


@command("listRouters", admin_only=True)
def list_routers(ctx: CsContext, p: CsParams) -> Listing:
    return _none(ctx, p)


@command("listSystemVms", admin_only=True)
def list_system_vms(ctx: CsContext, p: CsParams) -> Listing:
    return _none(ctx, p)


@command("listPortableIpRanges", admin_only=True)
def list_portable_ip_ranges(ctx: CsContext, p: CsParams) -> Listing:
    return _none(ctx, p)
