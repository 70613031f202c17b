"""Describe filters select the right resources: the ones AWS documents beyond
ids and names (VPC/subnet, addresses, NICs, times with wildcards, block
devices, zone ids, image state and owner alias, constants and absent features)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

WAIT = {"Delay": 0.2, "MaxAttempts": 100}


def _ids(ec2: Any, *filters: tuple[str, list[str]], mark: str) -> set[str]:
    """Instance ids matching ``filters`` among those tagged ``mark``."""
    crit = [{"Name": "tag:mark", "Values": [mark]}]
    crit += [{"Name": n, "Values": v} for n, v in filters]
    return {i["InstanceId"] for r in ec2.describe_instances(Filters=crit)["Reservations"]
            for i in r["Instances"]}


@pytest.fixture(scope="module")
def launched(server: Any) -> Iterator[dict[str, Any]]:
    """One running instance with an Elastic IP, tagged with a fresh mark."""
    ec2 = server.ec2(*server.new_user("filters"))
    mark = uuid.uuid4().hex[:10]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "mark", "Value": mark}]}],
    )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    assoc = ec2.associate_address(AllocationId=alloc, InstanceId=iid)["AssociationId"]
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    eni = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"][0]
    yield {"ec2": ec2, "mark": mark, "id": iid, "instance": inst, "eni": eni,
           "alloc": alloc, "assoc": assoc, "image": image}
    ec2.disassociate_address(AssociationId=assoc)
    ec2.release_address(AllocationId=alloc)
    ec2.terminate_instances(InstanceIds=[iid])


def test_network_placement_filters(launched: dict[str, Any]) -> None:
    ec2, mark, iid, inst = launched["ec2"], launched["mark"], launched["id"], launched["instance"]
    ip = inst["PrivateIpAddress"]
    for name, good, bad in [
        ("vpc-id", inst["VpcId"], "vpc-0000000000000000f"),
        ("subnet-id", inst["SubnetId"], "subnet-0000000000000000f"),
        ("private-ip-address", ip, "192.0.2.1"),
        ("private-ip-address", ip.rsplit(".", 1)[0] + ".*", "192.0.2.*"),
        ("private-dns-name", inst["PrivateDnsName"], "ip-192-0-2-1.ec2.internal"),
        ("availability-zone", inst["Placement"]["AvailabilityZone"], "xx-nowhere-1a"),
        ("architecture", inst["Architecture"], "arm64"),
        ("owner-id", ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["OwnerId"],
         "000000000000"),
        ("ip-address", inst["PublicIpAddress"], "203.0.113.250"),
    ]:
        assert _ids(ec2, (name, [good]), mark=mark) == {iid}, name
        assert _ids(ec2, (name, [bad]), mark=mark) == set(), name


def test_zone_id_filters_agree_with_rendered_zone_ids(launched: dict[str, Any]) -> None:
    ec2, mark, iid = launched["ec2"], launched["mark"], launched["id"]
    zone = launched["instance"]["Placement"]["AvailabilityZone"]
    zone_id = next(z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]
                   if z["ZoneName"] == zone)
    assert _ids(ec2, ("availability-zone-id", [zone_id]), mark=mark) == {iid}
    assert _ids(ec2, ("availability-zone-id", ["use1-az9"]), mark=mark) == set()
    subnet = launched["instance"]["SubnetId"]
    got = ec2.describe_subnets(SubnetIds=[subnet], Filters=[
        {"Name": "availability-zone-id", "Values": [zone_id]}])["Subnets"]
    assert [s["AvailabilityZoneId"] for s in got] == [zone_id]
    vol = launched["instance"]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    for wanted, found in ((zone_id, [vol]), ("use1-az9", [])):
        got = ec2.describe_volumes(Filters=[
            {"Name": "availability-zone-id", "Values": [wanted]},
            {"Name": "volume-id", "Values": [vol]}])["Volumes"]
        assert [v["VolumeId"] for v in got] == found
    status = ec2.describe_instance_status(InstanceIds=[iid], Filters=[
        {"Name": "availability-zone-id", "Values": [zone_id]}])["InstanceStatuses"]
    assert [s["InstanceId"] for s in status] == [iid]


def test_launch_time_exact_and_wildcard(launched: dict[str, Any]) -> None:
    ec2, mark, iid = launched["ec2"], launched["mark"], launched["id"]
    when = launched["instance"]["LaunchTime"]
    day = when.strftime("%Y-%m-%dT*")
    second = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _ids(ec2, ("launch-time", [day]), mark=mark) == {iid}
    assert _ids(ec2, ("launch-time", [second]), mark=mark) == {iid}
    assert _ids(ec2, ("launch-time", [when.strftime("%Y-%m-%dT%H:%M:*")]), mark=mark) == {iid}
    assert _ids(ec2, ("launch-time", ["1999-01-01T*"]), mark=mark) == set()
    assert _ids(ec2, ("launch-time", ["1999-01-01T00:00:00Z"]), mark=mark) == set()


def test_block_device_mapping_filters(launched: dict[str, Any]) -> None:
    ec2, mark, iid = launched["ec2"], launched["mark"], launched["id"]
    bdm = launched["instance"]["BlockDeviceMappings"][0]
    vol = bdm["Ebs"]["VolumeId"]
    assert _ids(ec2, ("block-device-mapping.volume-id", [vol]), mark=mark) == {iid}
    assert _ids(ec2, ("block-device-mapping.volume-id", ["vol-0000000000000000f"]),
                mark=mark) == set()
    assert _ids(ec2, ("block-device-mapping.device-name", [bdm["DeviceName"]]),
                mark=mark) == {iid}
    assert _ids(ec2, ("block-device-mapping.device-name", ["/dev/sdz"]), mark=mark) == set()
    assert _ids(ec2, ("block-device-mapping.status", ["attached"]), mark=mark) == {iid}
    flag = str(bdm["Ebs"]["DeleteOnTermination"]).lower()
    assert _ids(ec2, ("block-device-mapping.delete-on-termination", [flag]), mark=mark) == {iid}


def test_network_interface_filters_on_instances(launched: dict[str, Any]) -> None:
    ec2, mark, iid, eni = launched["ec2"], launched["mark"], launched["id"], launched["eni"]
    for name, good, bad in [
        ("network-interface.network-interface-id", eni["NetworkInterfaceId"],
         "eni-0000000000000000f"),
        ("network-interface.mac-address", eni["MacAddress"], "02:00:00:00:00:00"),
        ("network-interface.subnet-id", eni["SubnetId"], "subnet-0000000000000000f"),
        ("network-interface.vpc-id", eni["VpcId"], "vpc-0000000000000000f"),
        ("network-interface.addresses.private-ip-address", eni["PrivateIpAddress"],
         "192.0.2.1"),
        ("network-interface.attachment.device-index", "0", "7"),
        ("network-interface.association.allocation-id", launched["alloc"],
         "eipalloc-0000000000000000f"),
        ("network-interface.addresses.association.association-id", launched["assoc"],
         "eipassoc-0000000000000000f"),
        ("network-interface.association.public-ip", eni["Association"]["PublicIp"],
         "203.0.113.250"),
        ("network-interface.status", "in-use", "available"),
    ]:
        assert _ids(ec2, (name, [good]), mark=mark) == {iid}, name
        assert _ids(ec2, (name, [bad]), mark=mark) == set(), name


def test_constants_and_absent_features(launched: dict[str, Any]) -> None:
    ec2, mark, iid = launched["ec2"], launched["mark"], launched["id"]
    inst = launched["instance"]
    assert _ids(ec2, ("root-device-type", [inst["RootDeviceType"]]), mark=mark) == {iid}
    assert _ids(ec2, ("virtualization-type", ["hv*"]), mark=mark) == {iid}
    assert _ids(ec2, ("virtualization-type", ["paravirtual"]), mark=mark) == set()
    assert _ids(ec2, ("hypervisor", [inst["Hypervisor"]]), mark=mark) == {iid}
    assert _ids(ec2, ("tenancy", ["dedicated"]), mark=mark) == set()
    assert _ids(ec2, ("platform-details", [inst["PlatformDetails"]]), mark=mark) == {iid}
    assert _ids(ec2, ("metadata-options.http-tokens", ["optional"]), mark=mark) == {iid}
    assert _ids(ec2, ("metadata-options.http-tokens", ["required"]), mark=mark) == set()
    for absent in ("spot-instance-request-id", "capacity-reservation-id", "host-id",
                   "iam-instance-profile.arn"):
        assert _ids(ec2, (absent, ["*"]), mark=mark) == set(), absent


def test_network_interface_and_address_filters(launched: dict[str, Any]) -> None:
    ec2, eni = launched["ec2"], launched["eni"]
    eni_id = eni["NetworkInterfaceId"]

    def enis(name: str, value: str) -> list[str]:
        return [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(
            NetworkInterfaceIds=[eni_id], Filters=[{"Name": name, "Values": [value]}],
        )["NetworkInterfaces"]]

    day = eni["Attachment"]["AttachTime"].strftime("%Y-%m-%dT*")
    assert enis("attachment.attach-time", day) == [eni_id]
    assert enis("attachment.attach-time", "1999-*") == []
    assert enis("association.allocation-id", launched["alloc"]) == [eni_id]
    assert enis("association.association-id", "eipassoc-0000000000000000f") == []
    assert enis("association.ip-owner-id", eni["Association"]["IpOwnerId"]) == [eni_id]

    def addresses(name: str, value: str) -> list[str]:
        return [a["AllocationId"] for a in ec2.describe_addresses(
            AllocationIds=[launched["alloc"]], Filters=[{"Name": name, "Values": [value]}],
        )["Addresses"]]

    assert addresses("network-interface-id", eni_id) == [launched["alloc"]]
    assert addresses("network-interface-id", "eni-0000000000000000f") == []
    assert addresses("network-interface-owner-id", eni["OwnerId"]) == [launched["alloc"]]
    assert addresses("network-border-group", "us-east-1") == [launched["alloc"]]
    assert addresses("network-border-group", "eu-west-1") == []


def test_subnet_filters(launched: dict[str, Any]) -> None:
    ec2 = launched["ec2"]
    subnet = ec2.describe_subnets(SubnetIds=[launched["instance"]["SubnetId"]])["Subnets"][0]

    def subnets(name: str, value: str) -> list[str]:
        return [s["SubnetId"] for s in ec2.describe_subnets(
            SubnetIds=[subnet["SubnetId"]], Filters=[{"Name": name, "Values": [value]}],
        )["Subnets"]]

    assert subnets("subnet-arn", subnet["SubnetArn"]) == [subnet["SubnetId"]]
    assert subnets("subnet-arn", subnet["SubnetArn"] + "0") == []
    count = str(subnet["AvailableIpAddressCount"])
    assert subnets("available-ip-address-count", count) == [subnet["SubnetId"]]
    assert subnets("available-ip-address-count", count + "1") == []


def test_image_filters(launched: dict[str, Any]) -> None:
    ec2, image_id = launched["ec2"], launched["image"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]

    def images(name: str, value: str) -> list[str]:
        return [i["ImageId"] for i in ec2.describe_images(
            Filters=[{"Name": "image-id", "Values": [image_id]},
                     {"Name": name, "Values": [value]}])["Images"]]

    assert image["State"] == "available"
    for name, good, bad in [
        ("state", "available", "pending"),
        ("owner-alias", "amazon", "aws-marketplace"),
        ("image-type", "machine", "kernel"),
        ("virtualization-type", "hvm", "paravirtual"),
        ("root-device-type", "ebs", "instance-store"),
        ("root-device-name", image["RootDeviceName"], "/dev/nope"),
        ("creation-date", image["CreationDate"][:10] + "T*", "1999-*"),
        ("creation-date", image["CreationDate"], "1999-01-01T00:00:00.000Z"),
        ("platform-details", image["PlatformDetails"], "Red Hat Enterprise Linux"),
        ("manifest-location", image["ImageLocation"], "000000000000/nope"),
        ("block-device-mapping.volume-size",
         str(image["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]), "99999"),
        ("block-device-mapping.snapshot-id", "*", "snap-0000000000000000f"),
    ]:
        if name == "block-device-mapping.snapshot-id":
            assert images(name, good) == [] and images(name, bad) == []
            continue
        assert images(name, good) == [image_id], name
        assert images(name, bad) == [], name
