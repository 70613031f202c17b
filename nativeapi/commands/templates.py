"""Template management: registerTemplate, createTemplate, copyTemplate,
updateTemplate, deleteTemplate, updateTemplatePermissions,
listTemplatePermissions, prepareTemplate, linkUserDataToTemplate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.template_permissions import AccountKey, PermissionChange, PermissionOp
from engine.services.template_user_data import parse_policy
from engine.services.templates import TemplateRequest, TemplateUpdate
from nativeapi import views
from nativeapi.commands import CsContext, Listing, Submitted, invalid_value, job_result
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job


def _details(p: CsParams) -> dict[str, str]:
    """``details[0].key=value`` (one pair per entry, or key/value fields)."""
    out: dict[str, str] = {}
    for entry in p.map("details"):
        low = {k.lower(): v for k, v in entry.items()}
        if "key" in low and "value" in low and len(low) == 2:
            out[low["key"]] = low["value"]
        else:
            out.update(entry)
    return out


def _rows(ctx: CsContext, template_uuid: str, zone_uuid: str | None = None) -> list[Any]:
    detail = ctx.services.catalog.template(ctx.principal, uuid=template_uuid)
    return views.template_rows(detail, zone_uuid)


def _request(ctx: CsContext, p: CsParams, *, url: str = "",
             zones: tuple[str, ...] = ()) -> TemplateRequest:
    return TemplateRequest(
        name=p.require("name"), display_text=p.get("displaytext") or "", url=url,
        format=p.get("format"), hypervisor=p.get("hypervisor"),
        os_type_uuid=p.uuid("ostypeid"), zone_uuids=zones, checksum=p.get("checksum") or "",
        is_public=bool(p.boolean("ispublic", False)),
        is_featured=bool(p.boolean("isfeatured", False)),
        password_enabled=bool(p.boolean("passwordenabled", False)),
        is_extractable=bool(p.boolean("isextractable", False)),
        arch=p.get("arch") or "x86_64", details=_details(p))


@job_result("template")
def template_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The template a create/copy job made (its row in the job's zone)."""
    if job.resource_kind is not ResourceKind.TEMPLATE or not job.resource_uuid:
        return None
    try:
        detail = ctx.services.catalog.template(ctx.principal, uuid=job.resource_uuid)
    except NotFound:
        return {"id": job.resource_uuid}
    rows = views.template_rows(detail)
    return rows[-1] if rows else {"id": job.resource_uuid}


@command("registerTemplate")
def register_template(ctx: CsContext, p: CsParams) -> Listing:
    zone = p.uuid("zoneid")
    zones = tuple(z for z in [zone, *p.uuid_list("zoneids")] if z and z != "-1")
    t, _ = ctx.services.templates.register(
        ctx.principal, _request(ctx, p, url=p.require("url"), zones=zones),
        command=ctx.command.name)
    detail = ctx.services.catalog.template_details([t])[0]
    rows = views.template_rows(detail)
    return Listing(rows, len(rows))


@command("createTemplate", is_async=True, creates="template")
def create_template(ctx: CsContext, p: CsParams) -> Submitted:
    snapshot, volume = p.uuid("snapshotid"), p.uuid("volumeid")
    if bool(snapshot) == bool(volume):
        raise invalid_value("Specify exactly one of snapshotid and volumeid")
    req = _request(ctx, p)
    if snapshot:
        t, job = ctx.services.templates.create_from_snapshot(
            ctx.principal, snapshot, req, command=ctx.command.name)
    else:
        t, job = ctx.services.templates.create_from_volume(
            ctx.principal, volume or "", req, command=ctx.command.name)
    return Submitted(job, object_uuid=t.uuid)


@command("copyTemplate", is_async=True)
def copy_template(ctx: CsContext, p: CsParams) -> Submitted:
    dest = tuple(z for z in [p.uuid("destzoneid"), *p.uuid_list("destzoneids")] if z)
    _, jobs = ctx.services.templates.copy_to_zones(
        ctx.principal, p.uuid("id", required=True) or "", dest, p.uuid("sourcezoneid"),
        command=ctx.command.name)
    return Submitted(jobs[-1])


@command("deleteTemplate", is_async=True)
def delete_template(ctx: CsContext, p: CsParams) -> Submitted:
    return Submitted(ctx.services.templates.delete(
        ctx.principal, p.uuid("id", required=True) or "", p.uuid("zoneid"),
        force=bool(p.boolean("forced", False)), command=ctx.command.name))


@command("updateTemplate")
def update_template(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    details = _details(p)
    t = ctx.services.templates.update(ctx.principal, p.uuid("id", required=True) or "",
                                      TemplateUpdate(
        name=p.get("name"), display_text=p.get("displaytext"),
        os_type_uuid=p.uuid("ostypeid"), format=p.get("format"),
        password_enabled=p.boolean("passwordenabled"), arch=p.get("arch"),
        details=details or None, clean_details=bool(p.boolean("cleanupdetails", False))))
    rows = _rows(ctx, t.uuid)
    return rows[0] if rows else {"id": t.uuid}  # type: ignore[no-any-return]


@command("updateTemplatePermissions")
def update_template_permissions(ctx: CsContext, p: CsParams) -> None:
    raw_op = (p.get("op") or "").lower()
    try:
        op = PermissionOp(raw_op) if raw_op else None
    except ValueError:
        raise invalid_value("Invalid op: " + raw_op + "; expected add, remove or reset") from None
    if p.uuid_list("projectids"):
        raise invalid_value("Projects are not supported")
    ctx.services.templates.permissions.change(
        ctx.principal, p.uuid("id", required=True) or "",
        PermissionChange(op, tuple(p.list("accounts")), AccountKey.NAME,
                         is_public=p.boolean("ispublic"), is_featured=p.boolean("isfeatured"),
                         is_extractable=p.boolean("isextractable")))


@command("listTemplatePermissions")
def list_template_permissions(ctx: CsContext, p: CsParams) -> Listing:
    sharing = ctx.services.templates.permissions.get(ctx.principal,
                                                     p.uuid("id", required=True) or "")
    t = sharing.template
    owner, _ = ctx.services.catalog.account_domain(t.account_uuid)
    row = {"id": t.uuid, "ispublic": t.is_public, "domainid": owner.domain_uuid,
           "account": [a.name for a in sharing.accounts]}
    return Listing([row], 1)


@command("prepareTemplate", admin_only=True)
def prepare_template(ctx: CsContext, p: CsParams) -> Listing:
    """Templates are kept on the image store only; nothing to prepare on primary storage."""
    zone = p.uuid("zoneid", required=True)
    rows = _rows(ctx, p.uuid("templateid", required=True) or "", zone)
    return Listing(rows, len(rows))


@command("linkUserDataToTemplate")
def link_user_data_to_template(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    template_uuid, iso_uuid = p.uuid("templateid"), p.uuid("isoid")
    if (template_uuid is None) == (iso_uuid is None):
        raise invalid_value("Either ISO or template ID is required, and not both")
    t = ctx.services.template_user_data.link(
        ctx.principal, template_uuid or iso_uuid or "", p.uuid("userdataid"),
        parse_policy(p.get("userdatapolicy")))
    rows = _rows(ctx, t.uuid)
    return rows[0] if rows else {"id": t.uuid}  # type: ignore[no-any-return]
