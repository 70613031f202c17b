"""Instance types (the engine's service offerings) and where they are offered.

The catalog is small, so both actions render every offering, filter the
rendered items and page them in memory; tokens carry the last name returned
and a fingerprint of the query, so a token replayed with other filters fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from awsapi import views, views_catalog
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.filters import (
    INSTANCE_TYPE_FILTERS,
    INSTANCE_TYPE_OFFERING_FILTERS,
    view_criteria,
    view_matches,
)

LOCATION_TYPES = ("region", "availability-zone", "availability-zone-id")


@action("DescribeInstanceTypes", readonly=True)
def describe_instance_types(ctx: RequestContext, p: Params) -> Result:
    crit = view_criteria(p.get("Filters"), INSTANCE_TYPE_FILTERS)
    names = tuple(dict.fromkeys(p.get("InstanceTypes") or ()))
    offerings = ctx.services.catalog.service_offerings(names=names) if names else \
        ctx.services.catalog.service_offerings()
    if names:
        missing = [n for n in names if n not in {o.name for o in offerings}]
        if missing:
            raise Ec2Error("InvalidInstanceType",
                           f"The following supplied instance types do not exist: "
                           f"[{', '.join(missing)}]")
    items = [t for t in map(views_catalog.instance_type, offerings) if view_matches(t, crit)]
    # QUIRK(ec2): without MaxResults a page holds at most 100 types.
    page, token = _page(items, lambda t: t["InstanceType"], p, ("types", names, crit),
                        minimum=5, maximum=100, default=100)
    return {"InstanceTypes": page, "NextToken": token}


@action("DescribeInstanceTypeOfferings", readonly=True)
def describe_instance_type_offerings(ctx: RequestContext, p: Params) -> Result:
    location_type = p.get("LocationType") or "region"
    if location_type not in LOCATION_TYPES:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({location_type}) for parameter locationType is invalid.")
    crit = view_criteria(p.get("Filters"), INSTANCE_TYPE_OFFERING_FILTERS)
    catalog = ctx.services.catalog
    if location_type == "region":
        locations = [ctx.region]
    else:
        zones = [(z, r) for z, r in catalog.zones(include_disabled=False) if r.name == ctx.region]
        locations = [z.name if location_type == "availability-zone" else views.zone_id(z, r)
                     for z, r in zones]
    items = [{"InstanceType": o.name, "LocationType": location_type, "Location": where}
             for o in catalog.service_offerings() for where in locations]
    items = [i for i in items if view_matches(i, crit)]
    page, token = _page(items, lambda i: f"{i['InstanceType']}\x00{i['Location']}", p,
                        ("offerings", location_type, crit), minimum=5, maximum=1000)
    return {"InstanceTypeOfferings": page, "NextToken": token}


def _page(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str], p: Params,
          query: object, *, minimum: int, maximum: int,
          default: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` ordered by ``key`` and the token of the next, if any."""
    limit = p.get("MaxResults")
    if limit is not None and not minimum <= limit <= maximum:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value between {minimum} and {maximum}.")
    limit = limit if limit is not None else default
    fingerprint = hashlib.sha256(json.dumps(query, default=str).encode()).hexdigest()[:12]
    ordered = sorted(items, key=key)
    token = p.get("NextToken")
    if token:
        after = _decode(token, fingerprint)
        ordered = [i for i in ordered if key(i) > after]
    if limit is None or len(ordered) <= limit:
        return ordered, None
    page = ordered[:limit]
    raw = json.dumps({"a": key(page[-1]), "q": fingerprint}).encode()
    return page, base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, fingerprint: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, query = str(data["a"]), data["q"]
    except (ValueError, KeyError, TypeError):
        raise Ec2Error("InvalidParameterValue", "The token is invalid") from None
    if query != fingerprint:
        raise Ec2Error("InvalidParameterValue", "The token does not belong to this query")
    return after
