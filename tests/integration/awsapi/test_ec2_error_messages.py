"""EC2 error messages through boto3 are AWS's: AWS's nouns and EC2 ids, never
the engine's words or internal uuids (codes unchanged)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code, public_image

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENGINE_WORDS = re.compile(r"\b(template|offering|guest network|virtual machine|vm)s?\b",
                           re.IGNORECASE)
GHOST = "0123456789abcdef0"


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err), str(err.value.response["Error"]["Message"])


@pytest.mark.parametrize(("call", "code", "message"), [
    (lambda ec2: ec2.describe_images(ImageIds=[f"ami-{GHOST}"]), "InvalidAMIID.NotFound",
     f"The image id '[ami-{GHOST}]' does not exist"),
    (lambda ec2: ec2.describe_subnets(SubnetIds=[f"subnet-{GHOST}"]),
     "InvalidSubnetID.NotFound", f"The subnet ID 'subnet-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_vpcs(VpcIds=[f"vpc-{GHOST}"]), "InvalidVpcID.NotFound",
     f"The vpc ID 'vpc-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_instances(InstanceIds=[f"i-{GHOST}"]),
     "InvalidInstanceID.NotFound", f"The instance ID 'i-{GHOST}' does not exist"),
    (lambda ec2: ec2.run_instances(ImageId=f"ami-{GHOST}", MinCount=1, MaxCount=1,
                                   InstanceType="t2.micro"),
     "InvalidAMIID.NotFound", f"The image id '[ami-{GHOST}]' does not exist"),
    (lambda ec2: ec2.create_image(InstanceId=f"i-{GHOST}", Name="ghost"),
     "InvalidInstanceID.NotFound", f"The instance ID 'i-{GHOST}' does not exist"),
    (lambda ec2: ec2.create_subnet(VpcId=f"vpc-{GHOST}", CidrBlock="10.9.0.0/24"),
     "InvalidVpcID.NotFound", f"The vpc ID 'vpc-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_internet_gateways(InternetGatewayIds=[f"igw-{GHOST}"]),
     "InvalidInternetGatewayID.NotFound", f"The internetGateway ID 'igw-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_route_tables(RouteTableIds=[f"rtb-{GHOST}"]),
     "InvalidRouteTableID.NotFound", f"The routeTable ID 'rtb-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_network_interfaces(NetworkInterfaceIds=[f"eni-{GHOST}"]),
     "InvalidNetworkInterfaceID.NotFound",
     f"The networkInterface ID 'eni-{GHOST}' does not exist"),
    (lambda ec2: ec2.describe_volumes(VolumeIds=[f"vol-{GHOST}"]), "InvalidVolume.NotFound",
     f"The volume 'vol-{GHOST}' does not exist."),
    (lambda ec2: ec2.describe_snapshots(SnapshotIds=[f"snap-{GHOST}"]),
     "InvalidSnapshot.NotFound", f"The snapshot 'snap-{GHOST}' does not exist."),
])
def test_not_found_messages(ec2: Any, call: Callable[[Any], Any], code: str,
                            message: str) -> None:
    assert _error(lambda: call(ec2)) == (code, message)


def test_launch_into_an_unknown_subnet(ec2: Any) -> None:
    code, message = _error(lambda: ec2.run_instances(
        ImageId=public_image(ec2), MinCount=1, MaxCount=1, InstanceType="t2.micro",
        SubnetId=f"subnet-{GHOST}"))
    assert (code, message) == (
        "InvalidSubnetID.NotFound", f"The subnet ID 'subnet-{GHOST}' does not exist")


def test_unknown_instance_type_names_no_offering(ec2: Any) -> None:
    code, message = _error(lambda: ec2.run_instances(
        ImageId=public_image(ec2), MinCount=1, MaxCount=1, InstanceType="t9.nosuch"))
    assert code == "InvalidParameterValue"
    assert not _ENGINE_WORDS.search(message) and not _UUID_RE.search(message), message
