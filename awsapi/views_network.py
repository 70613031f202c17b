"""Guest networks -> EC2 VPCs, subnets and internet gateways.

A guest network is shown twice: as a VPC (``vpc-<sid>``) and as that VPC's one
subnet (``subnet-<sid>``), both with the network's CIDR. A zone's default shared
network is the region's default VPC and the zone's default subnet; it also gets
an attached internet gateway (``igw-<sid>``). A shared network belongs to no
account, so its OwnerId is the caller's, as AWS shows each account its own
default VPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awsapi.ids import Kind, render
from awsapi.views import tags, zone_id

if TYPE_CHECKING:
    from engine.services.inventory_network import VisibleNetwork


def owner(d: VisibleNetwork, caller_number: str) -> str:
    return d.account.number if d.account is not None else caller_number


def vpc(d: VisibleNetwork, caller_number: str) -> dict[str, Any]:
    n = d.network
    return {
        "VpcId": render(Kind.VPC, n.sid),
        "OwnerId": owner(d, caller_number),
        "State": "available",
        "CidrBlock": n.cidr,
        "CidrBlockAssociationSet": [{
            "AssociationId": f"vpc-cidr-assoc-{n.sid}",
            "CidrBlock": n.cidr,
            "CidrBlockState": {"State": "associated"},
        }],
        "Ipv6CidrBlockAssociationSet": [],
        "DhcpOptionsId": "default",
        "InstanceTenancy": "default",
        "IsDefault": bool(n.is_default),
        "Tags": tags(d.tags),
    }


def subnet(d: VisibleNetwork, caller_number: str) -> dict[str, Any]:
    n = d.network
    owner_id = owner(d, caller_number)
    subnet_id = render(Kind.SUBNET, n.sid)
    return {
        "SubnetId": subnet_id,
        "SubnetArn": f"arn:aws:ec2:{d.region.name}:{owner_id}:subnet/{subnet_id}",
        "VpcId": render(Kind.VPC, n.sid),
        "OwnerId": owner_id,
        "State": "available",
        "AvailabilityZone": d.zone.name,
        "AvailabilityZoneId": zone_id(d.zone, d.region),
        "CidrBlock": n.cidr,
        "AvailableIpAddressCount": d.free_addresses,
        "DefaultForAz": bool(n.is_default),
        "MapPublicIpOnLaunch": False,
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


def internet_gateway(d: VisibleNetwork, caller_number: str) -> dict[str, Any]:
    n = d.network
    return {
        "InternetGatewayId": render(Kind.INTERNET_GATEWAY, n.sid),
        "OwnerId": owner(d, caller_number),
        "Attachments": [{"State": "available", "VpcId": render(Kind.VPC, n.sid)}],
        "Tags": [],
    }
