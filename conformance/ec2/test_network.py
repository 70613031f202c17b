"""VPCs, subnets, internet gateways, route tables, network interfaces, placement
groups and the catalog (regions, zones, instance types, account attributes)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import unique


def test_default_vpc_and_subnets(ec2: Any, zone: str) -> None:
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpc["IsDefault"] is True and vpc["State"] == "available"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                            {"Name": "default-for-az", "Values": ["true"]}])
    assert zone in {s["AvailabilityZone"] for s in subnets["Subnets"]}
    assert all(s["DefaultForAz"] for s in subnets["Subnets"])


def test_vpc_subnet_gateway_route_table_lifecycle(ec2: Any, zone: str,
                                                  wait: dict[str, float],
                                                  cleanup: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": unique("vpc")}]}])["Vpc"]
    vid = vpc["VpcId"]
    cleanup(lambda: ec2.delete_vpc(VpcId=vid))
    assert vid.startswith("vpc-") and vpc["CidrBlock"] == "10.77.0.0/16"
    ec2.get_waiter("vpc_exists").wait(VpcIds=[vid], WaiterConfig=wait)
    ec2.get_waiter("vpc_available").wait(VpcIds=[vid], WaiterConfig=wait)
    ec2.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": True})
    attr = ec2.describe_vpc_attribute(VpcId=vid, Attribute="enableDnsHostnames")
    assert attr["VpcId"] == vid and attr["EnableDnsHostnames"] == {"Value": True}

    sub = ec2.create_subnet(VpcId=vid, CidrBlock="10.77.1.0/24", AvailabilityZone=zone)["Subnet"]
    sid = sub["SubnetId"]
    cleanup(lambda: ec2.delete_subnet(SubnetId=sid))
    assert sid.startswith("subnet-") and sub["VpcId"] == vid
    ec2.get_waiter("subnet_available").wait(SubnetIds=[sid], WaiterConfig=wait)
    ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    (sub,) = ec2.describe_subnets(SubnetIds=[sid])["Subnets"]
    assert sub["MapPublicIpOnLaunch"] is True and sub["AvailableIpAddressCount"] > 0

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    cleanup(lambda: ec2.delete_internet_gateway(InternetGatewayId=igw))
    ec2.get_waiter("internet_gateway_exists").wait(InternetGatewayIds=[igw],
                                                   WaiterConfig=wait)
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    (gw,) = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"]
    assert [a["VpcId"] for a in gw["Attachments"]] == [vid]

    rtb = ec2.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    cleanup(lambda: ec2.delete_route_table(RouteTableId=rtb))
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=sid)["AssociationId"]
    (table,) = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"]
    assert ("0.0.0.0/0", igw) in {(r.get("DestinationCidrBlock"), r.get("GatewayId"))
                                  for r in table["Routes"]}
    assert sid in {a.get("SubnetId") for a in table["Associations"]}
    ec2.disassociate_route_table(AssociationId=assoc)
    ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vid)
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(VpcIds=[vid])
    assert err.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"


def test_network_interfaces_of_instances(ec2: Any, fleet: list[str]) -> None:
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": fleet[:1]}])["NetworkInterfaces"]
    assert len(enis) == 1
    (eni,) = enis
    assert eni["NetworkInterfaceId"].startswith("eni-")
    assert eni["Attachment"]["InstanceId"] == fleet[0]
    inst = ec2.describe_instances(InstanceIds=fleet[:1])["Reservations"][0]["Instances"][0]
    assert eni["PrivateIpAddress"] == inst["PrivateIpAddress"]


def test_placement_groups(ec2: Any) -> None:
    name = unique("pg")
    made = ec2.create_placement_group(GroupName=name, Strategy="spread")
    assert made.get("PlacementGroup", {}).get("GroupName", name) == name
    (pg,) = ec2.describe_placement_groups(GroupNames=[name])["PlacementGroups"]
    assert pg["Strategy"] == "spread" and pg["State"] == "available"
    ec2.delete_placement_group(GroupName=name)


def test_regions_zones_and_account(ec2: Any, target: Any, zone: str) -> None:
    regions = ec2.describe_regions()["Regions"]
    assert target.region in {r["RegionName"] for r in regions}
    assert all(r["Endpoint"] for r in regions)
    zones = ec2.describe_availability_zones(Filters=[
        {"Name": "region-name", "Values": [target.region]}])["AvailabilityZones"]
    assert zone in {z["ZoneName"] for z in zones}
    assert all(z["RegionName"] == target.region and z["ZoneId"] for z in zones)
    attrs = ec2.describe_account_attributes(AttributeNames=["default-vpc"])
    assert [a["AttributeName"] for a in attrs["AccountAttributes"]] == ["default-vpc"]


def test_instance_types_and_offerings(ec2: Any, instance_type: str, zone: str) -> None:
    (it,) = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    assert it["InstanceType"] == instance_type
    assert it["VCpuInfo"]["DefaultVCpus"] >= 1 and it["MemoryInfo"]["SizeInMiB"] >= 256
    assert "x86_64" in it["ProcessorInfo"]["SupportedArchitectures"]
    pages = list(ec2.get_paginator("describe_instance_types").paginate(
        PaginationConfig={"PageSize": 5, "MaxItems": 12}))
    seen = [t["InstanceType"] for p in pages for t in p["InstanceTypes"]]
    assert len(seen) == len(set(seen)) and len(pages) >= 2
    offers = ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[{"Name": "location", "Values": [zone]},
                 {"Name": "instance-type", "Values": [instance_type]}])
    assert [(o["InstanceType"], o["Location"]) for o in offers["InstanceTypeOfferings"]] == \
        [(instance_type, zone)]
