"""Projects: ``createProject`` and ``listProjects``.

A project's resources belong to its hidden account; members act in it by
passing ``projectid`` (see :func:`nativeapi.commands.ownership.acting_principal`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.services.projects import ProjectDetail, ProjectQuery
from engine.services.resource_limits import GIB, LimitInfo, Resource
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.ownership import owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

# ProjectResponse's <prefix>limit/total/available fields per resource.
PREFIX: dict[Resource, str] = {
    Resource.INSTANCE: "vm", Resource.PUBLIC_IP: "ip", Resource.VOLUME: "volume",
    Resource.SNAPSHOT: "snapshot", Resource.TEMPLATE: "template", Resource.NETWORK: "network",
    Resource.VPC: "vpc", Resource.CPU: "cpu", Resource.MEMORY: "memory",
    Resource.PRIMARY_STORAGE: "primarystorage", Resource.SECONDARY_STORAGE: "secondarystorage",
}


def _limit_fields(info: LimitInfo) -> dict[str, Any]:
    prefix = PREFIX[info.resource]
    scale = GIB if info.resource in (Resource.PRIMARY_STORAGE,
                                     Resource.SECONDARY_STORAGE) else 1
    used = info.used // scale if prefix != "secondarystorage" else info.used / scale
    unlimited = info.maximum < 0
    return {
        f"{prefix}limit": "Unlimited" if unlimited else str(info.maximum),
        f"{prefix}total": used,
        f"{prefix}available": "Unlimited" if unlimited else str(max(info.maximum - used, 0)),
    }


def project_view(ctx: CsContext, d: ProjectDetail) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": d.project.uuid,
        "name": d.project.name,
        "displaytext": d.project.display_text,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "owner": [{"account": a.name} for a in d.owners],
        "projectaccountname": d.account.name,
        "state": d.project.state,
        "created": d.project.created_at,
        "tags": [],
    }
    for info in ctx.services.resource_limits.limits(
            ctx.principal, account_uuid=d.account.uuid, resources=tuple(PREFIX)):
        view.update(_limit_fields(info))
    return view


@command("createProject", is_async=True, creates="project")
def create_project(ctx: CsContext, p: CsParams) -> Submitted:
    """A project owned by the caller's account (or ``account``+``domainid``)."""
    detail = ctx.services.projects.create(
        ctx.principal, p.require("name"), p.get("displaytext") or "",
        account_uuid=p.uuid("accountid") or owner_uuid(ctx, p))
    job = finished(ctx, ResourceKind.PROJECT, detail.project.uuid)
    return Submitted(job, object_uuid=detail.project.uuid)


@job_result("project")
def _project_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    if job.resource_kind is not ResourceKind.PROJECT or not job.resource_uuid:
        return None
    return project_view(ctx, ctx.services.projects.get(ctx.principal, job.resource_uuid))


@command("listProjects")
def list_projects(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.projects.list(ctx.principal, ProjectQuery(
        uuid=p.uuid("id"), name=p.get("name") or None, display_text=p.get("displaytext"),
        state=p.get("state") or None, keyword=p.get("keyword") or None,
        domain_uuid=p.uuid("domainid"), recursive=bool(p.boolean("isrecursive", False)),
        list_all=bool(p.boolean("listall", False)),
        member_account_uuid=owner_uuid(ctx, p)))
    page = page_slice(found, paging(ctx, p))
    return Listing([project_view(ctx, d) for d in page], len(found))
