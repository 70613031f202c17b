"""The management servers sharing this database (root admins only)."""

from __future__ import annotations

from engine.services.management_servers import ManagementServerService
from nativeapi import views_management
from nativeapi.commands import CsContext, Listing, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


@command("listManagementServers", admin_only=True)
def list_management_servers(ctx: CsContext, p: CsParams) -> Listing:
    registry = ManagementServerService(ctx.services.session)
    rows = registry.servers(uuid=p.uuid("id"), name=p.get("name"), keyword=p.get("keyword"))
    pending = registry.pending_jobs()
    everyone = registry.servers() if p.boolean("peers") else None
    items = [views_management.management_server(r, pending_jobs=pending.get(r.uuid, 0),
                                                peers=everyone)
             for r in page_slice(rows, paging(ctx, p))]
    return Listing(items, len(rows))
