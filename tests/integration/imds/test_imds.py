"""The instance metadata service at ``/imds/<instance-id>/`` against the live server:
botocore's own IMDS fetchers, and raw IMDSv1/IMDSv2 requests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.utils import (
    IMDSRegionProvider,
    InstanceMetadataFetcher,
    InstanceMetadataRegionFetcher,
)

WAIT = {"Delay": 0.2, "MaxAttempts": 100}
TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"
USER_DATA = b"#cloud-config\nruncmd: [echo hello]\n"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def call(url: str, method: str = "GET", **headers: str) -> Reply:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())


def token_for(base: str, ttl: str = "60") -> str:
    got = call(base + "latest/api/token", "PUT", **{TTL: ttl})
    assert got.status == 200, got
    return got.text


@dataclass
class Launched:
    instance: dict[str, Any]
    base: str
    key_name: str
    key_material: str

    @property
    def id(self) -> str:
        return self.instance["InstanceId"]


def _image_id(ec2) -> str:  # type: ignore[no-untyped-def]
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _launch(server, ec2, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Run one instance and wait until it runs; its description (with the
    reservation's ReservationId and OwnerId)."""
    run = ec2.run_instances(ImageId=_image_id(ec2), InstanceType="t3.micro", MinCount=1,
                            MaxCount=1, **extra)
    iid = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    res = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
    return {**res["Instances"][0], "ReservationId": res["ReservationId"],
            "OwnerId": res["OwnerId"]}


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture(scope="module")
def vm(server) -> Iterator[Launched]:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    key_name = f"imds-{uuid.uuid4().hex[:8]}"
    material = _public_key()
    ec2.import_key_pair(KeyName=key_name, PublicKeyMaterial=material.encode())
    inst = _launch(server, ec2, KeyName=key_name, UserData=USER_DATA.decode(),
                   TagSpecifications=[{"ResourceType": "instance",
                                       "Tags": [{"Key": "Name", "Value": "imds-vm"}]}])
    yield Launched(inst, f"{server.url}/imds/{inst['InstanceId']}/", key_name, material)
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


# ------------------------------------------------------------ botocore's fetchers
def test_botocore_region_fetcher_reads_the_zone(vm: Launched) -> None:
    fetcher = InstanceMetadataRegionFetcher(
        timeout=5, num_attempts=1, config={"ec2_metadata_service_endpoint": vm.base})
    assert fetcher.retrieve_region() == "us-east-1"


