"""SSH key pairs: create (private key shown once), register, list, delete.

CloudStack shows the MD5 fingerprint of the SSH key blob in colon form.
"""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound
from engine.querying import Criterion
from nativeapi import views_resources as views
from nativeapi.commands import CsContext, Listing, Success, invalid_value, paging
from nativeapi.commands.ownership import list_all, owner_criteria, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


@command("createSSHKeyPair")
def create_ssh_key_pair(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    row, private_key = ctx.services.key_pairs.create(
        ctx.principal, p.require("name"), account_uuid=owner_uuid(ctx, p))
    [detail] = ctx.services.key_pairs.details([row])
    return views.key_pair(detail, private_key)


@command("registerSSHKeyPair")
def register_ssh_key_pair(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    row = ctx.services.key_pairs.import_key(
        ctx.principal, p.require("name"), p.require("publickey"), account_uuid=owner_uuid(ctx, p))
    [detail] = ctx.services.key_pairs.details([row])
    return views.key_pair(detail)


@command("listSSHKeyPairs")
def list_ssh_key_pairs(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    if p.uuid("id"):
        crit.append(Criterion("uuid", (p.uuid("id") or "",), False))
    if p.get("name"):
        crit.append(Criterion("name", (p.require("name"),), False))
    if p.get("fingerprint"):
        crit.append(Criterion("fingerprint_md5", (p.require("fingerprint").lower(),), False))
    if p.get("keyword"):
        crit.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.key_pairs.list(ctx.principal, crit, paging(ctx, p),
                                       list_all=list_all(p), count=True)
    items = [views.key_pair(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("deleteSSHKeyPair")
def delete_ssh_key_pair(ctx: CsContext, p: CsParams) -> Success:
    name = p.require("name")
    owner = owner_uuid(ctx, p)
    try:
        ctx.services.key_pairs.delete(ctx.principal, name=name, account_uuid=owner,
                                      missing_ok=False)
    except NotFound as exc:
        # QUIRK(cloudstack): a missing key pair is an InvalidParameterValueException
        # naming the account (tests/integration/nativeapi/test_cs_keys_tags_events.py).
        account = p.get("account") or ctx.principal.account_name
        raise invalid_value(f"A key pair with name '{name}' does not exist for account "
                            f"{account} in specified domain id") from exc
    return Success()
