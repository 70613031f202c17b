"""Regions and availability zones."""

from __future__ import annotations

from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.views import zone_id


def _filter_values(p: Params, allowed: set[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for f in p.get("Filters") or ():
        name = f.get("Name", "")
        if name not in allowed:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        out[name] = tuple(f.get("Values") or ())
    return out


def _matches(value: str, wanted: tuple[str, ...] | None) -> bool:
    if wanted is None:
        return True
    from fnmatch import fnmatchcase

    return any(fnmatchcase(value, w) for w in wanted)


@action("DescribeRegions", readonly=True)
def describe_regions(ctx: RequestContext, p: Params) -> Result:
    f = _filter_values(p, {"endpoint", "region-name", "opt-in-status"})
    names = tuple(p.get("RegionNames") or ())
    regions = ctx.services.catalog.regions(names)
    if names:
        missing = set(names) - {r.name for r in regions}
        if missing:
            raise Ec2Error("InvalidParameterValue",
                           f"Invalid region: {sorted(missing)[0]}")
    out = []
    for r in regions:
        endpoint = r.endpoint or f"ec2.{r.name}.amazonaws.com"
        if (_matches(r.name, f.get("region-name")) and _matches(endpoint, f.get("endpoint"))
                and _matches("opt-in-not-required", f.get("opt-in-status"))):
            out.append({"RegionName": r.name, "Endpoint": endpoint,
                        "OptInStatus": "opt-in-not-required"})
    return {"Regions": out}


@action("DescribeAvailabilityZones", readonly=True)
def describe_availability_zones(ctx: RequestContext, p: Params) -> Result:
    f = _filter_values(p, {"zone-name", "zone-id", "state", "region-name", "zone-type",
                           "group-name", "group-long-name", "opt-in-status", "network-border-group",
                           "message", "parent-zone-name", "parent-zone-id"})
    names = tuple(p.get("ZoneNames") or ())
    zone_ids = set(p.get("ZoneIds") or ())
    rows = [(z, r) for z, r in ctx.services.catalog.zones() if r.name == ctx.region]
    out = []
    for z, r in rows:
        zid = zone_id(z, r)
        state = "available" if z.allocation_state.value == "Enabled" else "unavailable"
        if names and z.name not in names:
            continue
        if zone_ids and zid not in zone_ids:
            continue
        item = {"ZoneName": z.name, "ZoneId": zid, "State": state, "RegionName": r.name,
                "Messages": [], "ZoneType": "availability-zone", "GroupName": r.name,
                "NetworkBorderGroup": r.name, "OptInStatus": "opt-in-not-required"}
        checks = {"zone-name": z.name, "zone-id": zid, "state": state, "region-name": r.name,
                  "zone-type": "availability-zone", "group-name": r.name,
                  "opt-in-status": "opt-in-not-required", "network-border-group": r.name}
        if all(_matches(checks.get(k, ""), v) for k, v in f.items()):
            out.append(item)
    unknown = set(names) - {z.name for z, _ in rows}
    if unknown:
        raise Ec2Error("InvalidParameterValue",
                       f"The zone '{sorted(unknown)[0]}' does not exist.")
    return {"AvailabilityZones": out}
