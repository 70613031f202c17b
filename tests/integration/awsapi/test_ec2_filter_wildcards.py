"""``*`` and ``?`` work in every Describe filter value, as in AWS: ids match by
the id as shown (``ami-04*``), enumerated values (states, booleans, device
names, numbers) by their shown text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from awsapi.filters import (
    ADDRESS_FILTERS,
    INSTANCE_STATUS_FILTERS,
    INTERNET_GATEWAY_FILTERS,
    KEY_PAIR_FILTERS,
    NETWORK_INTERFACE_FILTERS,
    PLACEMENT_GROUP_FILTERS,
    ROUTE_TABLE_FILTERS,
    SECURITY_GROUP_FILTERS,
    SECURITY_GROUP_RULE_FILTERS,
    SNAPSHOT_FILTERS,
    SUBNET_FILTERS,
    TAG_FILTERS,
    VOLUME_FILTERS,
    VOLUME_MODIFICATION_FILTERS,
    VOLUME_STATUS_FILTERS,
    VPC_FILTERS,
)
from awsapi.filters_base import strip_prefix_as
from awsapi.filters_compute import IMAGE_FILTERS, INSTANCE_FILTERS

WAIT = {"Delay": 0.2, "MaxAttempts": 150}


def _name(prefix: str = "wild") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def fleet(server: Any) -> dict[str, Any]:
    """One user's instance (in its own group), with an Elastic IP and a key pair."""
    ec2 = server.ec2(*server.new_user(_name("user")))
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    image_id = next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))
    group_name = _name("web")
    group_id = ec2.create_security_group(GroupName=group_name, Description="web")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8081,
        "IpRanges": [{"CidrIp": "10.1.2.0/24", "Description": "office net"}]}])
    key_name = _name("key")
    ec2.create_key_pair(KeyName=key_name, KeyType="ed25519")
    reservation = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                                    InstanceType="t3.micro", KeyName=key_name,
                                    SecurityGroupIds=[group_id])
    inst = reservation["Instances"][0]
    ec2.get_waiter("instance_running").wait(InstanceIds=[inst["InstanceId"]], WaiterConfig=WAIT)
    inst = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])[
        "Reservations"][0]["Instances"][0]
    alloc = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=alloc["AllocationId"], InstanceId=inst["InstanceId"])
    return {"ec2": ec2, "inst": inst, "image_id": image_id, "group_id": group_id,
            "group_name": group_name, "key_name": key_name,
            "reservation_id": reservation["ReservationId"], "alloc": alloc}


def _instance_ids(ec2: Any, name: str, *values: str) -> set[str]:
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": name, "Values": list(values)}])
    return {i["InstanceId"] for page in pages for r in page["Reservations"]
            for i in r["Instances"]}


@pytest.mark.parametrize(("name", "pattern", "miss"), [
    ("instance-type", lambda f: "t3.*", "t9.*"),
    ("instance-type", lambda f: "t?.micro", "m?.micro"),
    ("image-id", lambda f: f["image_id"][:6] + "*", "ami-zz*"),
    ("image-id", lambda f: "*" + f["image_id"][-5:], "ami-"),
    ("reservation-id", lambda f: "r-*", "i-*"),
    ("reservation-id", lambda f: f["reservation_id"][:-1] + "?", "r-?"),
    ("instance-id", lambda f: f["inst"]["InstanceId"][:5] + "*", "i-zz*"),
    ("group-name", lambda f: f["group_name"][:6] + "*", "nosuch*"),
    ("instance.group-name", lambda f: "*" + f["group_name"][-4:], "*nosuch"),
    ("group-id", lambda f: f["group_id"][:6] + "*", "sg-zz*"),
    ("instance.group-id", lambda f: "sg-" + "?" * 17, "sg-" + "?" * 16),
    ("instance-state-name", lambda f: "runn*", "stop*"),
    ("instance-state-code", lambda f: "1?", "8?"),
    ("key-name", lambda f: f["key_name"][:5] + "*", "zz*"),
    ("launch-index", lambda f: "?", "??"),
    ("network-interface.group-name", lambda f: f["group_name"][:6] + "*", "nosuch*"),
    ("network-interface.attachment.device-index", lambda f: "*", "9?"),
    ("block-device-mapping.device-name", lambda f: "/dev/xvd*", "/dev/sdz*"),
    ("block-device-mapping.delete-on-termination", lambda f: "t*", "f*"),
    ("metadata-options.http-endpoint", lambda f: "en*", "dis*"),
    ("metadata-options.http-put-response-hop-limit", lambda f: "*", "6?"),
    ("network-interface.addresses.association.allocation-id", lambda f: "eipalloc-*",
     "eipalloc-zz*"),
])
def test_describe_instances_filters_take_wildcards(fleet: dict[str, Any], name: str,
                                                   pattern: Any, miss: str) -> None:
    ec2, inst = fleet["ec2"], fleet["inst"]
    assert inst["InstanceId"] in _instance_ids(ec2, name, pattern(fleet))
    assert inst["InstanceId"] not in _instance_ids(ec2, name, miss)


