"""Elastic IPs through boto3 (and awscli): allocate, describe, associate with
instances (seen as the instance's public address), disassociate, release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}
UNKNOWN_ALLOCATION = "eipalloc-0123456789abcdef0"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _running_instance(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    iid = ec2.run_instances(ImageId=images[0]["ImageId"], MinCount=1, MaxCount=1)[
        "Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    return str(iid)


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[iid])[  # type: ignore[no-any-return]
        "Reservations"][0]["Instances"][0]


def _address(ec2: Any, alloc: str) -> dict[str, Any]:
    return ec2.describe_addresses(AllocationIds=[alloc])[  # type: ignore[no-any-return]
        "Addresses"][0]


def test_allocate_describe_release(ec2: Any) -> None:
    mark = _tag()
    got = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "mark", "Value": mark}]}])
    alloc, ip = got["AllocationId"], got["PublicIp"]
    assert alloc.startswith("eipalloc-") and len(alloc) == 26
    assert ip.startswith("198.51.100.") and got["Domain"] == "vpc"
    assert got["PublicIpv4Pool"] == "amazon" and got["NetworkBorderGroup"] == "us-east-1"

    found = _address(ec2, alloc)
    assert found == {"PublicIp": ip, "AllocationId": alloc, "Domain": "vpc",
                     "PublicIpv4Pool": "amazon", "NetworkBorderGroup": "us-east-1",
                     "Tags": [{"Key": "mark", "Value": mark}]}
    assert ec2.describe_addresses(PublicIps=[ip])["Addresses"] == [found]

    def allocs(*filters: dict[str, Any]) -> set[str]:
        return {a["AllocationId"] for a in ec2.describe_addresses(
            Filters=list(filters))["Addresses"]}

    assert allocs({"Name": "tag:mark", "Values": [mark]}) == {alloc}
    assert allocs({"Name": "public-ip", "Values": [ip]}) == {alloc}
    assert allocs({"Name": "allocation-id", "Values": [alloc]}) == {alloc}
    assert allocs({"Name": "domain", "Values": ["vpc"]}) >= {alloc}
    assert allocs({"Name": "domain", "Values": ["standard"]}) == set()
    assert allocs({"Name": "tag:mark", "Values": [mark]},
                  {"Name": "association-id", "Values": ["eipassoc-*"]}) == set()

    attr = ec2.describe_addresses_attribute(AllocationIds=[alloc], Attribute="domain-name")
    assert attr["Addresses"] == [{"PublicIp": ip, "AllocationId": alloc}]

    ec2.release_address(AllocationId=alloc)
    with pytest.raises(ClientError) as err:
        ec2.describe_addresses(AllocationIds=[alloc])
    assert _code(err) == "InvalidAllocationID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.release_address(AllocationId=alloc)
    assert _code(err) == "InvalidAllocationID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_addresses(PublicIps=[ip])
    assert _code(err) == "InvalidAddress.NotFound"


def test_release_by_public_ip(ec2: Any) -> None:
    got = ec2.allocate_address(Domain="vpc")
    ec2.release_address(PublicIp=got["PublicIp"])
    with pytest.raises(ClientError) as err:
        ec2.release_address(PublicIp=got["PublicIp"])
    assert _code(err) == "InvalidAddress.NotFound"


def test_associate_shows_as_instance_public_ip(ec2: Any) -> None:
    iid = _running_instance(ec2)
    other = _running_instance(ec2)
    got = ec2.allocate_address(Domain="vpc")
    alloc, ip = got["AllocationId"], got["PublicIp"]
    assoc = ec2.associate_address(AllocationId=alloc, InstanceId=iid)["AssociationId"]
    assert assoc.startswith("eipassoc-")

    inst = _instance(ec2, iid)
    assert inst["PublicIpAddress"] == ip
    found = _address(ec2, alloc)
    assert found["AssociationId"] == assoc and found["InstanceId"] == iid
    assert found["PrivateIpAddress"] == inst["PrivateIpAddress"]
    assert found["NetworkInterfaceId"].startswith("eni-")
    filtered = ec2.describe_instances(Filters=[{"Name": "ip-address", "Values": [ip]}])
    assert [i["InstanceId"] for r in filtered["Reservations"] for i in r["Instances"]] == [iid]

    def allocs(name: str, value: str) -> set[str]:
        return {a["AllocationId"] for a in ec2.describe_addresses(
            Filters=[{"Name": name, "Values": [value]}])["Addresses"]}

    assert allocs("instance-id", iid) == {alloc}
    assert allocs("association-id", assoc) == {alloc}
    assert allocs("private-ip-address", inst["PrivateIpAddress"]) == {alloc}

    # Associating again with the same instance is harmless and keeps the id.
    again = ec2.associate_address(AllocationId=alloc, InstanceId=iid)["AssociationId"]
    assert again == assoc
    for call, code in (
        (lambda: ec2.associate_address(AllocationId=alloc, InstanceId=other),
         "Resource.AlreadyAssociated"),
        (lambda: ec2.release_address(AllocationId=alloc), "InvalidIPAddress.InUse"),
        (lambda: ec2.associate_address(AllocationId=alloc, InstanceId="i-0123456789abcdef0"),
         "InvalidInstanceID.NotFound"),
        (lambda: ec2.associate_address(AllocationId=UNKNOWN_ALLOCATION, InstanceId=iid),
         "InvalidAllocationID.NotFound"),
        (lambda: ec2.associate_address(PublicIp="203.0.113.9", InstanceId=iid),
         "InvalidAddress.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == code

    # AllowReassociation moves it.
    moved = ec2.associate_address(PublicIp=ip, InstanceId=other,
                                  AllowReassociation=True)["AssociationId"]
    assert moved != assoc
    assert _instance(ec2, other)["PublicIpAddress"] == ip
    assert "PublicIpAddress" not in _instance(ec2, iid)
    with pytest.raises(ClientError) as err:
        ec2.disassociate_address(AssociationId=assoc)
    assert _code(err) == "InvalidAssociationID.NotFound"

    ec2.disassociate_address(AssociationId=moved)
    # Launched with a mapped public address (the default subnet maps them), the
    # instance gets a fresh one back, as on AWS; never the Elastic IP.
    assert _instance(ec2, other).get("PublicIpAddress") != ip
    found = _address(ec2, alloc)
    assert "AssociationId" not in found and "InstanceId" not in found

    # By public IP too; then release.
    ec2.associate_address(PublicIp=ip, InstanceId=iid)
    ec2.disassociate_address(PublicIp=ip)
    assert "InstanceId" not in _address(ec2, alloc)
    ec2.release_address(AllocationId=alloc)
    ec2.terminate_instances(InstanceIds=[iid, other])


def test_terminating_an_instance_frees_its_elastic_ip(ec2: Any) -> None:
    iid = _running_instance(ec2)
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=alloc, InstanceId=iid)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    found = _address(ec2, alloc)
    assert "InstanceId" not in found
    ec2.release_address(AllocationId=alloc)


@pytest.mark.parametrize(("call", "code"), [
    (lambda c: c.release_address(AllocationId=UNKNOWN_ALLOCATION, PublicIp="198.51.100.9"),
     "InvalidParameterCombination"),
    (lambda c: c.release_address(), "MissingParameter"),
    (lambda c: c.release_address(AllocationId="eipalloc-xyz"), "InvalidAllocationID.Malformed"),
    (lambda c: c.release_address(AllocationId=UNKNOWN_ALLOCATION),
     "InvalidAllocationID.NotFound"),
    (lambda c: c.describe_addresses(AllocationIds=[UNKNOWN_ALLOCATION]),
     "InvalidAllocationID.NotFound"),
    (lambda c: c.describe_addresses(PublicIps=["203.0.113.200"]), "InvalidAddress.NotFound"),
    (lambda c: c.describe_addresses(PublicIps=["not-an-ip"]), "InvalidParameterValue"),
    (lambda c: c.describe_addresses(Filters=[{"Name": "bogus", "Values": ["1"]}]),
     "InvalidParameterValue"),
    (lambda c: c.disassociate_address(AssociationId="eipassoc-0123456789abcdef0"),
     "InvalidAssociationID.NotFound"),
    (lambda c: c.disassociate_address(AssociationId="eipassoc-q"),
     "InvalidAssociationID.Malformed"),
    (lambda c: c.disassociate_address(), "MissingParameter"),
    (lambda c: c.associate_address(AllocationId=UNKNOWN_ALLOCATION), "MissingParameter"),
    (lambda c: c.describe_addresses_attribute(AllocationIds=[UNKNOWN_ALLOCATION],
                                              Attribute="domain-name"),
     "InvalidAllocationID.NotFound"),
    (lambda c: c.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}]),
     "InvalidParameterValue"),
])
def test_address_errors(ec2: Any, call: Callable[[Any], Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        call(ec2)
    assert _code(err) == code


def test_allocate_a_chosen_address(ec2: Any) -> None:
    first = ec2.allocate_address(Domain="vpc")
    ec2.release_address(AllocationId=first["AllocationId"])
    again = ec2.allocate_address(Domain="vpc", Address=first["PublicIp"])
    assert again["PublicIp"] == first["PublicIp"]
    with pytest.raises(ClientError) as err:
        ec2.allocate_address(Domain="vpc", Address=first["PublicIp"])
    assert _code(err) == "InvalidParameterValue"
    ec2.release_address(AllocationId=again["AllocationId"])


def test_address_limit(server: Any) -> None:
    user = server.ec2(*server.new_user(f"limit-{_tag()}"))
    held = []
    with server.runtime.unit(readonly=True) as services:
        limit = services.settings.int("max.account.public.ips")
    for _ in range(limit):
        held.append(user.allocate_address(Domain="vpc")["AllocationId"])
    with pytest.raises(ClientError) as err:
        user.allocate_address(Domain="vpc")
    assert _code(err) == "AddressLimitExceeded"
    for alloc in held:
        user.release_address(AllocationId=alloc)


def test_describe_addresses_attribute_paging(server: Any) -> None:
    user = server.ec2(*server.new_user(f"paging-{_tag()}"))
    made = [user.allocate_address(Domain="vpc")["AllocationId"] for _ in range(3)]
    seen = [a["AllocationId"] for page in user.get_paginator(
        "describe_addresses_attribute").paginate(Attribute="domain-name",
                                                 PaginationConfig={"PageSize": 2})
            for a in page["Addresses"]]
    assert sorted(seen) == sorted(made) and len(seen) == 3
    for alloc in made:
        user.release_address(AllocationId=alloc)


def test_tenant_isolation(server: Any) -> None:
    alice = server.ec2(*server.new_user(f"alice-{_tag()}"))
    bob = server.ec2(*server.new_user(f"bob-{_tag()}"))
    got = alice.allocate_address(Domain="vpc")
    alloc, ip = got["AllocationId"], got["PublicIp"]
    assert bob.describe_addresses()["Addresses"] == []
    assert [a["AllocationId"] for a in alice.describe_addresses()["Addresses"]] == [alloc]
    for call, code in (
        (lambda: bob.describe_addresses(AllocationIds=[alloc]), "InvalidAllocationID.NotFound"),
        (lambda: bob.describe_addresses(PublicIps=[ip]), "InvalidAddress.NotFound"),
        (lambda: bob.release_address(AllocationId=alloc), "InvalidAllocationID.NotFound"),
        (lambda: bob.release_address(PublicIp=ip), "InvalidAddress.NotFound"),
        (lambda: bob.disassociate_address(PublicIp=ip), "InvalidAddress.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == code
    # Alice cannot put her address on Bob's instance.
    iid = _running_instance(bob)
    with pytest.raises(ClientError) as err:
        alice.associate_address(AllocationId=alloc, InstanceId=iid)
    assert _code(err) == "InvalidInstanceID.NotFound"
    alice.release_address(AllocationId=alloc)
    bob.terminate_instances(InstanceIds=[iid])


def _aws(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": server.region,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json",
         "ec2", *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_awscli_allocate_describe_release(server: Any) -> None:
    made = _aws(server, "allocate-address", "--domain", "vpc")
    assert made.returncode == 0, made.stderr
    alloc = json.loads(made.stdout)["AllocationId"]
    listed = _aws(server, "describe-addresses", "--allocation-ids", alloc,
                  "--query", "Addresses[0].Domain")
    assert json.loads(listed.stdout) == "vpc"
    assert _aws(server, "release-address", "--allocation-id", alloc).returncode == 0
    gone = _aws(server, "release-address", "--allocation-id", alloc)
    assert gone.returncode != 0 and "InvalidAllocationID.NotFound" in gone.stderr
