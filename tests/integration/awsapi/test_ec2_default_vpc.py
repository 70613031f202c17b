"""The region's one default VPC with a default subnet per zone, and public
addresses mapped at launch (MapPublicIpOnLaunch, AssociatePublicIpAddress),
with how they give way to Elastic IPs, through boto3."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, instance_view, public_image

PUBLIC_RANGE = ipaddress.IPv4Network("198.51.100.0/24")


def _default_vpcs(ec2: Any) -> list[dict[str, Any]]:
    return ec2.describe_vpcs(  # type: ignore[no-any-return]
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]


def _default_subnets(ec2: Any) -> list[dict[str, Any]]:
    return ec2.describe_subnets(  # type: ignore[no-any-return]
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]


def _ip_state(server: Any, address: str) -> tuple[str, str | None]:
    """(state, instance uuid) of a public address row, straight from the engine."""
    from sqlalchemy import select

    from engine.models import PublicIp

    with server.runtime.unit(readonly=True) as services:
        row = services.session.scalar(select(PublicIp).where(PublicIp.address == address))
        return str(row.state.value if hasattr(row.state, "value") else row.state), \
            row.instance_uuid


def _free_count(server: Any) -> int:
    from sqlalchemy import func, select

    from engine.models import PublicIp
    from engine.states import IpState

    with server.runtime.unit(readonly=True) as services:
        return int(services.session.scalar(select(func.count()).select_from(PublicIp).where(
            PublicIp.state == IpState.FREE)) or 0)


def _terminate(ec2: Any, *iids: str) -> None:
    ec2.terminate_instances(InstanceIds=list(iids))
    ec2.get_waiter("instance_terminated").wait(InstanceIds=list(iids), WaiterConfig=WAIT)


# ------------------------------------------------------------------ shape
def test_one_default_vpc_holds_the_default_subnets(ec2: Any) -> None:
    vpcs = _default_vpcs(ec2)
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16"
    subnets = _default_subnets(ec2)
    zones = [s["AvailabilityZone"] for s in subnets]
    assert subnets and len(zones) == len(set(zones))  # one per availability zone
    for s in subnets:
        assert s["VpcId"] == vpc["VpcId"]
        assert s["DefaultForAz"] is True and s["MapPublicIpOnLaunch"] is True
        assert ipaddress.IPv4Network(s["CidrBlock"]).subnet_of(
            ipaddress.IPv4Network(vpc["CidrBlock"]))
        size = ipaddress.IPv4Network(s["CidrBlock"]).num_addresses
        assert 0 < s["AvailableIpAddressCount"] <= size - 5  # AWS reserves five
    by_vpc = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    assert {s["SubnetId"] for s in by_vpc["Subnets"]} == {s["SubnetId"] for s in subnets}
    assert ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["IsDefault"] is True
    attr = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"]["Value"] is True
    gateways = ec2.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
    assert len(gateways) == 1


def test_users_see_the_default_vpc_but_cannot_change_it(server: Any) -> None:
    client = server.ec2(*server.new_user(f"dv-{uuid.uuid4().hex[:8]}"))
    vpc = _default_vpcs(client)[0]
    assert vpc["VpcId"] == _default_vpcs(server.ec2())[0]["VpcId"]
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc["VpcId"])
    assert error_code(err) == "DependencyViolation"
    with pytest.raises(ClientError) as err:
        client.create_subnet(VpcId=vpc["VpcId"], CidrBlock="172.31.250.0/24")
    assert error_code(err) not in ("", "InternalError")
    assert _default_vpcs(client)[0] == vpc


# --------------------------------------------------------- mapped addresses
def test_launch_into_the_default_subnet_maps_a_public_ip(server: Any, ec2: Any) -> None:
    subnet = _default_subnets(ec2)[0]
    before = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]
    run = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1,
                            Placement={"AvailabilityZone": subnet["AvailabilityZone"]})
    iid = run["Instances"][0]["InstanceId"]
    ip = run["Instances"][0]["PublicIpAddress"]
    assert ipaddress.IPv4Address(ip) in PUBLIC_RANGE
    inst = instance_view(ec2, iid)
    assert inst["SubnetId"] == subnet["SubnetId"] and inst["VpcId"] == subnet["VpcId"]
    assert inst["PublicIpAddress"] == ip
    after = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]
    assert after["AvailableIpAddressCount"] <= before["AvailableIpAddressCount"] - 1
    # Not an Elastic IP of the account; shown on the interface as Amazon's.
    assert ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [ip]}])[
        "Addresses"] == []
    eni = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"][0]
    assert eni["Association"]["PublicIp"] == ip and eni["Association"]["IpOwnerId"] == "amazon"
    assert _ip_state(server, ip)[0] == "Allocated"
    _terminate(ec2, iid)
    assert _ip_state(server, ip) == ("Free", None)
    assert "PublicIpAddress" not in instance_view(ec2, iid)


def test_associate_public_ip_address_overrides_the_subnet(server: Any, ec2: Any) -> None:
    subnet = _default_subnets(ec2)[0]
    spec = {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"],
            "AssociatePublicIpAddress": False}
    off = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1,
                            NetworkInterfaces=[spec])["Instances"][0]
    assert "PublicIpAddress" not in off and off["SubnetId"] == subnet["SubnetId"]

    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    own = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24",
                            AvailabilityZone=subnet["AvailabilityZone"])["Subnet"]
    assert own["MapPublicIpOnLaunch"] is False
    plain = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1,
                              SubnetId=own["SubnetId"])["Instances"][0]
    assert "PublicIpAddress" not in plain
    forced = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": own["SubnetId"],
         "AssociatePublicIpAddress": True}])["Instances"][0]
    assert ipaddress.IPv4Address(forced["PublicIpAddress"]) in PUBLIC_RANGE
    assert forced["SubnetId"] == own["SubnetId"]

    ec2.modify_subnet_attribute(SubnetId=own["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    assert ec2.describe_subnets(SubnetIds=[own["SubnetId"]])["Subnets"][0][
        "MapPublicIpOnLaunch"] is True
    mapped = ec2.run_instances(ImageId=public_image(ec2), MinCount=2, MaxCount=2,
                               SubnetId=own["SubnetId"])["Instances"]
    ips = [i["PublicIpAddress"] for i in mapped]
    assert len(set(ips)) == 2 and forced["PublicIpAddress"] not in ips

    for bad, code in (
        ({"SubnetId": own["SubnetId"], "NetworkInterfaces": [spec]},
         "InvalidParameterCombination"),
        ({"NetworkInterfaces": [dict(spec, AssociatePublicIpAddress=True),
                                {"DeviceIndex": 1, "SubnetId": own["SubnetId"]}]},
         "InvalidParameterCombination"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1, **bad)
        assert error_code(err) == code
    _terminate(ec2, off["InstanceId"], plain["InstanceId"], forced["InstanceId"],
               *[i["InstanceId"] for i in mapped])
    for ip in [forced["PublicIpAddress"], *ips]:
        assert _ip_state(server, ip)[0] == "Free"
    ec2.delete_subnet(SubnetId=own["SubnetId"])
    ec2.delete_vpc(VpcId=vpc)


def test_elastic_ip_replaces_the_mapped_address(server: Any, ec2: Any) -> None:
    run = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1)["Instances"][0]
    iid, mapped = run["InstanceId"], run["PublicIpAddress"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    eip = ec2.allocate_address(Domain="vpc")
    assoc = ec2.associate_address(AllocationId=eip["AllocationId"],
                                  InstanceId=iid)["AssociationId"]
    assert instance_view(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    assert _ip_state(server, mapped) == ("Free", None)  # back to the pool
    ec2.disassociate_address(AssociationId=assoc)
    fresh = instance_view(ec2, iid)["PublicIpAddress"]  # a new mapped address, as on AWS
    assert fresh != eip["PublicIp"] and ipaddress.IPv4Address(fresh) in PUBLIC_RANGE
    found = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
    assert "InstanceId" not in found  # the Elastic IP stays the account's
    _terminate(ec2, iid)
    assert _ip_state(server, fresh) == ("Free", None)
    assert _ip_state(server, eip["PublicIp"])[0] == "Allocated"
    ec2.release_address(AllocationId=eip["AllocationId"])


def test_a_failed_launch_leaks_no_public_ip(server: Any, ec2: Any) -> None:
    free = _free_count(server)
    with pytest.raises(ClientError) as err:  # far more than the hosts can hold
        ec2.run_instances(ImageId=public_image(ec2), InstanceType="r5.4xlarge",
                          MinCount=100, MaxCount=100)
    assert error_code(err) in ("InsufficientInstanceCapacity", "InstanceLimitExceeded")
    assert _free_count(server) == free


# ----------------------------------------------------------- several zones
@pytest.fixture(scope="module")
def two_zones(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server of its own whose region gets a second zone with a default network."""
    from tests.support import bootstrapped_database_url, start_live_server

    home: Path = tmp_path_factory.mktemp("twozones")
    live, httpd = start_live_server(bootstrapped_database_url(home), home)
    with live.runtime.unit() as services:
        first, region = services.catalog.zones()[0]
        zone = services.inventory.create_zone(region, first.name[:-1] + "b",
                                              description="second zone")
        services.inventory.create_network(zone, "second-default", "172.31.16.0/20",
                                          is_default=True)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()


