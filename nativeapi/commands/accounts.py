"""Domains, accounts, users and API keys.

Creating, removing and changing the state of domains, accounts and users is for
root admins (registered ``admin_only``); listing is scoped by the engine (users
see their own account and themselves); a user may read and rotate its own keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.services.accounts import (
    AccountDetail,
    AccountQuery,
    AccountRequest,
    UserQuery,
    UserRequest,
)
from engine.states import AccountState, Role
from nativeapi import registry, views_admin
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from engine.models import Job


def _listing(ctx: CsContext, p: CsParams, rows: list[dict[str, Any]]) -> Listing:
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


def _recursive(p: CsParams) -> bool:
    return bool(p.boolean("listall", False) or p.boolean("isrecursive", False))


def _state(p: CsParams) -> AccountState | None:
    raw = p.get("state")
    if not raw:
        return None
    try:
        return AccountState(raw.lower())
    except ValueError:
        raise invalid_value(f"Invalid state {raw}") from None


# --- domains --------------------------------------------------------------------------


@command("createDomain", admin_only=True)
def create_domain(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.add_domain(ctx.principal, p.require("name"),
                                              p.uuid("parentdomainid"))
    return views_admin.domain(detail)


@command("listDomains")
def list_domains(ctx: CsContext, p: CsParams) -> Listing:
    uuid = p.uuid("id")
    if uuid:
        ctx.services.accounts.domain_for(ctx.principal, uuid)  # unknown or foreign: 431
    found = ctx.services.accounts.domains(
        ctx.principal, uuid=uuid, name=p.get("name"), level=p.integer("level"),
        subtree=bool(p.boolean("listall", False)))
    keyword = p.get("keyword")
    rows = [views_admin.domain(d) for d in found
            if not keyword or keyword.lower() in d.domain.name.lower()]
    return _listing(ctx, p, rows)


@command("deleteDomain", is_async=True, admin_only=True)
def delete_domain(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.accounts.delete_domain(ctx.principal, uuid,
                                        cleanup=bool(p.boolean("cleanup", False)))
    return Submitted(finished(ctx, ResourceKind.DOMAIN, uuid))


# --- accounts -------------------------------------------------------------------------


def _account_view(ctx: CsContext, d: AccountDetail) -> dict[str, Any]:
    settings = ctx.services.settings
    unlimited = d.account.role is Role.ADMIN
    return views_admin.account(
        d, vm_limit=-1 if unlimited else settings.int("max.account.user.vms"),
        ip_limit=-1 if unlimited else settings.int("max.account.public.ips"),
        show_keys=ctx.is_admin or d.account.uuid == ctx.principal.account_uuid)


def _account_uuid(ctx: CsContext, p: CsParams) -> str:
    """``id``, or ``account`` + ``domainid``."""
    uuid = p.uuid("id")
    if uuid:
        return uuid
    if not p.get("account"):
        raise invalid_value("Either id or account and domainid must be specified")
    return ctx.services.accounts.account_by_name(ctx.principal, p.require("account"),
                                                 p.uuid("domainid")).uuid


def _role(p: CsParams) -> Role:
    role_id = p.uuid("roleid")
    if role_id:
        if role_id not in views_admin.ROLE_BY_ID:
            raise p.entity_not_found("roleid")
        return views_admin.ROLE_BY_ID[role_id]
    kind = p.integer("accounttype")
    if kind is None:
        return Role.USER
    if kind not in views_admin.ROLE_BY_TYPE:
        raise invalid_value(f"Invalid account type {kind}; use 0 (user), 1 (admin) or "
                            "2 (domain admin)")
    return views_admin.ROLE_BY_TYPE[kind]


@command("createAccount", admin_only=True)
def create_account(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.open_account(ctx.principal, AccountRequest(
        username=p.require("username"), password=p.require("password"), role=_role(p),
        name=p.get("account") or "", domain_uuid=p.uuid("domainid"),
        first_name=p.require("firstname"), last_name=p.require("lastname"),
        email=p.require("email")))
    return _account_view(ctx, detail)


@command("listAccounts")
def list_accounts(ctx: CsContext, p: CsParams) -> Listing:
    uuid = p.uuid("id")
    kind = p.integer("accounttype")
    if kind is not None and kind not in views_admin.ROLE_BY_TYPE:
        return Listing([], 0)
    found = ctx.services.accounts.accounts(ctx.principal, AccountQuery(
        uuid=uuid, name=p.get("name"), domain_uuid=p.uuid("domainid"),
        recursive=_recursive(p),
        roles=(views_admin.ROLE_BY_TYPE[kind],) if kind is not None else (),
        state=_state(p), keyword=p.get("keyword")))
    if not found and uuid:
        ctx.services.accounts.account_detail(ctx.principal, uuid)  # unknown id: 431
    return _listing(ctx, p, [_account_view(ctx, d) for d in found])


def _account_job(ctx: CsContext, uuid: str) -> Submitted:
    return Submitted(finished(ctx, ResourceKind.ACCOUNT, uuid))


@command("deleteAccount", is_async=True, admin_only=True)
def delete_account(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.accounts.delete_account(ctx.principal, uuid)
    return _account_job(ctx, uuid)


@command("disableAccount", is_async=True, admin_only=True)
def disable_account(ctx: CsContext, p: CsParams) -> Submitted:
    lock = bool(p.boolean("lock", required=True))
    state = AccountState.LOCKED if lock else AccountState.DISABLED
    detail = ctx.services.accounts.set_account_state(ctx.principal, _account_uuid(ctx, p), state)
    return _account_job(ctx, detail.account.uuid)


@command("enableAccount", admin_only=True)
def enable_account(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.set_account_state(ctx.principal, _account_uuid(ctx, p),
                                                     AccountState.ENABLED)
    return _account_view(ctx, detail)


_LOCK_ACCOUNT_META = {
    "style": "sync",
    "itemkey": "account",
    "responseclass": "AccountResponse",
    "required": {"account": "string", "domainid": "uuid"},
    "optional": {},
    "responsefields": load_commands()["listAccounts"]["responsefields"],
    "description": "Locks an account",
}


@command("lockAccount", meta=_LOCK_ACCOUNT_META, admin_only=True)
def lock_account(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.set_account_state(ctx.principal, _account_uuid(ctx, p),
                                                     AccountState.LOCKED)
    return _account_view(ctx, detail)


@job_result("account")
def _account_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    cmd = registry.lookup(job.command) if job.command else None
    if cmd is None or cmd.name == "deleteAccount" or not job.resource_uuid:
        return None
    found = ctx.services.accounts.accounts(ctx.principal, AccountQuery(
        uuid=job.resource_uuid, recursive=True))
    return _account_view(ctx, found[0]) if found else None


# --- users and keys -------------------------------------------------------------------


@command("createUser", admin_only=True)
def create_user(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.accounts.add_user(ctx.principal, UserRequest(
        account_name=p.require("account"), username=p.require("username"),
        password=p.require("password"), domain_uuid=p.uuid("domainid"),
        first_name=p.require("firstname"), last_name=p.require("lastname"),
        email=p.require("email")))
    return views_admin.user(detail, show_keys=True)


@command("listUsers")
def list_users(ctx: CsContext, p: CsParams) -> Listing:
    kind = p.integer("accounttype")
    if kind is not None and kind not in views_admin.ROLE_BY_TYPE:
        return Listing([], 0)
    found = ctx.services.accounts.users(ctx.principal, UserQuery(
        uuid=p.uuid("id"), username=p.get("username"), account_name=p.get("account"),
        domain_uuid=p.uuid("domainid"), recursive=_recursive(p) or bool(p.get("account")),
        roles=(views_admin.ROLE_BY_TYPE[kind],) if kind is not None else (),
        state=_state(p), keyword=p.get("keyword")))
    rows = [views_admin.user(d, show_keys=True) for d in found]
    return _listing(ctx, p, rows)


@command("getUserKeys")
def get_user_keys(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    user = ctx.services.accounts.user_keys(ctx.principal, p.uuid("id", required=True) or "")
    return views_admin.user_keys(user)


@command("registerUserKeys")
def register_user_keys(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    user = ctx.services.accounts.rotate_keys(ctx.principal, p.uuid("id", required=True) or "")
    return views_admin.user_keys(user)
