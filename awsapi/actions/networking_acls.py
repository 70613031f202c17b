"""Read-only VPC extras derived from what exists: DescribeNetworkAcls and
DescribePrefixLists.

Network ACLs: each VPC's default ACL (:func:`awsapi.views_network.network_acl`),
derived from the VPC and its subnets; creating or changing ACLs and their
entries is not supported (those actions answer UnsupportedOperation, as every
action without a handler does).

Prefix lists: the region's AWS-managed ones, ``com.amazonaws.<region>.s3`` and
``com.amazonaws.<region>.dynamodb``, each with a small fixed set of CIDR blocks
(:data:`SERVICE_CIDRS`; stand-ins, this cloud has no such services). Their
ids are derived from the region and the service name, so they stay the same.

Both list in memory (an account has few VPCs): filters match the rendered
items, NextToken is the id of the last item shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from awsapi import views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.errors_wire import Ec2Error
from awsapi.filters import ViewPath, view_criteria, view_matches
from engine.querying import Criterion

_HEX_TAIL = re.compile(r"[0-9a-f]{8}([0-9a-f]{9})?")

# ------------------------------------------------------------- network ACLs
NETWORK_ACL_FILTERS: Final[dict[str, ViewPath]] = {
    name: tuple(path.split(".")) for name, path in {
        "association.association-id": "Associations.NetworkAclAssociationId",
        "association.network-acl-id": "Associations.NetworkAclId",
        "association.subnet-id": "Associations.SubnetId",
        "default": "IsDefault",
        "entry.cidr": "Entries.CidrBlock",
        "entry.icmp.code": "Entries.IcmpTypeCode.Code",
        "entry.icmp.type": "Entries.IcmpTypeCode.Type",
        "entry.ipv6-cidr": "Entries.Ipv6CidrBlock",
        "entry.port-range.from": "Entries.PortRange.From",
        "entry.port-range.to": "Entries.PortRange.To",
        "entry.protocol": "Entries.Protocol",
        "entry.rule-action": "Entries.RuleAction",
        "entry.egress": "Entries.Egress",
        "entry.rule-number": "Entries.RuleNumber",
        "network-acl-id": "NetworkAclId",
        "owner-id": "OwnerId",
        "vpc-id": "VpcId",
    }.items()}
_NO_TAGS: Final[ViewPath] = ("Tags", "\x00")  # no ACL has tags: tag filters match nothing


def _acl_criteria(filters: Sequence[Mapping[str, Any]] | None) -> tuple[Any, ...]:
    """View criteria of the request; ``entry.protocol`` also takes ``all``
    for ``-1``, and the tag filters (``tag:<key>``, ``tag-key``) match nothing."""
    table = dict(NETWORK_ACL_FILTERS)
    shaped = []
    for f in filters or ():
        name = f.get("Name") or ""
        values = list(f.get("Values") or ())
        if name.startswith("tag:") or name in ("tag-key", "tag-value"):
            table[name] = _NO_TAGS
        if name == "entry.protocol":
            values = ["-1" if v.lower() == "all" else v for v in values]
        shaped.append({"Name": name, "Values": values})
    return view_criteria(shaped, table)


def _wire_ids(p: Params, member: str, prefix: str, noun: str, code: str) -> list[str]:
    """The ids named in ``member``; one that is not ``<prefix>-<hex>`` does not exist."""
    out = list(p.get(member) or ())
    for given in out:
        head, _, tail = given.partition("-")
        if head != prefix or not _HEX_TAIL.fullmatch(tail):
            raise Ec2Error(code, f"The {noun} ID '{given}' does not exist")
    return out


@action("DescribeNetworkAcls", readonly=True)
def describe_network_acls(ctx: RequestContext, p: Params) -> Result:
    pg = paging(p)
    wanted = _wire_ids(p, "NetworkAclIds", views_network.NETWORK_ACL_PREFIX, "networkAcl",
                       "InvalidNetworkAclID.NotFound")
    crit = _acl_criteria(p.get("Filters"))
    caller = ctx.principal.account_number
    vpc_crit = [Criterion("sid", tuple(w.partition("-")[2] for w in wanted), False)] \
        if wanted else []
    vpcs = ctx.services.vpcs.list_vpcs(ctx.principal, vpc_crit).items
    if wanted and not p.get("Filters"):
        found = {f"{views_network.NETWORK_ACL_PREFIX}-{v.sid}" for v in vpcs}
        missing = [w for w in wanted if w not in found]
        if missing:
            raise Ec2Error("InvalidNetworkAclID.NotFound",
                           f"The networkAcl ID '{missing[0]}' does not exist")
    tiers: dict[str, list[Any]] = {}
    if vpcs:
        for t in ctx.services.vpcs.list_tiers(
                ctx.principal, [Criterion("vpc_sid", tuple(v.sid for v in vpcs), False)]).items:
            tiers.setdefault(t.vpc_sid, []).append(t)
    acls = [views_network.network_acl(v, tiers.get(v.sid, []), caller) for v in vpcs]
    acls = [a for a in acls if view_matches(a, crit)]
    items, token = _page(acls, lambda a: str(a["NetworkAclId"]), pg.limit, pg.token)
    out: Result = {"NetworkAcls": items}
    if token:
        out["NextToken"] = token
    return out


# ------------------------------------------------------------- prefix lists
# Service -> the CIDR blocks its prefix list holds (the same in every region).
SERVICE_CIDRS: Final[dict[str, tuple[str, ...]]] = {
    "s3": ("3.5.0.0/19", "52.216.0.0/15", "54.231.0.0/16"),
    "dynamodb": ("3.218.180.0/22", "52.94.0.0/22", "52.119.224.0/20"),
}
PREFIX_LIST_FILTERS: Final[dict[str, ViewPath]] = {
    "prefix-list-id": ("PrefixListId",),
    "prefix-list-name": ("PrefixListName",),
}


def prefix_list_id(region: str, service: str) -> str:
    digest = hashlib.sha256(f"prefix-list:{region}:{service}".encode()).hexdigest()
    return f"pl-{digest[:8]}"


def prefix_lists(region: str) -> list[dict[str, Any]]:
    """The region's AWS-managed prefix lists, in the order they are listed."""
    return [{"PrefixListId": prefix_list_id(region, service),
             "PrefixListName": f"com.amazonaws.{region}.{service}",
             "Cidrs": list(cidrs)} for service, cidrs in SERVICE_CIDRS.items()]


