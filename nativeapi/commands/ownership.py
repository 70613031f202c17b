"""The ``account``/``domainid``/``listall`` parameters shared by resource commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.querying import Criterion
from nativeapi.commands import CsContext
from nativeapi.protocol.parser import CsParams

if TYPE_CHECKING:
    from engine.principal import Principal


def owner_uuid(ctx: CsContext, p: CsParams) -> str | None:
    """The account named by ``account`` (+ ``domainid``, default the caller's
    domain) for commands that act on another account's behalf; None without
    ``account``. NotFound(ACCOUNT) if the caller may not act for it."""
    name = p.get("account")
    if not name:
        return None
    if name == ctx.principal.account_name and p.uuid("domainid") in (
            None, ctx.principal.domain_uuid):
        return ctx.principal.account_uuid
    return ctx.services.accounts.account_by_name(ctx.principal, name, p.uuid("domainid")).uuid


def owner_criteria(ctx: CsContext, p: CsParams, field: str = "account_uuid") -> list[Criterion]:
    """A criterion on the owning account when ``account`` is given, else none."""
    uuid = owner_uuid(ctx, p)
    return [] if uuid is None else [Criterion(field, (uuid,), False)]


def list_all(p: CsParams) -> bool:
    """Whether admins see other accounts' resources: ``listall=true``, or an
    ``id``/``account`` naming what to list (as CloudStack's ACL search does)."""
    return bool(p.boolean("listall", False)) or bool(p.get("id")) or bool(p.get("account"))


def acting_principal(ctx: CsContext, p: CsParams) -> Principal:
    """Who a command acts as: with ``projectid``, the caller acting for the
    project's account (NotFound unless a member or an admin over it); else the
    caller itself."""
    project = p.uuid("projectid")
    if not project:
        return ctx.principal
    return ctx.services.projects.acting_principal(ctx.principal, project)