def test_botocore_follows_the_endpoint_environment_variable(
        vm: Launched, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", vm.base.rstrip("/"))
    session = botocore.session.Session()
    assert IMDSRegionProvider(session).provide() == "us-east-1"


def test_botocore_instance_fetcher_uses_v2_tokens(vm: Launched) -> None:
    fetcher = InstanceMetadataFetcher(
        timeout=5, num_attempts=1,
        config={"ec2_metadata_service_endpoint": vm.base, "ec2_metadata_v1_disabled": True})
    token = fetcher._fetch_metadata_token()
    assert token
    got = fetcher._get_request("latest/meta-data/instance-id", None, token)
    assert got.text == vm.id
    # No instance profile: no role credentials (EC2 answers 404 for iam/), no error.
    assert fetcher.retrieve_iam_role_credentials() == {}


# -------------------------------------------------------------------- the tree
def test_meta_data_listing_and_values(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    i, base = vm.instance, vm.base + "latest/meta-data/"
    listing = call(base)
    assert listing.status == 200
    assert listing.headers["Content-Type"].startswith("text/plain")
    entries = listing.text.split("\n")
    for name in ("ami-id", "ami-launch-index", "instance-id", "instance-type", "local-ipv4",
                 "local-hostname", "hostname", "mac", "reservation-id", "security-groups",
                 "block-device-mapping/", "network/", "placement/", "public-keys/"):
        assert name in entries, name
    # A default subnet maps a public address at launch, as on AWS.
    assert "public-ipv4" in entries and i["PublicIpAddress"]
    assert call(base + "public-ipv4").text == i["PublicIpAddress"]
    assert not listing.text.endswith("\n")
    assert call(vm.base + "latest/meta-data").text == listing.text  # no slash: same listing
    values = {
        "ami-id": i["ImageId"], "ami-launch-index": "0", "instance-id": i["InstanceId"],
        "instance-type": "t3.micro", "local-ipv4": i["PrivateIpAddress"],
        "local-hostname": i["PrivateDnsName"], "hostname": i["PrivateDnsName"],
        "reservation-id": i["ReservationId"],
        "security-groups": "\n".join(g["GroupName"] for g in i["SecurityGroups"]),
        "placement/availability-zone": "us-east-1a", "placement/region": "us-east-1",
        "placement/availability-zone/": "us-east-1a",  # a leaf asked as a directory
        "block-device-mapping/root": i["RootDeviceName"],
        "block-device-mapping/ami": i["RootDeviceName"],
        "public-keys/": f"0={vm.key_name}", "public-keys/0/": "openssh-key",
    }
    for path, want in values.items():
        got = call(base + path)
        assert (got.status, got.text) == (200, want), path
    key = call(base + "public-keys/0/openssh-key").text
    assert key.split()[:2] == vm.key_material.split()[:2]
    assert call(base + "no-such-key").status == 404
    assert call(base + "instance-id/deeper").status == 404


def test_network_interface_tree(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    i, base = vm.instance, vm.base + "latest/meta-data/"
    try:
        eni = server.ec2().describe_network_interfaces(
            Filters=[{"Name": "attachment.instance-id", "Values": [vm.id]}])["NetworkInterfaces"]
    except ClientError as err:  # not every build serves network interfaces yet
        assert err.response["Error"]["Code"] == "UnsupportedOperation"
        eni = []
    mac = call(base + "mac").text
    assert call(base + "network/").text == "interfaces/"
    assert call(base + "network/interfaces/").text == "macs/"
    assert call(base + "network/interfaces/macs/").text == f"{mac}/"
    nic = base + f"network/interfaces/macs/{mac}/"
    entries = call(nic).text.split("\n")
    assert {"device-number", "interface-id", "local-ipv4s", "mac", "owner-id", "subnet-id",
            "vpc-id", "security-group-ids", "subnet-ipv4-cidr-block",
            "vpc-ipv4-cidr-block"} <= set(entries)
    assert call(nic + "mac").text == mac
    assert call(nic + "local-ipv4s").text == i["PrivateIpAddress"]
    assert call(nic + "subnet-id").text == i["SubnetId"]
    assert call(nic + "vpc-id").text == i["VpcId"]
    assert call(nic + "owner-id").text == i["OwnerId"]
    assert call(nic + "device-number").text == "0"
    assert call(nic + "security-group-ids").text.split("\n") == [
        g["GroupId"] for g in i["SecurityGroups"]]
    assert call(nic + "interface-id").text.startswith("eni-")
    if eni:
        assert call(nic + "interface-id").text == eni[0]["NetworkInterfaceId"]
        assert eni[0]["MacAddress"] == mac


def test_public_ipv4_appears_with_an_elastic_ip(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    alloc = ec2.allocate_address(Domain="vpc")
    try:
        ec2.associate_address(InstanceId=vm.id, AllocationId=alloc["AllocationId"])
        base = vm.base + "latest/meta-data/"
        assert "public-ipv4" in call(base).text.split("\n")
        assert call(base + "public-ipv4").text == alloc["PublicIp"]
        mac = call(base + "mac").text
        nic = base + f"network/interfaces/macs/{mac}/"
        assert call(nic + "public-ipv4s").text == alloc["PublicIp"]
        assert call(nic + f"ipv4-associations/{alloc['PublicIp']}").text == \
            vm.instance["PrivateIpAddress"]
    finally:
        ec2.disassociate_address(AssociationId=ec2.describe_addresses(
            AllocationIds=[alloc["AllocationId"]])["Addresses"][0]["AssociationId"])
        ec2.release_address(AllocationId=alloc["AllocationId"])
    # Without the elastic IP the instance gets an address of the pool again.
    fresh = ec2.describe_instances(InstanceIds=[vm.id])["Reservations"][0]["Instances"][0]
    assert fresh["PublicIpAddress"] != alloc["PublicIp"]
    assert call(vm.base + "latest/meta-data/public-ipv4").text == fresh["PublicIpAddress"]


def test_user_data_identity_document_and_versions(vm: Launched) -> None:
    got = call(vm.base + "latest/user-data")
    assert (got.status, got.body) == (200, USER_DATA)
    assert call(vm.base + "latest/").text.split("\n") == ["dynamic", "meta-data", "user-data"]
    assert call(vm.base + "latest/dynamic/").text == "instance-identity/"
    assert call(vm.base + "latest/dynamic/instance-identity/").text == \
        "document\npkcs7\nsignature"
    doc = json.loads(call(vm.base + "latest/dynamic/instance-identity/document").text)
    i = vm.instance
    assert doc["instanceId"] == i["InstanceId"]
    assert doc["imageId"] == i["ImageId"]
    assert doc["accountId"] == i["OwnerId"]
    assert doc["instanceType"] == "t3.micro"
    assert doc["privateIp"] == i["PrivateIpAddress"]
    assert doc["availabilityZone"] == "us-east-1a" and doc["region"] == "us-east-1"
    assert doc["architecture"] == i["Architecture"]
    assert doc["version"] == "2017-09-30"
    assert doc["kernelId"] is None and doc["billingProducts"] is None
    assert doc["pendingTime"].endswith("Z")
    versions = call(vm.base).text.split("\n")
    assert versions[0] == "1.0" and versions[-1] == "latest"
    assert call(vm.base + "2021-07-15/meta-data/instance-id").text == vm.id
    assert call(vm.base + "1999-01-01/meta-data/").status == 404


def test_user_data_is_404_when_there_is_none(server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    iid = _launch(server, ec2)["InstanceId"]
    try:
        base = f"{server.url}/imds/{iid}/"
        assert call(base + "latest/user-data").status == 404
        assert call(base + "latest/").text.split("\n") == ["dynamic", "meta-data"]
        entries = call(base + "latest/meta-data/").text.split("\n")
        assert "public-keys/" not in entries  # no key pair
        assert call(base + "latest/meta-data/public-keys/").status == 404
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


# ------------------------------------------------------------------- tokens
def test_token_ttl_is_validated(vm: Launched) -> None:
    url = vm.base + "latest/api/token"
    got = call(url, "PUT", **{TTL: "21600"})
    assert got.status == 200 and got.headers[TTL] == "21600" and got.text
    for bad in ("0", "21601", "-5", "abc", ""):
        assert call(url, "PUT", **{TTL: bad}).status == 400, bad
    assert call(url, "PUT").status == 400
    assert call(url).status == 405  # the token is only ever PUT
    assert call(vm.base + "latest/meta-data/", "PUT", **{TTL: "60"}).status == 405


def test_v2_token_is_checked(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    token = token_for(vm.base, "120")
    got = call(vm.base + "latest/meta-data/instance-id", **{TOKEN: token})
    assert (got.status, got.text) == (200, vm.id)
    assert 0 < int(got.headers[TTL]) <= 120
    # An invalid token is refused even though v1 is allowed.
    assert call(vm.base + "latest/meta-data/instance-id", **{TOKEN: "not-a-token"}).status == 401
    assert call(vm.base + "latest/meta-data/instance-id",
                **{TOKEN: token[:-4] + "AAAA"}).status == 401
    # A token of one instance does not open another's metadata.
    ec2 = server.ec2()
    other = _launch(server, ec2)["InstanceId"]
    try:
        other_base = f"{server.url}/imds/{other}/"
        assert call(other_base + "latest/meta-data/instance-id", **{TOKEN: token}).status == 401
        assert call(other_base + "latest/meta-data/instance-id",
                    **{TOKEN: token_for(other_base)}).text == other
    finally:
        ec2.terminate_instances(InstanceIds=[other])


def test_expired_token_is_refused(vm: Launched) -> None:
    token = token_for(vm.base, "1")
    time.sleep(2.1)
    assert call(vm.base + "latest/meta-data/instance-id", **{TOKEN: token}).status == 401


def test_required_tokens_and_disabled_endpoint(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    url = vm.base + "latest/meta-data/instance-id"
    assert call(url).status == 200  # v1 allowed by default
    out = ec2.modify_instance_metadata_options(InstanceId=vm.id, HttpTokens="required",
                                               HttpPutResponseHopLimit=2)
    assert out["InstanceId"] == vm.id
    opts = out["InstanceMetadataOptions"]
    assert opts["HttpTokens"] == "required" and opts["HttpPutResponseHopLimit"] == 2
    assert opts["HttpEndpoint"] == "enabled" and opts["State"] == "pending"
    try:
        assert call(url).status == 401
        assert call(url, **{TOKEN: token_for(vm.base)}).text == vm.id
        fetcher = InstanceMetadataFetcher(
            timeout=5, num_attempts=1, config={"ec2_metadata_service_endpoint": vm.base})
        assert fetcher._get_request("latest/meta-data/instance-id", None,
                                    fetcher._fetch_metadata_token()).text == vm.id
        ec2.modify_instance_metadata_options(InstanceId=vm.id, HttpEndpoint="disabled")
        assert call(url).status == 403
        assert call(vm.base + "latest/api/token", "PUT", **{TTL: "60"}).status == 403
    finally:
        back = ec2.modify_instance_metadata_options(
            InstanceId=vm.id, HttpTokens="optional", HttpEndpoint="enabled",
            HttpPutResponseHopLimit=1)["InstanceMetadataOptions"]
    assert back["HttpTokens"] == "optional" and back["HttpEndpoint"] == "enabled"
    assert call(url).status == 200


def test_modify_metadata_options_errors(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    cases = [({"InstanceId": "i-nothex"}, "InvalidInstanceID.Malformed"),
             ({"InstanceId": "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound"),
             ({"InstanceId": vm.id, "HttpPutResponseHopLimit": 65}, "InvalidParameterValue")]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            ec2.modify_instance_metadata_options(**kwargs)
        assert err.value.response["Error"]["Code"] == code, kwargs
    other = server.ec2(*server.new_user(f"imds-{uuid.uuid4().hex[:6]}"))
    with pytest.raises(ClientError) as err:
        other.modify_instance_metadata_options(InstanceId=vm.id, HttpTokens="required")
    assert err.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"


# ------------------------------------------------------------------ who may ask
def test_unknown_gone_and_malformed_instances_are_404(server) -> None:  # type: ignore[no-untyped-def]
    assert call(f"{server.url}/imds/i-0123456789abcdef0/latest/meta-data/").status == 404
    assert call(f"{server.url}/imds/vol-0123456789abcdef0/latest/meta-data/").status == 404
    assert call(f"{server.url}/imds/i-0123456789abcdef0/latest/api/token", "PUT",
                **{TTL: "60"}).status == 404
    ec2 = server.ec2()
    iid = _launch(server, ec2)["InstanceId"]
    base = f"{server.url}/imds/{iid}/latest/meta-data/instance-id"
    assert call(base).text == iid
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert call(base).status == 404  # no guest runs
    ec2.terminate_instances(InstanceIds=[iid])
    assert call(base).status == 404


def test_proxied_requests_are_refused(vm: Launched) -> None:
    url = vm.base + "latest/meta-data/instance-id"
    assert call(url, **{"X-Forwarded-For": "203.0.113.9"}).status == 403
    assert call(vm.base + "latest/api/token", "PUT",
                **{TTL: "60", "X-Forwarded-For": "203.0.113.9"}).status == 403
    assert call(url, Forwarded="for=203.0.113.9").status == 403


def test_instance_tags_when_enabled(vm: Launched, server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    base = vm.base + "latest/meta-data/"
    assert "tags/" not in call(base).text.split("\n")
    ec2.modify_instance_metadata_options(InstanceId=vm.id, InstanceMetadataTags="enabled")
    try:
        assert call(base + "tags/instance/").text == "Name"
        assert call(base + "tags/instance/Name").text == "imds-vm"
    finally:
        ec2.modify_instance_metadata_options(InstanceId=vm.id, InstanceMetadataTags="disabled")
    assert call(base + "tags/").status == 404


def test_user_data_round_trips_binary(server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    blob = bytes(range(256))
    iid = _launch(server, ec2, UserData=blob)["InstanceId"]  # boto3 base64-encodes it
    try:
        got = call(f"{server.url}/imds/{iid}/latest/user-data")
        assert (got.status, got.body) == (200, blob)
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


def test_describe_instances_shows_the_options_modify_set(server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2()
    instance_id = _launch(server, ec2)["InstanceId"]
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required",
                                         HttpPutResponseHopLimit=3)
    inst = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    options = inst["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 3)
    assert options["HttpEndpoint"] == "enabled"
    ec2.terminate_instances(InstanceIds=[instance_id])
