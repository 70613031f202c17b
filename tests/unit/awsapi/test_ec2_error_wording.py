"""EC2 error messages use AWS's nouns and ids: an engine error's neutral words
(template, network, service offering) and internal uuids never reach an EC2
client; the codes stay those of awsapi.errors' tables."""

from __future__ import annotations

import re
import uuid

import pytest

from awsapi.errors import to_ec2
from engine import errors as e
from engine.errors import ResourceKind

UUID = str(uuid.uuid4())
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENGINE_WORDS = re.compile(r"\b(template|offering|guest network|virtual machine|vm)s?\b",
                           re.IGNORECASE)


@pytest.mark.parametrize(("exc", "code", "message"), [
    (e.NotFound(ResourceKind.TEMPLATE, "0123456789abcdef0"), "InvalidAMIID.NotFound",
     "The image id '[ami-0123456789abcdef0]' does not exist"),
    (e.NotFound(ResourceKind.NETWORK, "0123456789abcdef0"), "InvalidSubnetID.NotFound",
     "The subnet ID 'subnet-0123456789abcdef0' does not exist"),
    (e.NotFound(ResourceKind.VPC, "0123456789abcdef0"), "InvalidVpcID.NotFound",
     "The vpc ID 'vpc-0123456789abcdef0' does not exist"),
    (e.NotFound(ResourceKind.INSTANCE, "0123456789abcdef0"), "InvalidInstanceID.NotFound",
     "The instance ID 'i-0123456789abcdef0' does not exist"),
    (e.NotFound(ResourceKind.VOLUME, "0123456789abcdef0"), "InvalidVolume.NotFound",
     "The volume 'vol-0123456789abcdef0' does not exist."),
    (e.NotFound(ResourceKind.SNAPSHOT, "0123456789abcdef0"), "InvalidSnapshot.NotFound",
     "The snapshot 'snap-0123456789abcdef0' does not exist."),
    (e.NotFound(ResourceKind.SERVICE_OFFERING, "t9.huge"), "InvalidParameterValue",
     "The instance type 't9.huge' does not exist"),
    (e.InUse(ResourceKind.SNAPSHOT, "0123456789abcdef0",
             user=(ResourceKind.TEMPLATE, "0fedcba987654321f")), "InvalidSnapshot.InUse",
     "The snapshot snap-0123456789abcdef0 is currently in use by ami-0fedcba987654321f"),
    (e.Duplicate(ResourceKind.TEMPLATE, "my-image"), "InvalidAMIName.Duplicate",
     "AMI name my-image is already in use"),
    (e.IncorrectState(ResourceKind.TEMPLATE, "0123456789abcdef0", "pending"),
     "InvalidAMIID.Unavailable", "The image 'ami-0123456789abcdef0' is not available"),
])
def test_messages_are_aws_own(exc: e.EngineError, code: str, message: str) -> None:
    err = to_ec2(exc)
    assert (err.code, err.message) == (code, message)


@pytest.mark.parametrize("exc", [
    e.NotFound(ResourceKind.TEMPLATE, UUID),
    e.NotFound(ResourceKind.NETWORK, UUID),
    e.NotFound(ResourceKind.NETWORK_OFFERING, UUID),
    e.IncorrectState(ResourceKind.INSTANCE, UUID, "Expunging"),
    e.IncorrectState(ResourceKind.VOLUME, UUID, "Snapshotting"),
    e.InUse(ResourceKind.PUBLIC_IP, UUID, by=f"instance {UUID}"),
    e.InUse(ResourceKind.SECURITY_GROUP, UUID, by=f"instance {UUID}"),
    e.InvalidParameter("templateid", UUID, "the template is not in that zone"),
    e.InvalidParameter("serviceofferingid", "", "the offering cannot scale"),
    e.InvalidParameter("networkid", UUID, f"the guest network {UUID} has no free address"),
    e.ConflictingParameters(("network", "instance"),
                            f"The network {UUID} is not in the zone of instance {UUID}"),
    e.Duplicate(ResourceKind.NIC, UUID),
    e.LimitExceeded(ResourceKind.TEMPLATE, 3),
    e.Protected(ResourceKind.INSTANCE, UUID, "terminate"),
    e.PermissionDenied("launch", ResourceKind.TEMPLATE, UUID),
])
def test_no_uuid_and_no_engine_words(exc: e.EngineError) -> None:
    message = to_ec2(exc).message
    assert not _UUID_RE.search(message), message
    assert not _ENGINE_WORDS.search(message), message


def test_invalid_parameter_names_the_ec2_parameter() -> None:
    err = to_ec2(e.InvalidParameter("templateid", UUID, "the template is not ready yet"))
    assert (err.code, err.message) == (
        "InvalidParameterValue", "Invalid value for ImageId: the image is not ready yet")
    err = to_ec2(e.InvalidParameter("Filter", "x", "The filter 'x' is invalid"))
    assert err.message == "Invalid value 'x' for Filter: The filter 'x' is invalid"


def test_network_interface_keeps_its_name() -> None:
    err = to_ec2(e.InvalidParameter("nic", "eni-1", "the network interface is attached"))
    assert "network interface" in err.message


def test_quota_messages_name_no_account_or_domain() -> None:
    domain = str(uuid.uuid4())
    err = to_ec2(e.QuotaExceeded("memory", 2048, ResourceKind.INSTANCE, account_name="acct",
                                 domain_uuid=domain, domain_limited=True))
    assert err.code == "InstanceLimitExceeded"
    assert err.message == "You have reached your limit of 2048 for instance memory"
    err = to_ec2(e.QuotaExceeded("cpu", 8, ResourceKind.INSTANCE, account_name="acct",
                                 domain_uuid=domain))
    assert (err.code, err.message) == (
        "VcpuLimitExceeded",
        "You have requested more vCPU capacity than your current vCPU limit of 8 allows")
