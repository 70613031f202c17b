"""ISO management: registerIso, listIsos, updateIso, deleteIso, copyIso,
updateIsoPermissions, listIsoPermissions, attachIso and detachIso.

An ISO is a template whose format is ISO (CloudStack keeps both in one
table); listTemplates never shows ISOs and listIsos never shows templates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.catalog import TemplateFilter
from engine.services.isos import IsoRequest
from engine.services.template_permissions import AccountKey, PermissionChange, PermissionOp
from engine.services.templates import TemplateUpdate
from nativeapi import views_transfers
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.catalog import add_zone_and_name
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

_COPY_ISO_META = {
    "style": "async", "responsekey": "copyisoresponse", "itemkey": "iso",
    "responseclass": "TemplateResponse",
    "required": {"id": "uuid"},
    "optional": {"destzoneid": "uuid", "sourcezoneid": "uuid", "destzoneids": "list"},
}
_UPDATE_PERMISSIONS_META = {
    "style": "sync", "responsekey": "updateisopermissionsresponse",
    "itemkey": "success(SuccessResponse)", "responseclass": "SuccessResponse",
    "required": {"id": "uuid"},
    "optional": {"accounts": "list", "isfeatured": "boolean", "ispublic": "boolean",
                 "isextractable": "boolean", "op": "string", "projectids": "list"},
    "responsefields": {"success": "bool", "displaytext": "str"},
}
_LIST_PERMISSIONS_META = {
    "style": "sync", "responsekey": "listisopermissionsresponse",
    "itemkey": "templatepermission", "responseclass": "TemplatePermissionsResponse",
    "required": {"id": "uuid"}, "optional": {}, "listshaped": True,
    "responsefields": {"id": "str", "ispublic": "bool", "domainid": "str",
                       "account": "list[String]", "projectids": "list[String]"},
}


def _filter(raw: str | None) -> TemplateFilter:
    try:
        return TemplateFilter((raw or "selfexecutable").lower())
    except ValueError:
        raise invalid_value(
            "IsoFilter must be one of: featured, self, selfexecutable, sharedexecutable, "
            "executable, community, all") from None


def _rows(ctx: CsContext, iso_uuid: str, zone_uuid: str | None = None) -> list[dict[str, Any]]:
    return views_transfers.iso_rows(ctx.services.isos.get(ctx.principal, iso_uuid), zone_uuid)


@job_result("iso")
def iso_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The ISO a copy job made present in a zone."""
    if job.resource_kind is not ResourceKind.TEMPLATE or not job.resource_uuid:
        return None
    try:
        rows = _rows(ctx, job.resource_uuid)
    except NotFound:
        return {"id": job.resource_uuid}
    return rows[-1] if rows else {"id": job.resource_uuid}


@command("registerIso")
def register_iso(ctx: CsContext, p: CsParams) -> Listing:
    zone = p.uuid("zoneid", required=True)
    zones = tuple(z for z in [zone] if z and z != "-1")
    t, _ = ctx.services.isos.register(ctx.principal, IsoRequest(
        name=p.require("name"), url=p.require("url"), display_text=p.get("displaytext") or "",
        zone_uuids=zones, os_type_uuid=p.uuid("ostypeid"),
        bootable=bool(p.boolean("bootable", True)),
        is_public=bool(p.boolean("ispublic", False)),
        is_featured=bool(p.boolean("isfeatured", False)),
        is_extractable=bool(p.boolean("isextractable", False)),
        checksum=p.get("checksum") or ""), command=ctx.command.name)
    rows = _rows(ctx, t.uuid)
    return Listing(rows, len(rows))


