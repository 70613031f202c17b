"""Network interface attributes (Describe/Modify/ResetNetworkInterfaceAttribute),
the default VPC's internet gateway and main route table, the snapshot CreateImage
makes (tagged by "snapshot" TagSpecifications) and the public address an instance
gives up when it stops. Every response is shape-checked by the harness."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RUN_TAG
from harness import unique


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kw)
    return str(err.value.response["Error"]["Code"])


def _attr(ec2: Any, eni: str, attribute: str) -> dict[str, Any]:
    out = dict(ec2.describe_network_interface_attribute(NetworkInterfaceId=eni,
                                                        Attribute=attribute))
    out.pop("ResponseMetadata", None)
    return out


def test_network_interface_attributes(ec2: Any, fleet: list[str], cleanup: Any) -> None:
    (inst,) = ec2.describe_instances(InstanceIds=[fleet[0]])["Reservations"][0]["Instances"]
    group = ec2.create_security_group(GroupName=unique("eni-attr"), Description="eni attrs",
                                      VpcId=inst["VpcId"])["GroupId"]
    cleanup(lambda: ec2.delete_security_group(GroupId=group))
    eni = ec2.create_network_interface(SubnetId=inst["SubnetId"], Description="before")[
        "NetworkInterface"]["NetworkInterfaceId"]
    cleanup(lambda: ec2.delete_network_interface(NetworkInterfaceId=eni))
    assert _attr(ec2, eni, "description") == {"NetworkInterfaceId": eni,
                                              "Description": {"Value": "before"}}
    assert _attr(ec2, eni, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    assert _attr(ec2, eni, "attachment") == {"NetworkInterfaceId": eni}
    assert _attr(ec2, eni, "groupSet")["Groups"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                           Description={"Value": "after"})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                           SourceDestCheck={"Value": False})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[group])
    assert _attr(ec2, eni, "description")["Description"] == {"Value": "after"}
    assert _attr(ec2, eni, "sourceDestCheck")["SourceDestCheck"] == {"Value": False}
    assert [g["GroupId"] for g in _attr(ec2, eni, "groupSet")["Groups"]] == [group]
    ec2.reset_network_interface_attribute(NetworkInterfaceId=eni,
                                          SourceDestCheck="sourceDestCheck")
    assert _attr(ec2, eni, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    (listed,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert listed["Description"] == "after"

    primary = inst["NetworkInterfaces"][0]
    got = _attr(ec2, primary["NetworkInterfaceId"], "attachment")["Attachment"]
    assert got["InstanceId"] == fleet[0] and got["DeviceIndex"] == 0
    assert got["AttachmentId"] == primary["Attachment"]["AttachmentId"]

    missing = "eni-0123456789abcdef0"
    assert _code(ec2.describe_network_interface_attribute, NetworkInterfaceId=missing,
                 Attribute="description") == "InvalidNetworkInterfaceID.NotFound"
    assert _code(ec2.modify_network_interface_attribute, NetworkInterfaceId=missing,
                 Description={"Value": "x"}) == "InvalidNetworkInterfaceID.NotFound"
    assert _code(ec2.modify_network_interface_attribute, NetworkInterfaceId=eni,
                 Groups=["sg-0123456789abcdef0"]) == "InvalidGroup.NotFound"
    assert _code(ec2.modify_network_interface_attribute, NetworkInterfaceId=eni,
                 Attachment={"AttachmentId": "eni-attach-0123456789abcdef0",
                             "DeleteOnTermination": True}) == "InvalidAttachmentID.NotFound"


def test_default_vpc_routes_through_its_gateway(ec2: Any) -> None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        pytest.skip("this region has no default VPC")
    vpc = vpcs[0]["VpcId"]
    (igw,) = ec2.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
    (table,) = ec2.describe_route_tables(Filters=[
        {"Name": "association.main", "Values": ["true"]},
        {"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert any(a["Main"] and "SubnetId" not in a for a in table["Associations"])
    routes = {r["DestinationCidrBlock"]: r for r in table["Routes"]}
    assert routes[vpcs[0]["CidrBlock"]]["GatewayId"] == "local"
    assert routes["0.0.0.0/0"]["GatewayId"] == igw["InternetGatewayId"]
    assert routes["0.0.0.0/0"]["State"] == "active"


def test_create_image_tags_its_snapshot(ec2: Any, fleet: list[str], wait: dict[str, float],
                                        cleanup: Any) -> None:
    name = unique("snap-tagged-ami")
    image = ec2.create_image(
        InstanceId=fleet[2], Name=name, NoReboot=True,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
            {"Key": "run", "Value": RUN_TAG}, {"Key": "Name", "Value": name}]}])["ImageId"]
    snaps = ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:Name", "Values": [name]}])["Snapshots"]
    assert len(snaps) == 1
    sid = snaps[0]["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=sid))
    cleanup(lambda: ec2.deregister_image(ImageId=image))
    assert snaps[0]["Description"].startswith(f"Created by CreateImage({fleet[2]}) for {image}")
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=wait)


def test_stopped_instance_gives_up_its_public_address(ec2: Any, image_id: str,
                                                      instance_type: str,
                                                      wait: dict[str, float],
                                                      cleanup: Any) -> None:
    subnets = ec2.describe_subnets(Filters=[
        {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    if not subnets:
        pytest.skip("this region has no default subnet")
    run = ec2.run_instances(ImageId=image_id, InstanceType=instance_type, MinCount=1,
                            MaxCount=1, SubnetId=subnets[0]["SubnetId"],
                            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                {"Key": "run", "Value": RUN_TAG}]}])
    iid = run["Instances"][0]["InstanceId"]
    cleanup(lambda: ec2.terminate_instances(InstanceIds=[iid]))
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)

    def public_ip() -> str | None:
        (inst,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"]
        return inst.get("PublicIpAddress")  # type: ignore[no-any-return]

    assert public_ip()
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert public_ip() is None
    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert public_ip()
