"""EC2 reads answer the caller's own account only, as on AWS, for root and
domain admins too: another account's instances, volumes, snapshots, groups,
key pairs, addresses and private images are invisible to them through EC2
(listed or asked for by id), while writes by id keep the admin's powers (an
operator may still terminate any instance) and the catalog stays whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, running_instance

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def bob(server: Any) -> Iterator[dict[str, Any]]:
    """Another account with one of each resource."""
    client = server.ec2(*server.new_user(f"bob-{uuid.uuid4().hex[:6]}"))
    iid = running_instance(client)
    vid = client.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    snap = client.create_snapshot(VolumeId=vid)["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    image = client.register_image(
        Name=f"bob-{uuid.uuid4().hex[:8]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
    )["ImageId"]
    group = client.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:6]}",
                                         Description="bobs group")["GroupId"]
    default = client.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    key = client.create_key_pair(KeyName=f"k-{uuid.uuid4().hex[:6]}")["KeyPairId"]
    alloc = client.allocate_address(Domain="vpc")["AllocationId"]
    client.create_tags(Resources=[vid], Tags=[{"Key": "owner", "Value": "bob"}])
    yield {"client": client, "instance": iid, "volume": vid, "snapshot": snap,
           "image": image, "group": group, "default_group": default["GroupId"],
           "key": key, "allocation": alloc,
           "owner": default["OwnerId"]}
    client.deregister_image(ImageId=image)
    client.release_address(AllocationId=alloc)


def _listed(ec2: Any, bob: dict[str, Any]) -> dict[str, set[str]]:
    """What each unfiltered Describe* shows the caller of bob's resources."""
    theirs = {bob[k] for k in ("instance", "volume", "snapshot", "image", "group",
                               "default_group", "key", "allocation")}
    found = {
        "instances": {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                      for i in r["Instances"]},
        "status": {s["InstanceId"] for s in ec2.describe_instance_status(
            IncludeAllInstances=True)["InstanceStatuses"]},
        "volumes": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
        "snapshots": {s["SnapshotId"] for s in ec2.describe_snapshots()["Snapshots"]},
        "images": {i["ImageId"] for i in ec2.describe_images()["Images"]},
        "groups": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "rules": {r["GroupId"] for r in ec2.describe_security_group_rules()[
            "SecurityGroupRules"]},
        "keys": {k["KeyPairId"] for k in ec2.describe_key_pairs()["KeyPairs"]},
        "addresses": {a.get("AllocationId", "") for a in ec2.describe_addresses()["Addresses"]},
        "tags": {t["ResourceId"] for t in ec2.describe_tags()["Tags"]},
        "interfaces": {n.get("Attachment", {}).get("InstanceId", "") for n in
                       ec2.describe_network_interfaces()["NetworkInterfaces"]},
    }
    return {k: v & theirs for k, v in found.items()}


@pytest.mark.parametrize("role", ["admin", "domain-admin"])
def test_admins_list_only_their_own_accounts_resources(server: Any, ec2: Any,
                                                       bob: dict[str, Any], role: str) -> None:
    caller = ec2 if role == "admin" else server.ec2(
        *server.new_user(f"dadmin-{uuid.uuid4().hex[:6]}", role))
    assert _listed(caller, bob) == {k: set() for k in _listed(caller, bob)}
    # The owner sees all of them.
    mine = _listed(bob["client"], bob)
    assert all(mine[k] for k in ("instances", "volumes", "snapshots", "images", "groups",
                                 "keys", "addresses", "tags", "interfaces"))
    # No listing filtered by owner or id reaches them either.
    assert caller.describe_snapshots(OwnerIds=[bob["owner"]])["Snapshots"] == []
    assert caller.describe_images(Owners=[bob["owner"]])["Images"] == []
    assert caller.describe_instances(Filters=[{"Name": "owner-id", "Values": [
        bob["owner"]]}])["Reservations"] == []


def test_admins_get_not_found_for_other_accounts_ids(ec2: Any, bob: dict[str, Any]) -> None:
    for call, kwargs, code in (
        (ec2.describe_instances, {"InstanceIds": [bob["instance"]]}, "InvalidInstanceID.NotFound"),
        (ec2.describe_volumes, {"VolumeIds": [bob["volume"]]}, "InvalidVolume.NotFound"),
        (ec2.describe_snapshots, {"SnapshotIds": [bob["snapshot"]]},
         "InvalidSnapshot.NotFound"),
        (ec2.describe_images, {"ImageIds": [bob["image"]]}, "InvalidAMIID.NotFound"),
        (ec2.describe_security_groups, {"GroupIds": [bob["default_group"]]},
         "InvalidGroup.NotFound"),
        (ec2.describe_addresses, {"AllocationIds": [bob["allocation"]]},
         "InvalidAllocationID.NotFound"),
        (ec2.describe_instance_attribute, {"InstanceId": bob["instance"],
                                           "Attribute": "instanceType"},
         "InvalidInstanceID.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert error_code(err) == code, call


def test_the_catalog_stays_whole_for_admins(ec2: Any) -> None:
    assert ec2.describe_regions()["Regions"]
    assert ec2.describe_availability_zones()["AvailabilityZones"]
    assert ec2.describe_instance_types(InstanceTypes=["t2.micro"])["InstanceTypes"]
    names = {a["AttributeName"] for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert "supported-platforms" in names
    # Public images are listed for everyone.
    assert ec2.describe_images(Owners=["amazon"])["Images"]


def test_an_operator_still_terminates_any_instance_by_id(server: Any, ec2: Any) -> None:
    carol = server.ec2(*server.new_user(f"carol-{uuid.uuid4().hex[:6]}"))
    iid = running_instance(carol)
    changed = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"]
    assert [c["InstanceId"] for c in changed] == [iid]
    carol.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
