"""VPC networking, write side for VPCs and subnets: CreateVpc, DeleteVpc,
ModifyVpcAttribute, DescribeVpcAttribute, CreateSubnet, DeleteSubnet,
ModifySubnetAttribute, DescribeDhcpOptions; and what RunInstances asks of the network
(:func:`launch_network_options`).

Range and overlap checks are the engine's (InvalidVpc.Range,
InvalidSubnet.Range, InvalidSubnet.Conflict come from the error table);
DeleteVpc/DeleteSubnet answer DependencyViolation while something depends on
the resource.
"""

from __future__ import annotations

from typing import Any

from awsapi import ids, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.tags import spec_tags
from awsapi.errors_wire import Ec2Error
from awsapi.filters_base import wildcard_match
from awsapi.ids import Kind
from awsapi.views import zone_id
from engine.services.public_ip_launch import PublicIpChoice

VPC_ATTRIBUTES = ("enableDnsSupport", "enableDnsHostnames", "enableNetworkAddressUsageMetrics")
TENANCIES = ("default", "dedicated")


def _required(p: Params, name: str) -> Any:
    value = p.get(name)
    if value is None or value == "":
        raise Ec2Error("MissingParameter", f"The request must contain the parameter {name}")
    return value


def required_id(p: Params, name: str, kind: Kind) -> str:
    """The engine sid of the required ``name`` parameter, an EC2 id of ``kind``
    (MissingParameter when absent, the ids module's error when malformed)."""
    return ids.parse(_required(p, name), kind)


def _flag(p: Params, name: str) -> bool | None:
    value = p.get(name)
    if value is None:
        return None
    return bool(value.get("Value")) if isinstance(value, dict) else bool(value)


@action("CreateVpc")
def create_vpc(ctx: RequestContext, p: Params) -> Result:
    cidr = _required(p, "CidrBlock")
    tenancy = p.get("InstanceTenancy") or "default"
    if tenancy not in TENANCIES:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({tenancy}) for parameter instanceTenancy is invalid.")
    detail = ctx.services.vpcs.create_vpc(ctx.principal, cidr, tenancy=tenancy,
                                          tags=spec_tags(p, "vpc"))
    return {"Vpc": views_network.vpc(detail, ctx.principal.account_number)}


@action("DeleteVpc")
def delete_vpc(ctx: RequestContext, p: Params) -> Result:
    ctx.services.vpcs.delete_vpc(ctx.principal, required_id(p, "VpcId", Kind.VPC))
    return {}


@action("ModifyVpcAttribute")
def modify_vpc_attribute(ctx: RequestContext, p: Params) -> Result:
    support, hostnames = _flag(p, "EnableDnsSupport"), _flag(p, "EnableDnsHostnames")
    if support is not None and hostnames is not None:
        raise Ec2Error("InvalidParameterCombination",
                       "Only one attribute can be modified at a time")
    if support is None and hostnames is None and p.get("EnableNetworkAddressUsageMetrics") is None:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter EnableDnsSupport or "
                       "EnableDnsHostnames")
    ctx.services.vpcs.set_vpc_attributes(ctx.principal, required_id(p, "VpcId", Kind.VPC),
                                         dns_support=support, dns_hostnames=hostnames)
    return {}


@action("DescribeVpcAttribute", readonly=True)
def describe_vpc_attribute(ctx: RequestContext, p: Params) -> Result:
    attribute = _required(p, "Attribute")
    if attribute not in VPC_ATTRIBUTES:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    detail = ctx.services.vpcs.vpc(ctx.principal, required_id(p, "VpcId", Kind.VPC))
    return views_network.vpc_attribute(detail, attribute)


def _zone(ctx: RequestContext, p: Params) -> str | None:
    """The zone named by AvailabilityZone or AvailabilityZoneId (uuid), or None."""
    name, zid = p.get("AvailabilityZone"), p.get("AvailabilityZoneId")
    if name and zid:
        raise Ec2Error("InvalidParameterCombination",
                       "Only one of AvailabilityZone or AvailabilityZoneId may be given")
    if not name and not zid:
        return None
    zones = ctx.services.catalog.zones()
    for zone, region in zones:
        if zone.name == name or zone_id(zone, region) == zid:
            return zone.uuid
    names = ", ".join(z.name for z, _ in zones)
    param = "availabilityZone" if name else "availabilityZoneId"
    raise Ec2Error("InvalidParameterValue",
                   f"Value ({name or zid}) for parameter {param} is invalid. Subnets can "
                   f"currently only be created in the following availability zones: {names}.")


@action("CreateSubnet")
def create_subnet(ctx: RequestContext, p: Params) -> Result:
    vpc_sid = required_id(p, "VpcId", Kind.VPC)
    cidr = _required(p, "CidrBlock")
    detail = ctx.services.vpcs.create_tier(ctx.principal, vpc_sid, cidr, zone_uuid=_zone(ctx, p),
                                           tags=spec_tags(p, "subnet"))
    return {"Subnet": views_network.subnet(detail, ctx.principal.account_number)}


