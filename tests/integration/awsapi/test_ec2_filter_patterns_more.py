"""The Describe filters that matched exact values only take ``*``/``?`` as AWS's
do: owner ids, ids of related resources (matched as shown: ``snap-*``), times
(matched as shown: ``2026-01-02T*``), subnet address counts, route table
associations and routes, and DescribeTags ``resource-id`` (per kind: ``i-*``
names instances only)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.awsapi.ec2_helpers import WAIT, running_instance


@pytest.fixture(scope="module")
def world(server: Any) -> dict[str, Any]:
    """One user's running instance, a snapshot of its root volume and a volume
    made from that snapshot."""
    ec2 = server.ec2(*server.new_user(f"pat-{uuid.uuid4().hex[:8]}"))
    iid = running_instance(ec2)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    root = inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=root, Description="patterns")
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]],
                                              WaiterConfig=WAIT)
    clone = ec2.create_volume(SnapshotId=snap["SnapshotId"],
                              AvailabilityZone=inst["Placement"]["AvailabilityZone"])
    ec2.get_waiter("volume_available").wait(VolumeIds=[clone["VolumeId"]], WaiterConfig=WAIT)
    return {"ec2": ec2, "inst": inst, "root": root, "snap": snap, "clone": clone}


def _volume_ids(ec2: Any, name: str, value: str) -> set[str]:
    return {v["VolumeId"] for v in ec2.describe_volumes(
        Filters=[{"Name": name, "Values": [value]}])["Volumes"]}


def _snapshot_ids(ec2: Any, name: str, value: str) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": name, "Values": [value]}])["Snapshots"]}


def _day(when: Any) -> str:
    return str(when.strftime("%Y-%m-%dT"))


def test_image_owner_id_takes_patterns(ec2: Any) -> None:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]
    owner = image["OwnerId"]
    for hit in (owner[:3] + "*", "*", "?" * len(owner)):
        found = ec2.describe_images(Filters=[{"Name": "owner-id", "Values": [hit]}])["Images"]
        assert image["ImageId"] in {i["ImageId"] for i in found}, hit
    for miss in ("x*", "?" * (len(owner) + 1)):
        found = ec2.describe_images(Filters=[{"Name": "owner-id", "Values": [miss]}])["Images"]
        assert image["ImageId"] not in {i["ImageId"] for i in found}, miss


def test_volume_filters_take_patterns(world: dict[str, Any]) -> None:
    ec2, inst, root, clone = world["ec2"], world["inst"], world["root"], world["clone"]
    iid = inst["InstanceId"]
    assert _volume_ids(ec2, "attachment.instance-id", iid[:5] + "*") == {root}
    assert _volume_ids(ec2, "attachment.instance-id", "i-" + "?" * 17) == {root}
    assert _volume_ids(ec2, "attachment.instance-id", "vol-*") == set()
    assert _volume_ids(ec2, "attachment.instance-id", iid) == {root}  # exact still works
    assert _volume_ids(ec2, "snapshot-id", "snap-*") == {clone["VolumeId"]}
    assert _volume_ids(ec2, "snapshot-id", world["snap"]["SnapshotId"][:7] + "*") == {
        clone["VolumeId"]}
    assert _volume_ids(ec2, "snapshot-id", "ami-*") == set()
    attached = ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]
    attach_time = attached["Attachments"][0]["AttachTime"]
    assert root in _volume_ids(ec2, "attachment.attach-time", _day(attach_time) + "*")
    assert root not in _volume_ids(ec2, "attachment.attach-time", "1999-*")
    assert _volume_ids(ec2, "create-time", _day(clone["CreateTime"]) + "*") >= {
        root, clone["VolumeId"]}
    assert _volume_ids(ec2, "create-time", "1999-*") == set()
    # An exact time, as shown (to the millisecond), still matches.
    when = clone["CreateTime"]
    exact = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    assert clone["VolumeId"] in _volume_ids(ec2, "create-time", exact)


def test_snapshot_filters_take_patterns(world: dict[str, Any]) -> None:
    ec2, snap, root = world["ec2"], world["snap"], world["root"]
    sid = snap["SnapshotId"]
    assert _snapshot_ids(ec2, "volume-id", root[:6] + "*") == {sid}
    assert _snapshot_ids(ec2, "volume-id", "vol-" + "?" * 17) == {sid}
    assert _snapshot_ids(ec2, "volume-id", "i-*") == set()
    assert _snapshot_ids(ec2, "owner-id", snap["OwnerId"][:4] + "*") == {sid}
    assert _snapshot_ids(ec2, "owner-id", "x*") == set()
    assert _snapshot_ids(ec2, "start-time", _day(snap["StartTime"]) + "*") == {sid}
    assert _snapshot_ids(ec2, "start-time", "1999-??-*") == set()


def test_subnet_address_count_takes_patterns(world: dict[str, Any]) -> None:
    ec2 = world["ec2"]
    subnet = ec2.describe_subnets(SubnetIds=[world["inst"]["SubnetId"]])["Subnets"][0]
    count = str(subnet["AvailableIpAddressCount"])

    def subnets(value: str) -> set[str]:
        return {s["SubnetId"] for s in ec2.describe_subnets(Filters=[
            {"Name": "available-ip-address-count", "Values": [value]}])["Subnets"]}

    for hit in (count, count[:-1] + "?", count[0] + "*", "*"):
        assert subnet["SubnetId"] in subnets(hit), hit
    for miss in (count + "?", "x*"):
        assert subnet["SubnetId"] not in subnets(miss), miss


def test_route_table_filters_take_patterns(world: dict[str, Any]) -> None:
    ec2 = world["ec2"]
    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    rid = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assoc_id = ec2.associate_route_table(RouteTableId=rid, SubnetId=subnet_id)["AssociationId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]

    def tables(name: str, value: str) -> set[str]:
        return {t["RouteTableId"] for t in ec2.describe_route_tables(Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": name, "Values": [value]}])["RouteTables"]}

    try:
        assert rid in tables("association.route-table-association-id", assoc_id[:11] + "*")
        assert rid in tables("association.route-table-association-id", assoc_id)
        assert rid not in tables("association.route-table-association-id", "rtb-*")
        assert rid in tables("association.subnet-id", subnet_id[:9] + "*")
        assert rid not in tables("association.subnet-id", "vpc-*")
        assert rid in tables("route.destination-cidr-block", "10.42.*")
        assert rid not in tables("route.destination-cidr-block", "0.0.0.0/?")
        # The VPC's own route shows GatewayId "local": the filter matches it too.
        assert rid in tables("route.gateway-id", "local")
        assert rid in tables("route.gateway-id", "l*")
        assert rid not in tables("route.gateway-id", "igw-*")
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        ec2.create_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        assert rid in tables("route.gateway-id", "igw-*")
        assert rid in tables("route.gateway-id", igw)
        assert rid in tables("route.destination-cidr-block", "0.0.0.0/?")
    finally:
        if rid in tables("route.gateway-id", "igw-*"):
            ec2.delete_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0")
        if ec2.describe_internet_gateways(InternetGatewayIds=[igw])[
                "InternetGateways"][0].get("Attachments"):
            ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=igw)
        ec2.disassociate_route_table(AssociationId=assoc_id)
        ec2.delete_route_table(RouteTableId=rid)
        ec2.delete_subnet(SubnetId=subnet_id)
        ec2.delete_vpc(VpcId=vpc_id)


def test_tag_resource_id_takes_patterns_per_kind(world: dict[str, Any]) -> None:
    ec2, iid, root = world["ec2"], world["inst"]["InstanceId"], world["root"]
    key = f"pat-{uuid.uuid4().hex[:8]}"
    ec2.create_tags(Resources=[iid, root], Tags=[{"Key": key, "Value": "x"}])

    def tagged(*values: str) -> set[str]:
        return {t["ResourceId"] for t in ec2.describe_tags(Filters=[
            {"Name": "key", "Values": [key]},
            {"Name": "resource-id", "Values": list(values)}])["Tags"]}

    assert tagged("i-*") == {iid}
    assert tagged("vol-*") == {root}
    assert tagged("*") == {iid, root}
    assert tagged(iid) == {iid}
    assert tagged(iid[:4] + "*", root) == {iid, root}
    assert tagged("?-*") == {iid}  # one character, a dash: an instance id only
    assert tagged("ami-*", "snap-*") == set()
    assert tagged("nosuch") == set()