@command("listIsos")
def list_isos(ctx: CsContext, p: CsParams) -> Listing:
    which = _filter(p.get("isofilter"))
    criteria: list[Criterion] = []
    if p.uuid("id"):
        criteria.append(Criterion("uuid", (p.uuid("id") or "",), False))
    zone_uuid = add_zone_and_name(p, criteria)
    if p.get("arch"):
        criteria.append(Criterion("arch", (p.require("arch"),), False))
    public = p.boolean("ispublic")
    if public is not None:
        criteria.append(Criterion("is_public", (public,), False))
    page = ctx.services.isos.list(ctx.principal, which, tuple(criteria),
                                  bootable=p.boolean("bootable"))
    rows = [row for d in page.items for row in views_transfers.iso_rows(d, zone_uuid)]
    if not rows and p.uuid("id"):
        ctx.services.isos.get(ctx.principal, p.uuid("id") or "")  # unknown id: 431
    ready = p.boolean("isready")
    if ready is not None:
        rows = [r for r in rows if r["isready"] is ready]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("updateIso")
def update_iso(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    t = ctx.services.isos.update(ctx.principal, p.uuid("id", required=True) or "", TemplateUpdate(
        name=p.get("name"), display_text=p.get("displaytext"), os_type_uuid=p.uuid("ostypeid"),
        password_enabled=p.boolean("passwordenabled"), arch=p.get("arch")),
        bootable=p.boolean("bootable"))
    rows = _rows(ctx, t.uuid)
    return rows[0] if rows else {"id": t.uuid}


@command("deleteIso", is_async=True)
def delete_iso(ctx: CsContext, p: CsParams) -> Submitted:
    return Submitted(ctx.services.isos.delete(
        ctx.principal, p.uuid("id", required=True) or "", p.uuid("zoneid"),
        command=ctx.command.name))


@command("copyIso", meta=_COPY_ISO_META, is_async=True)
def copy_iso(ctx: CsContext, p: CsParams) -> Submitted:
    dest = tuple(z for z in [p.uuid("destzoneid"), *p.uuid_list("destzoneids")] if z)
    jobs = ctx.services.isos.copy(ctx.principal, p.uuid("id", required=True) or "", dest,
                                  p.uuid("sourcezoneid"), command=ctx.command.name)
    return Submitted(jobs[-1])


@command("updateIsoPermissions", meta=_UPDATE_PERMISSIONS_META)
def update_iso_permissions(ctx: CsContext, p: CsParams) -> None:
    raw_op = (p.get("op") or "").lower()
    try:
        op = PermissionOp(raw_op) if raw_op else None
    except ValueError:
        raise invalid_value("Invalid op: " + raw_op + "; expected add, remove or reset") from None
    if p.list("projectids"):
        raise invalid_value("Projects are not supported")
    ctx.services.isos.change_permissions(
        ctx.principal, p.uuid("id", required=True) or "",
        PermissionChange(op, tuple(p.list("accounts")), AccountKey.NAME,
                         is_public=p.boolean("ispublic"), is_featured=p.boolean("isfeatured"),
                         is_extractable=p.boolean("isextractable")))


@command("listIsoPermissions", meta=_LIST_PERMISSIONS_META)
def list_iso_permissions(ctx: CsContext, p: CsParams) -> Listing:
    sharing = ctx.services.isos.permissions(ctx.principal, p.uuid("id", required=True) or "")
    t = sharing.template
    owner, _ = ctx.services.catalog.account_domain(t.account_uuid)
    row = {"id": t.uuid, "ispublic": t.is_public, "domainid": owner.domain_uuid,
           "account": [a.name for a in sharing.accounts]}
    return Listing([row], 1)


@command("attachIso", is_async=True)
def attach_iso(ctx: CsContext, p: CsParams) -> Submitted:
    """Records the ISO in the VM's drive; drivers are not asked to insert it yet."""
    return Submitted(ctx.services.isos.attach(
        ctx.principal, p.uuid("id", required=True) or "",
        p.uuid("virtualmachineid", required=True) or "", command=ctx.command.name))


@command("detachIso", is_async=True)
def detach_iso(ctx: CsContext, p: CsParams) -> Submitted:
    return Submitted(ctx.services.isos.detach(
        ctx.principal, p.uuid("virtualmachineid", required=True) or "",
        command=ctx.command.name))