@action("DescribePrefixLists", readonly=True)
def describe_prefix_lists(ctx: RequestContext, p: Params) -> Result:
    pg = paging(p)
    wanted = _wire_ids(p, "PrefixListIds", "pl", "prefix list", "InvalidPrefixListID.NotFound")
    crit = view_criteria(p.get("Filters"), PREFIX_LIST_FILTERS)
    lists = prefix_lists(ctx.region)
    known = {pl["PrefixListId"] for pl in lists}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise Ec2Error("InvalidPrefixListID.NotFound",
                       f"The prefix list ID '{missing[0]}' does not exist")
    lists = [pl for pl in lists if (not wanted or pl["PrefixListId"] in wanted)
             and view_matches(pl, crit)]
    items, token = _page(lists, lambda pl: str(pl["PrefixListId"]), pg.limit, pg.token)
    out: Result = {"PrefixLists": items}
    if token:
        out["NextToken"] = token
    return out


# ------------------------------------------------------------------ paging
def _page(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str],
          limit: int | None, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """``items`` after the one ``token`` names, at most ``limit`` of them, and
    the token of the next page (None: this was the last)."""
    if token:
        try:
            after = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            after = None
        keys = [key(i) for i in items]
        if after not in keys:
            raise Ec2Error("InvalidParameterValue",
                           f"Invalid value '{token}' for NextToken: the token is invalid")
        items = items[keys.index(after) + 1:]
    if limit is None or len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, base64.urlsafe_b64encode(key(items[-1]).encode()).decode().rstrip("=")
