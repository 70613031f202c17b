"""Network containers, tiers, gateways and route tables -> EC2 VPCs, subnets,
internet gateways and route tables.

A container is a VPC (``vpc-<sid>``) and its tiers are its subnets. A guest
network outside any container is shown as a VPC of its own with one subnet,
both with the network's sid and CIDR. A zone's default shared network is the
default VPC and the zone's default subnet, with an attached internet gateway
of the same sid. A shared network belongs to no account, so its OwnerId is
the caller's, as AWS shows each account its own default VPC.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from awsapi.ids import SID_LENGTH, Kind, render
from awsapi.views import aware, private_dns, tags, zone_id

if TYPE_CHECKING:
    from engine.models import Account
    from engine.services.network_interfaces import InterfaceDetail
    from engine.services.routing import GatewayDetail, RouteTableDetail
    from engine.services.vpcs import TierDetail, VpcDetail


def owner(account: Account | None, caller_number: str) -> str:
    return account.number if account is not None else caller_number


def dhcp_options_id(account_number: str) -> str:
    """The id of an account's DHCP options set: every account has one (AWS's
    default set: AmazonProvidedDNS), used by all its VPCs."""
    digest = hashlib.sha256(f"dhcp-options:{account_number}".encode()).hexdigest()
    return render(Kind.DHCP_OPTIONS, digest[:SID_LENGTH])


def vpc(d: VpcDetail, caller_number: str) -> dict[str, Any]:
    return {
        "VpcId": render(Kind.VPC, d.sid),
        "OwnerId": owner(d.account, caller_number),
        "State": "available",
        "CidrBlock": d.cidr,
        "CidrBlockAssociationSet": [{
            "AssociationId": f"vpc-cidr-assoc-{d.sid}",
            "CidrBlock": d.cidr,
            "CidrBlockState": {"State": "associated"},
        }],
        "Ipv6CidrBlockAssociationSet": [],
        "DhcpOptionsId": dhcp_options_id(owner(d.account, caller_number)),
        "InstanceTenancy": d.vpc.tenancy if d.vpc is not None else "default",
        "IsDefault": d.is_default,
        "Tags": tags(d.tags),
    }


def vpc_attribute(d: VpcDetail, attribute: str) -> dict[str, Any]:
    out: dict[str, Any] = {"VpcId": render(Kind.VPC, d.sid)}
    if attribute == "enableDnsSupport":
        out["EnableDnsSupport"] = {"Value": d.dns_support}
    elif attribute == "enableDnsHostnames":
        out["EnableDnsHostnames"] = {"Value": d.dns_hostnames}
    else:
        out["EnableNetworkAddressUsageMetrics"] = {"Value": False}
    return out


def subnet(d: TierDetail, caller_number: str) -> dict[str, Any]:
    n = d.network
    owner_id = owner(d.account, caller_number)
    subnet_id = render(Kind.SUBNET, n.sid)
    return {
        "SubnetId": subnet_id,
        "SubnetArn": f"arn:aws:ec2:{d.region.name}:{owner_id}:subnet/{subnet_id}",
        "VpcId": render(Kind.VPC, d.vpc_sid),
        "OwnerId": owner_id,
        "State": "available",
        "AvailabilityZone": d.zone.name,
        "AvailabilityZoneId": zone_id(d.zone, d.region),
        "CidrBlock": n.cidr,
        "AvailableIpAddressCount": d.free_addresses,
        "DefaultForAz": bool(n.is_default),
        "MapPublicIpOnLaunch": bool(d.tier.map_public_ip) if d.tier is not None else False,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": False,
            "EnableResourceNameDnsAAAARecord": False,
        },
        "Tags": tags(d.tags),
    }


def internet_gateway(d: GatewayDetail, caller_number: str) -> dict[str, Any]:
    attachments = ([{"State": "available", "VpcId": render(Kind.VPC, d.vpc_sid)}]
                   if d.vpc_sid else [])
    return {
        "InternetGatewayId": render(Kind.INTERNET_GATEWAY, d.sid),
        "OwnerId": owner(d.account, caller_number),
        "Attachments": attachments,
        "Tags": tags(d.tags),
    }


def route_table(d: RouteTableDetail, caller_number: str) -> dict[str, Any]:
    t = d.table
    table_id = render(Kind.ROUTE_TABLE, t.sid)
    routes = []
    for r in d.routes:
        route: dict[str, Any] = {
            "DestinationCidrBlock": r.route.destination,
            "GatewayId": (render(Kind.INTERNET_GATEWAY, r.gateway_sid) if r.gateway_sid
                          else "local"),
            "Origin": "CreateRouteTable" if r.route.target == "local" else "CreateRoute",
            "State": "active" if r.active else "blackhole",
        }
        routes.append(route)
    associations = []
    for link in d.links:
        assoc: dict[str, Any] = {
            "Main": link.network_sid is None,
            "RouteTableAssociationId": render(Kind.ROUTE_TABLE_ASSOCIATION, link.link.sid),
            "RouteTableId": table_id,
            "AssociationState": {"State": "associated"},
        }
        if link.network_sid is not None:
            assoc["SubnetId"] = render(Kind.SUBNET, link.network_sid)
        associations.append(assoc)
    return {
        "RouteTableId": table_id,
        "VpcId": render(Kind.VPC, d.vpc_sid),
        "OwnerId": owner(d.account, caller_number),
        "Routes": routes,
        "Associations": associations,
        "PropagatingVgws": [],
        "Tags": tags(d.tags),
    }


# Nic.status -> the interface's Status / its attachment's Status.
_ENI_STATUS = {"available": "available", "attaching": "in-use", "in-use": "in-use",
               "detaching": "in-use"}
_ATTACHMENT_STATUS = {"attaching": "attaching", "in-use": "attached", "detaching": "detaching"}


def network_interface(d: InterfaceDetail, caller_number: str) -> dict[str, Any]:
    """An interface; a standalone one (no instance) is ``available`` without an
    attachment block."""
    n, i = d.nic, d.instance
    eni_id = render(Kind.NETWORK_INTERFACE, n.sid)
    association = None
    if d.public_ip is not None:
        association = {"IpOwnerId": "amazon", "PublicDnsName": "",
                       "PublicIp": d.public_ip.address}
        if d.public_ip.account_uuid and d.public_ip.association_sid:  # an Elastic IP
            association.update({
                "IpOwnerId": d.account.number,
                "AllocationId": render(Kind.ADDRESS, d.public_ip.sid)})
            if d.public_ip.association_sid:
                association["AssociationId"] = render(Kind.ASSOCIATION,
                                                      d.public_ip.association_sid)
    primary: dict[str, Any] = {"Primary": True, "PrivateIpAddress": n.ip_address,
                               "PrivateDnsName": private_dns(n.ip_address)}
    out: dict[str, Any] = {
        "NetworkInterfaceId": eni_id,
        "SubnetId": render(Kind.SUBNET, d.network.sid),
        "VpcId": render(Kind.VPC, d.vpc_sid),
        "AvailabilityZone": d.zone.name,
        "Description": n.description or "",
        "OwnerId": d.account.number,
        "RequesterManaged": False,
        "Status": "available" if i is None else _ENI_STATUS.get(n.status, "in-use"),
        "MacAddress": n.mac_address,
        "PrivateIpAddress": n.ip_address,
        "PrivateDnsName": private_dns(n.ip_address),
        "SourceDestCheck": n.source_dest_check is not False,
        "InterfaceType": "interface",
        "Groups": [{"GroupName": g.name, "GroupId": render(Kind.SECURITY_GROUP, g.sid)}
                   for g in d.groups],
        "PrivateIpAddresses": [primary],
        "Ipv6Addresses": [],
        "TagSet": tags(d.tags),
    }
    if i is not None:
        out["Attachment"] = {
            "AttachmentId": f"eni-attach-{n.attachment_sid or n.sid}",
            "InstanceId": render(Kind.INSTANCE, i.sid),
            "InstanceOwnerId": d.account.number,
            "DeviceIndex": n.device_id,
            "NetworkCardIndex": 0,
            "Status": _ATTACHMENT_STATUS.get(n.status, "attached"),
            "AttachTime": aware(n.attached_at or n.created_at),
            "DeleteOnTermination": bool(n.delete_on_termination),
        }
    if association is not None:
        out["Association"] = association
        primary["Association"] = association
    return out


# ------------------------------------------------------------- network ACLs
# Every VPC has one network ACL here, its default one (``acl-<vpc sid>``),
# associated with each of its subnets (``aclassoc-<subnet sid>``), with AWS's
# default entries: rule 100 allows all IPv4 traffic, the catch-all (*) denies
# it, both ways. The ``*`` rule's number is 32767.
CATCH_ALL_RULE = 32767
NETWORK_ACL_PREFIX = "acl"
NETWORK_ACL_ASSOCIATION_PREFIX = "aclassoc"


def _default_acl_entries() -> list[dict[str, Any]]:
    return [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1",
             "RuleAction": action, "RuleNumber": number}
            for egress in (True, False)
            for number, action in ((100, "allow"), (CATCH_ALL_RULE, "deny"))]


def network_acl(d: VpcDetail, subnets: list[TierDetail], caller_number: str) -> dict[str, Any]:
    """The VPC's default network ACL, associated with ``subnets`` (the VPC's)."""
    acl_id = f"{NETWORK_ACL_PREFIX}-{d.sid}"
    return {
        "NetworkAclId": acl_id,
        "VpcId": render(Kind.VPC, d.sid),
        "OwnerId": owner(d.account, caller_number),
        "IsDefault": True,
        "Entries": _default_acl_entries(),
        "Associations": [{
            "NetworkAclAssociationId": f"{NETWORK_ACL_ASSOCIATION_PREFIX}-{t.network.sid}",
            "NetworkAclId": acl_id,
            "SubnetId": render(Kind.SUBNET, t.network.sid)} for t in subnets],
        "Tags": [],
    }