def test_security_group_filters_take_wildcards(fleet: dict[str, Any]) -> None:
    ec2, gid = fleet["ec2"], fleet["group_id"]
    owner = fleet["inst"]["NetworkInterfaces"][0]["OwnerId"]

    def groups(name: str, value: str) -> set[str]:
        return {g["GroupId"] for g in ec2.describe_security_groups(
            Filters=[{"Name": name, "Values": [value]}])["SecurityGroups"]}

    for name, hit, miss in (
            ("owner-id", owner[:4] + "*", "x*"),
            ("ip-permission.cidr", "10.1.*", "10.9.*"),
            ("ip-permission.from-port", "80?0", "9*"),
            ("ip-permission.to-port", "*81", "*82"),
            ("ip-permission.protocol", "t*", "u*"),
            ("group-id", gid[:5] + "*", "sg-zz*")):
        assert gid in groups(name, hit), name
        assert gid not in groups(name, miss), name
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid[:6] + "*"]}])["SecurityGroupRules"]
    assert rules and {r["GroupId"] for r in rules} == {gid}


def test_other_describe_filters_take_wildcards(fleet: dict[str, Any]) -> None:
    ec2, inst = fleet["ec2"], fleet["inst"]
    alloc_id = fleet["alloc"]["AllocationId"]
    addresses = ec2.describe_addresses(Filters=[
        {"Name": "instance-id", "Values": [inst["InstanceId"][:4] + "*"]},
        {"Name": "private-ip-address", "Values": [inst["PrivateIpAddress"].rsplit(".", 1)[0]
                                                  + ".*"]}])["Addresses"]
    assert [a["AllocationId"] for a in addresses] == [alloc_id]
    keys = ec2.describe_key_pairs(Filters=[{"Name": "key-type", "Values": ["ed*"]}])["KeyPairs"]
    assert fleet["key_name"] in {k["KeyName"] for k in keys}
    eni_id = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    for name, value in (("subnet-id", "subnet-*"), ("vpc-id", "vpc-*"),
                        ("attachment.instance-id", inst["InstanceId"][:4] + "*"),
                        ("attachment.device-index", "?"), ("group-name", "web-*"),
                        ("group-id", "sg-*"), ("owner-id", "*"),
                        ("association.public-ip", fleet["alloc"]["PublicIp"][:3] + "*")):
        enis = ec2.describe_network_interfaces(
            Filters=[{"Name": name, "Values": [value]}])["NetworkInterfaces"]
        assert eni_id in {e["NetworkInterfaceId"] for e in enis}, name
    volumes = ec2.describe_volumes(Filters=[
        {"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]},
        {"Name": "attachment.device", "Values": ["/dev/xvd?"]},
        {"Name": "attachment.delete-on-termination", "Values": ["tr*"]},
        {"Name": "size", "Values": ["*"]},
        {"Name": "availability-zone", "Values": ["*"]}])["Volumes"]
    assert len(volumes) == 1
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["t*"]}])
    assert inst["SubnetId"] in {s["SubnetId"] for s in subnets["Subnets"]}
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["?rue"]}])["Vpcs"]
    assert inst["VpcId"] in {v["VpcId"] for v in vpcs}


def test_id_patterns_match_the_shown_id() -> None:
    strip = strip_prefix_as("ami")
    assert strip(["ami-04*"]) == ("04*",)
    assert strip(["*"]) == ("*",)
    assert strip(["*04*"]) == ("*04*",)
    assert strip(["a?i-1"]) == ("1",)
    assert strip(["?????1"]) == ("?1",)
    assert all(v.startswith("\x00") for v in strip(["vol-*", "ami"]))


_TABLES = {
    "instances": INSTANCE_FILTERS, "images": IMAGE_FILTERS, "key pairs": KEY_PAIR_FILTERS,
    "security groups": SECURITY_GROUP_FILTERS, "rules": SECURITY_GROUP_RULE_FILTERS,
    "addresses": ADDRESS_FILTERS, "vpcs": VPC_FILTERS, "subnets": SUBNET_FILTERS,
    "gateways": INTERNET_GATEWAY_FILTERS, "route tables": ROUTE_TABLE_FILTERS,
    "interfaces": NETWORK_INTERFACE_FILTERS, "placement groups": PLACEMENT_GROUP_FILTERS,
    "volumes": VOLUME_FILTERS, "snapshots": SNAPSHOT_FILTERS, "tags": TAG_FILTERS,
    "instance status": INSTANCE_STATUS_FILTERS, "volume status": VOLUME_STATUS_FILTERS,
    "modifications": VOLUME_MODIFICATION_FILTERS,
}

def test_every_filter_passes_patterns_on_or_expands_them() -> None:
    """A spec either lets the engine match patterns or expands them itself."""
    wrong = [(table, name) for table, specs in _TABLES.items()
             for name, (_field, transform, wildcards) in specs.items()
             if not wildcards and not getattr(transform, "expands_patterns", False)]
    assert wrong == []
