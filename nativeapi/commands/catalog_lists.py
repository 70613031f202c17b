"""Read-only lists of what the cloud is built from: OS categories, hypervisors and
their capabilities, and alerts.

``listOsCategories`` and ``listHypervisors`` are open to everyone;
``listHypervisorCapabilities`` and ``listAlerts`` are for root admins. The
engine raises no alerts, so ``listAlerts`` is always an empty list.
"""

from __future__ import annotations

from nativeapi import views_admin_more
from nativeapi.commands import CsContext, Listing, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _keyword(text: str, keyword: str | None) -> bool:
    return keyword is None or keyword.lower() in text.lower()


@command("listOsCategories")
def list_os_categories(ctx: CsContext, p: CsParams) -> Listing:
    uuid, name, keyword = p.uuid("id"), p.get("name"), p.get("keyword")
    rows = [views_admin_more.os_category(c) for c in ctx.services.catalog.os_categories()]
    rows = [r for r in rows if (uuid is None or r["id"] == uuid)
            and (name is None or r["name"].lower() == name.lower())
            and _keyword(r["name"], keyword)]
    if p.boolean("isfeatured") is True:
        rows = []
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listHypervisors")
def list_hypervisors(ctx: CsContext, p: CsParams) -> Listing:
    """The hypervisor types of the zone's clusters; without ``zoneid`` those of all
    clusters, or every registered type when there are no clusters."""
    names = ctx.services.catalog.cluster_hypervisors(p.uuid("zoneid"))
    rows = sorted({views_admin_more.hypervisor_name(n) for n in names})
    return Listing([views_admin_more.hypervisor(n) for n in rows], len(rows))


@command("listHypervisorCapabilities", admin_only=True)
def list_hypervisor_capabilities(ctx: CsContext, p: CsParams) -> Listing:
    uuid, kind, keyword = p.uuid("id"), p.get("hypervisor"), p.get("keyword")
    rows = [views_admin_more.capability(c) for c in views_admin_more.CAPABILITIES]
    rows = [r for r in rows if (uuid is None or r["id"] == uuid)
            and (kind is None or r["hypervisor"].lower() == kind.lower())
            and _keyword(r["hypervisor"], keyword)]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listAlerts", admin_only=True)
def list_alerts(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)  # page/pagesize are still checked
    return Listing([], 0)