def test_two_zones_share_one_default_vpc(two_zones: Any) -> None:
    ec2 = two_zones.ec2()
    vpcs = _default_vpcs(ec2)
    assert len(vpcs) == 1 and vpcs[0]["CidrBlock"] == "172.31.0.0/16"
    subnets = _default_subnets(ec2)
    assert len(subnets) == 2
    assert {s["VpcId"] for s in subnets} == {vpcs[0]["VpcId"]}
    zones = {z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert {s["AvailabilityZone"] for s in subnets} == zones and len(zones) == 2
    assert all(s["MapPublicIpOnLaunch"] for s in subnets)
    second = next(s for s in subnets if s["CidrBlock"] == "172.31.16.0/20")
    assert second["AvailableIpAddressCount"] == 4096 - 5
    by_az = ec2.describe_subnets(Filters=[
        {"Name": "availability-zone", "Values": [second["AvailabilityZone"]]},
        {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert [s["SubnetId"] for s in by_az] == [second["SubnetId"]]
    gateways = ec2.describe_internet_gateways()["InternetGateways"]
    assert [a["VpcId"] for g in gateways for a in g["Attachments"]] == [vpcs[0]["VpcId"]]


def test_a_default_network_outside_the_block_widens_the_default_vpc(two_zones: Any) -> None:
    with two_zones.runtime.unit() as services:
        _, region = services.catalog.zones()[0]
        zone = services.inventory.create_zone(region, f"wide-{uuid.uuid4().hex[:6]}")
        services.inventory.create_network(zone, "wide-default", "172.30.0.0/24",
                                          is_default=True)
    ec2 = two_zones.ec2()
    vpcs = _default_vpcs(ec2)
    assert len(vpcs) == 1 and vpcs[0]["CidrBlock"] == "172.30.0.0/15"
    assert len(_default_subnets(ec2)) == 3