@action("DeleteSubnet")
def delete_subnet(ctx: RequestContext, p: Params) -> Result:
    ctx.services.vpcs.delete_tier(ctx.principal, required_id(p, "SubnetId", Kind.SUBNET))
    return {}


@action("ModifySubnetAttribute")
def modify_subnet_attribute(ctx: RequestContext, p: Params) -> Result:
    sid = required_id(p, "SubnetId", Kind.SUBNET)
    public = _flag(p, "MapPublicIpOnLaunch")
    if public is None:
        others = [k for k in p if k != "SubnetId"]
        if not others:
            raise Ec2Error("MissingParameter",
                           "The request must contain the parameter MapPublicIpOnLaunch")
        raise Ec2Error("InvalidParameterValue",
                       f"The attribute {others[0]} is not supported")
    ctx.services.vpcs.set_tier_attributes(ctx.principal, sid, map_public_ip=public)
    return {}


def launch_network_options(p: Params) -> tuple[str | None, PublicIpChoice]:
    """The subnet (wire id or None: the zone's default subnet) and the public
    address choice of a RunInstances request.

    The top-level SubnetId, or the primary interface's (DeviceIndex 0) when
    NetworkInterfaces are given (both at once: InvalidParameterCombination).
    The primary interface's AssociatePublicIpAddress overrides the subnet's
    MapPublicIpOnLaunch; it is refused with several interfaces or with an
    existing interface, as AWS does.
    """
    specs: list[dict[str, Any]] = list(p.get("NetworkInterfaces") or ())
    subnet = p.get("SubnetId")
    if not specs:
        return subnet, PublicIpChoice.NETWORK
    if subnet:
        raise Ec2Error("InvalidParameterCombination",
                       "Network interfaces and an instance-level subnet ID may not be "
                       "specified on the same request")
    primary = next((s for s in specs if not s.get("DeviceIndex")), specs[0])
    choice = PublicIpChoice.NETWORK
    wanted = primary.get("AssociatePublicIpAddress")
    if wanted is not None:
        if len(specs) > 1:
            raise Ec2Error("InvalidParameterCombination",
                           "The associatePublicIPAddress parameter cannot be specified when "
                           "launching with multiple network interfaces.")
        if primary.get("NetworkInterfaceId"):
            raise Ec2Error("InvalidParameterCombination",
                           "The associatePublicIPAddress parameter can only be specified for "
                           "new network interfaces.")
        choice = PublicIpChoice.YES if wanted else PublicIpChoice.NO
    return primary.get("SubnetId") or None, choice


# ----------------------------------------------------------------- DHCP options
# QUIRK(ec2): us-east-1's instances resolve in ec2.internal, other regions' in
# <region>.compute.internal.
def _domain_name(region: str) -> str:
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def _dhcp_configuration(region: str) -> dict[str, list[str]]:
    return {"domain-name": [_domain_name(region)], "domain-name-servers": ["AmazonProvidedDNS"]}


def _dhcp_matches(name: str, values: list[str], options_id: str, owner: str,
                  config: dict[str, list[str]]) -> bool:
    facts = {"dhcp-options-id": [options_id], "owner-id": [owner], "key": list(config),
             "value": [v for vs in config.values() for v in vs]}
    if name.startswith("tag:") or name in ("tag-key", "tag-value"):
        return False  # the set has no tags
    if name not in facts:
        raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
    return any(wildcard_match(fact, v) for v in values for fact in facts[name])


@action("DescribeDhcpOptions", readonly=True)
def describe_dhcp_options(ctx: RequestContext, p: Params) -> Result:
    """The caller's one DHCP options set (AWS's default: AmazonProvidedDNS and
    the region's internal domain), which every VPC of the account uses."""
    limit = p.get("MaxResults")
    if limit is not None and not 5 <= limit <= 1000:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       "Expecting a value between 5 and 1000.")
    owner = ctx.principal.account_number
    options_id = views_network.dhcp_options_id(owner)
    config = _dhcp_configuration(ctx.region)
    wanted = p.get("DhcpOptionsIds") or []
    for given in wanted:
        ids.parse(given, Kind.DHCP_OPTIONS)  # Malformed
        if given != options_id:
            raise Ec2Error(Kind.DHCP_OPTIONS.not_found_code,
                           f"The dhcpOption ID '{given}' does not exist")
    shown = all(_dhcp_matches(f.get("Name", ""), list(f.get("Values") or ()), options_id,
                              owner, config) for f in p.get("Filters") or ())
    item = {"DhcpOptionsId": options_id, "OwnerId": owner, "Tags": [],
            "DhcpConfigurations": [{"Key": k, "Values": [{"Value": v} for v in vs]}
                                   for k, vs in config.items()]}
    return {"DhcpOptions": [item] if shown else []}
