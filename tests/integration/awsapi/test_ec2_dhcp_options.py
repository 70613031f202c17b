"""DescribeDhcpOptions: each account has one DHCP options set (AWS's default:
AmazonProvidedDNS and the region's internal domain), and its VPCs show it."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code


@pytest.fixture(scope="module")
def client(server: Any) -> Any:
    return server.ec2(*server.new_user(f"dopt-{uuid.uuid4().hex[:8]}"))


def test_the_accounts_options_set(client: Any) -> None:
    sets = client.describe_dhcp_options()["DhcpOptions"]
    assert len(sets) == 1
    dopt = sets[0]
    assert dopt["DhcpOptionsId"].startswith("dopt-") and len(dopt["DhcpOptionsId"]) == 22
    config = {c["Key"]: [v["Value"] for v in c["Values"]] for c in dopt["DhcpConfigurations"]}
    assert config == {"domain-name": ["ec2.internal"],
                      "domain-name-servers": ["AmazonProvidedDNS"]}
    default = client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert default and all(v["DhcpOptionsId"] == dopt["DhcpOptionsId"] for v in default)
    made = client.create_vpc(CidrBlock=f"10.{random.randint(0, 255)}.0.0/16")["Vpc"]
    assert made["DhcpOptionsId"] == dopt["DhcpOptionsId"]
    assert dopt["OwnerId"] == made["OwnerId"]
    by_id = client.describe_dhcp_options(DhcpOptionsIds=[dopt["DhcpOptionsId"]])["DhcpOptions"]
    assert by_id == sets
    client.delete_vpc(VpcId=made["VpcId"])


def test_accounts_have_their_own_sets(server: Any, client: Any) -> None:
    other = server.ec2(*server.new_user(f"dopt-{uuid.uuid4().hex[:8]}"))
    mine = client.describe_dhcp_options()["DhcpOptions"][0]["DhcpOptionsId"]
    theirs = other.describe_dhcp_options()["DhcpOptions"][0]["DhcpOptionsId"]
    assert mine != theirs
    with pytest.raises(ClientError) as err:
        other.describe_dhcp_options(DhcpOptionsIds=[mine])
    assert error_code(err) == "InvalidDhcpOptionID.NotFound"


def test_filters_and_errors(client: Any) -> None:
    def found(name: str, *values: str) -> int:
        return len(client.describe_dhcp_options(
            Filters=[{"Name": name, "Values": list(values)}])["DhcpOptions"])

    assert found("key", "domain-name-servers") == 1
    assert found("value", "AmazonProvidedDNS") == 1
    assert found("value", "Amazon*") == 1
    assert found("key", "ntp-servers") == 0
    assert found("tag:Name", "x") == 0
    with pytest.raises(ClientError) as err:
        client.describe_dhcp_options(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert error_code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        client.describe_dhcp_options(DhcpOptionsIds=["dopt-zz"])
    assert error_code(err) == "InvalidDhcpOptionsId.Malformed"
    with pytest.raises(ClientError) as err:
        client.describe_dhcp_options(DhcpOptionsIds=["dopt-0123456789abcdef0"])
    assert error_code(err) == "InvalidDhcpOptionID.NotFound"
