"""Resource limits: ``listResourceLimits`` and ``updateResourceLimit``.

CloudStack numbers the limited resource types 0..11 (``views_admin_more.RESOURCE_TYPES``);
the engine's :class:`Resource` members are declared in the same order. ``projectid``
names a project, whose limits are those of its own account.
"""

from __future__ import annotations

from engine.services.resource_limits import LimitInfo, Resource
from nativeapi import views_admin_more
from nativeapi.commands import CsContext, Listing, invalid_value, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.views import domain_path

NUMBERED: tuple[Resource, ...] = tuple(Resource)


def _wanted(p: CsParams) -> list[Resource]:
    kinds = list(range(len(views_admin_more.RESOURCE_TYPES)))
    number = p.integer("resourcetype")
    if number is not None:
        if number not in kinds:
            raise invalid_value("Please specify a valid resource type.")
        kinds = [number]
    type_name = p.get("resourcetypename")
    if type_name:
        if type_name.lower() not in views_admin_more.RESOURCE_TYPES:
            raise invalid_value("Please specify a valid resource type name.")
        kinds = [k for k in kinds if views_admin_more.RESOURCE_TYPES[k] == type_name.lower()]
    return [NUMBERED[k] for k in kinds]


def _owner(ctx: CsContext, p: CsParams) -> tuple[str | None, str | None]:
    """(account uuid, domain uuid) the command is about; (None, domain) for a domain's."""
    project = p.uuid("projectid")
    if project:
        return ctx.services.projects.get(ctx.principal, project).account.uuid, None
    if p.get("account"):
        return ctx.services.accounts.account_by_name(
            ctx.principal, p.require("account"), p.uuid("domainid")).uuid, None
    domain = p.uuid("domainid")
    if domain:
        return None, domain
    return ctx.principal.account_uuid, None


def _view(info: LimitInfo) -> dict[str, object]:
    view = views_admin_more.resource_limit(
        NUMBERED.index(info.resource), info.maximum,
        account=info.account.name if info.account and not info.project else None,
        domain_uuid=info.domain.uuid, domain_name=info.domain.name,
        domain_path=domain_path(info.domain))
    if view["account"] is None:
        del view["account"]
    if info.project is not None:
        view["projectid"], view["project"] = info.project.uuid, info.project.name
    return view


@command("listResourceLimits")
def list_resource_limits(ctx: CsContext, p: CsParams) -> Listing:
    """The limits of the caller's account, or of ``account``+``domainid``, a
    ``projectid``'s, or with ``domainid`` alone a domain's (stored, else the
    global default)."""
    kinds = _wanted(p)
    account_uuid, domain_uuid = _owner(ctx, p)
    if domain_uuid == ctx.principal.domain_uuid and not ctx.principal.is_root_admin and (
            not ctx.principal.is_domain_admin):
        account_uuid, domain_uuid = ctx.principal.account_uuid, None
    infos = ctx.services.resource_limits.limits(
        ctx.principal, account_uuid=account_uuid, domain_uuid=domain_uuid, resources=kinds)
    rows = [_view(i) for i in infos]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("updateResourceLimit")
def update_resource_limit(ctx: CsContext, p: CsParams) -> dict[str, object]:
    """Set ``max`` (default -1, unlimited) for an account, project or domain."""
    number = p.integer("resourcetype")
    if number is None:
        raise p.missing("resourcetype")
    if not 0 <= number < len(NUMBERED):
        raise invalid_value("Please specify a valid resource type.")
    account_uuid, domain_uuid = _owner(ctx, p)
    if not (p.get("account") or p.uuid("projectid") or p.uuid("domainid")):
        account_uuid = ctx.principal.account_uuid
    maximum = p.long("max")
    info = ctx.services.resource_limits.set_limit(
        ctx.principal, NUMBERED[number], -1 if maximum is None else maximum,
        account_uuid=account_uuid, domain_uuid=domain_uuid)
    return _view(info)
