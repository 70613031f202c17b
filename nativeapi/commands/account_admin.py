"""Account administration beyond create/list/delete: updating accounts, users and
domains, user state, roles and resource limits.

Managing other users, accounts and domains is for root admins (``admin_only``);
``updateUser`` is open to everyone but the engine lets a user change only itself
(with its current password for a new one); ``listRoles`` is
open and scoped to what the caller may see (resource limits: resource_limits.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.accounts import UserChanges
from engine.states import AccountState, Role
from nativeapi import views_admin, views_admin_more
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.accounts import _account_uuid, _account_view
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job


# --- accounts and domains -------------------------------------------------------------


@command("updateAccount", admin_only=True)
def update_account(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    role: Role | None = None
    role_id = p.uuid("roleid")
    if role_id:
        if role_id not in views_admin.ROLE_BY_ID:
            raise p.entity_not_found("roleid")
        role = views_admin.ROLE_BY_ID[role_id]
    detail = ctx.services.accounts.update_account(ctx.principal, _account_uuid(ctx, p),
                                                  new_name=p.get("newname"), role=role)
    return _account_view(ctx, detail)


@command("updateDomain", admin_only=True)
def update_domain(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    uuid = p.uuid("id", required=True) or ""
    name = p.get("name")
    if name is not None:
        return views_admin.domain(ctx.services.accounts.update_domain(ctx.principal, uuid,
                                                                      name))
    ctx.services.accounts.domain_for(ctx.principal, uuid)
    return views_admin.domain(ctx.services.accounts.domains(ctx.principal, uuid=uuid)[0])


# --- users ----------------------------------------------------------------------------


@command("getUser", admin_only=True)
def get_user(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.user_by_api_key(ctx.principal, p.require("userapikey"))
    return views_admin.user(detail, show_keys=True)


@command("updateUser")
def update_user(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.update_user(
        ctx.principal, p.uuid("id", required=True) or "",
        UserChanges(username=p.get("username"), password=p.get("password"),
                    current_password=p.get("currentpassword"), first_name=p.get("firstname"),
                    last_name=p.get("lastname"), email=p.get("email"),
                    api_key=p.get("userapikey"), secret_key=p.get("usersecretkey")))
    return views_admin.user(detail, show_keys=True)


@command("deleteUser", admin_only=True)
def delete_user(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.accounts.delete_user(ctx.principal, p.uuid("id", required=True) or "")
    return Success()


@command("disableUser", is_async=True, admin_only=True)
def disable_user(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.accounts.set_user_state(
        ctx.principal, p.uuid("id", required=True) or "", AccountState.DISABLED)
    return Submitted(finished(ctx, ResourceKind.USER, detail.user.uuid))


@command("enableUser", admin_only=True)
def enable_user(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.set_user_state(
        ctx.principal, p.uuid("id", required=True) or "", AccountState.ENABLED)
    return views_admin.user(detail, show_keys=True)


@job_result("user")
def _user_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The user as it is now; None once it is gone (listAsyncJobs must not fail)."""
    if not job.resource_uuid:
        return None
    try:
        detail = ctx.services.accounts.user_detail(ctx.principal, job.resource_uuid)
    except NotFound:
        return None
    return views_admin.user(detail, show_keys=True)


# --- roles ----------------------------------------------------------------------------

@command("listRoles")
def list_roles(ctx: CsContext, p: CsParams) -> Listing:
    """Root admins see every role, domain admins theirs and User, users User."""
    visible: tuple[Role, ...]
    if ctx.is_admin:
        visible = (Role.ADMIN, Role.DOMAIN_ADMIN, Role.USER)
    elif ctx.principal.is_domain_admin:
        visible = (Role.DOMAIN_ADMIN, Role.USER)
    else:
        visible = (Role.USER,)
    uuid, name, kind, keyword = p.uuid("id"), p.get("name"), p.get("type"), p.get("keyword")
    rows = [views_admin_more.role(views_admin.ROLES[r]) for r in visible]
    rows = [r for r in rows if (uuid is None or r["id"] == uuid)
            and (name is None or r["name"].lower() == name.lower())
            and (kind is None or r["type"].lower() == kind.lower())
            and (keyword is None or keyword.lower() in r["name"].lower())]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))
