"""DescribeInstanceTypes / DescribeInstanceTypeOfferings / DescribeAccountAttributes
through boto3 (and awscli)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

BOOTSTRAPPED = {"t2.micro", "t3.micro", "m5.large", "c5.xlarge", "r5.4xlarge"}


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _all_types(ec2, **kwargs) -> list[dict]:  # type: ignore[no-untyped-def]
    pages = ec2.get_paginator("describe_instance_types").paginate(**kwargs)
    return [t for page in pages for t in page["InstanceTypes"]]


def test_every_offering_is_an_instance_type_with_the_fields_sdks_read(ec2) -> None:  # type: ignore[no-untyped-def]
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    assert BOOTSTRAPPED <= set(types)
    for t in types.values():
        assert t["SupportedUsageClasses"] == ["on-demand"]
        assert t["SupportedRootDeviceTypes"] == ["ebs"]
        assert t["SupportedVirtualizationTypes"] == ["hvm"]
        assert t["BareMetal"] is False and t["CurrentGeneration"] is True
        assert t["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
        assert t["InstanceStorageSupported"] is False
        assert t["NetworkInfo"]["MaximumNetworkInterfaces"] >= 2
        assert t["NetworkInfo"]["Ipv4AddressesPerInterface"] >= 2
        assert t["NetworkInfo"]["NetworkCards"][0]["NetworkCardIndex"] == 0
        assert t["NetworkInfo"]["DefaultNetworkCardIndex"] == 0
        assert t["EbsInfo"]["EncryptionSupport"] == "supported"
        assert t["AutoRecoverySupported"] is True
        assert t["PlacementGroupInfo"]["SupportedStrategies"]

    micro = types["t2.micro"]
    assert micro["FreeTierEligible"] is True
    assert micro["Hypervisor"] == "xen"
    assert micro["BurstablePerformanceSupported"] is True
    assert micro["VCpuInfo"] == {"DefaultVCpus": 1, "DefaultCores": 1, "DefaultThreadsPerCore": 1}
    assert micro["MemoryInfo"] == {"SizeInMiB": 1024}
    assert micro["ProcessorInfo"]["SustainedClockSpeedInGhz"] == 1.0
    assert micro["NetworkInfo"]["EnaSupport"] == "unsupported"
    assert micro["SupportedBootModes"] == ["legacy-bios"]

    large = types["m5.large"]
    assert large["FreeTierEligible"] is False
    assert large["Hypervisor"] == "nitro"
    assert large["BurstablePerformanceSupported"] is False
    assert large["DedicatedHostsSupported"] is True
    assert large["VCpuInfo"] == {"DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2,
                                 "ValidCores": [1], "ValidThreadsPerCore": [1, 2]}
    assert large["MemoryInfo"] == {"SizeInMiB": 8192}
    assert large["ProcessorInfo"]["SustainedClockSpeedInGhz"] == 2.5
    assert large["EbsInfo"]["EbsOptimizedSupport"] == "default"
    assert large["EbsInfo"]["NvmeSupport"] == "required"
    assert large["NetworkInfo"]["EnaSupport"] == "required"
    assert (large["NetworkInfo"]["MaximumNetworkInterfaces"],
            large["NetworkInfo"]["Ipv4AddressesPerInterface"]) == (3, 10)
    assert large["NetworkInfo"]["NetworkPerformance"] == "Up to 10 Gigabit"
    assert types["r5.4xlarge"]["VCpuInfo"]["ValidCores"] == [2, 4, 6, 8]
    assert types["t3.micro"]["NetworkInfo"]["NetworkPerformance"] == "Up to 5 Gigabit"


def test_named_types_and_unknown_ones(ec2) -> None:  # type: ignore[no-untyped-def]
    got = ec2.describe_instance_types(InstanceTypes=["t3.micro", "m5.large"])["InstanceTypes"]
    assert sorted(t["InstanceType"] for t in got) == ["m5.large", "t3.micro"]
    with pytest.raises(ClientError) as err:  # an AWS type this cloud does not offer
        ec2.describe_instance_types(InstanceTypes=["t3.micro", "p5.48xlarge"])
    assert _code(err) == "InvalidInstanceType"
    assert "p5.48xlarge" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize(("filters", "expected"), [
    ([{"Name": "instance-type", "Values": ["t3.*"]}],
     lambda t: t["InstanceType"].startswith("t3.")),
    ([{"Name": "vcpu-info.default-vcpus", "Values": ["2"]},
      {"Name": "memory-info.size-in-mib", "Values": ["8192"]}],
     lambda t: t["VCpuInfo"]["DefaultVCpus"] == 2 and t["MemoryInfo"]["SizeInMiB"] == 8192),
    ([{"Name": "burstable-performance-supported", "Values": ["true"]}],
     lambda t: t["InstanceType"][:3] in ("t2.", "t3.")),
    ([{"Name": "current-generation", "Values": ["true"]},
      {"Name": "processor-info.supported-architecture", "Values": ["x86_64"]}],
     lambda t: True),
    ([{"Name": "processor-info.supported-architecture", "Values": ["arm64"]}],
     lambda t: False),
    ([{"Name": "free-tier-eligible", "Values": ["true"]}],
     lambda t: t["InstanceType"] in ("t2.micro", "t3.micro")),
    ([{"Name": "hypervisor", "Values": ["xen"]}],
     lambda t: t["InstanceType"].startswith("t2.")),
    ([{"Name": "instance-storage-info.disk.type", "Values": ["ssd"]}],
     lambda t: False),
])
def test_filters(ec2, filters, expected) -> None:  # type: ignore[no-untyped-def]
    everything = _all_types(ec2)
    want = sorted(t["InstanceType"] for t in everything if expected(t))
    got = sorted(t["InstanceType"] for t in _all_types(ec2, Filters=filters))
    assert got == want
    if filters[0]["Name"] == "vcpu-info.default-vcpus":
        assert {"t2.large", "t3.large", "m5.large"} <= set(got)


def test_unknown_filter_is_rejected(ec2) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(Filters=[{"Name": "color", "Values": ["red"]}])
    assert _code(err) == "InvalidParameterValue"


def test_paginator_walks_every_type_once(ec2) -> None:  # type: ignore[no-untyped-def]
    full = sorted(t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"])
    pages = list(ec2.get_paginator("describe_instance_types").paginate(
        PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 2 and all(len(p["InstanceTypes"]) <= 5 for p in pages)
    walked = [t["InstanceType"] for p in pages for t in p["InstanceTypes"]]
    assert sorted(walked) == full and len(set(walked)) == len(walked)


def test_paging_bounds_and_foreign_tokens(server, ec2) -> None:  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    unchecked = boto3.client("ec2", endpoint_url=server.url, region_name=server.region,
                             aws_access_key_id=server.access_key,
                             aws_secret_access_key=server.secret_key,
                             config=Config(parameter_validation=False))
    for bad in (4, 101):
        with pytest.raises(ClientError) as err:
            unchecked.describe_instance_types(MaxResults=bad)
        assert _code(err) == "InvalidParameterValue"
    token = ec2.describe_instance_types(MaxResults=5)["NextToken"]
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(MaxResults=5, NextToken=token,
                                    Filters=[{"Name": "instance-type", "Values": ["m5.*"]}])
    assert _code(err) == "InvalidParameterValue"


def test_type_offerings_by_location_type(ec2) -> None:  # type: ignore[no-untyped-def]
    def offerings(**kwargs):  # type: ignore[no-untyped-def]
        pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
            PaginationConfig={"PageSize": 7}, **kwargs)
        return [o for p in pages for o in p["InstanceTypeOfferings"]]

    types = {t["InstanceType"] for t in _all_types(ec2)}
    region = offerings()
    assert {o["InstanceType"] for o in region} == types
    assert {(o["LocationType"], o["Location"]) for o in region} == {("region", "us-east-1")}
    zones = offerings(LocationType="availability-zone")
    assert {"us-east-1a"} <= {o["Location"] for o in zones}
    assert all(o["LocationType"] == "availability-zone" for o in zones)
    ids = offerings(LocationType="availability-zone-id",
                    Filters=[{"Name": "location", "Values": ["use1-az1"]},
                             {"Name": "instance-type", "Values": ["m5.large", "t2.*"]}])
    assert {o["Location"] for o in ids} == {"use1-az1"}
    assert {o["InstanceType"] for o in ids} == {t for t in types
                                                if t == "m5.large" or t.startswith("t2.")}
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_type_offerings(Filters=[{"Name": "zone", "Values": ["x"]}])
    assert _code(err) == "InvalidParameterValue"


def test_account_attributes(server, ec2) -> None:  # type: ignore[no-untyped-def]
    attrs = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
             for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attrs["supported-platforms"] == ["VPC"]
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", attrs["default-vpc"][0])
    assert attrs["vpc-max-security-groups-per-interface"] == ["5"]
    assert int(attrs["max-instances"][0]) > 0
    assert attrs["max-elastic-ips"] == attrs["vpc-max-elastic-ips"] == ["20"]

    user = server.ec2(*server.new_user("acct-attrs-user"))
    only = user.describe_account_attributes(AttributeNames=["default-vpc", "supported-platforms"])
    assert [a["AttributeName"] for a in only["AccountAttributes"]] == [
        "default-vpc", "supported-platforms"]
    assert only["AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"] == \
        attrs["default-vpc"][0]
    with pytest.raises(ClientError) as err:
        user.describe_account_attributes(AttributeNames=["favourite-colour"])
    assert _code(err) == "InvalidParameterValue"


def test_default_vpc_is_where_instances_land(ec2) -> None:  # type: ignore[no-untyped-def]
    vpc = ec2.describe_account_attributes(AttributeNames=["default-vpc"])[
        "AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"]
    image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if i["Name"].startswith("amzn2"))
    inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    try:
        assert inst["VpcId"] == vpc
    finally:
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def _aws(server, *args: str) -> dict:  # type: ignore[no-untyped-def]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key,
               AWS_SECRET_ACCESS_KEY=server.secret_key, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    proc = subprocess.run([sys.executable, "-m", "awscli", "ec2", *args, "--endpoint-url",
                           server.url, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_awscli_reads_types_and_account_attributes(server) -> None:  # type: ignore[no-untyped-def]
    types = _aws(server, "describe-instance-types", "--instance-types", "t3.micro", "m5.large")
    assert sorted(t["InstanceType"] for t in types["InstanceTypes"]) == ["m5.large", "t3.micro"]
    attrs = _aws(server, "describe-account-attributes", "--attribute-names",
                 "supported-platforms")
    assert attrs["AccountAttributes"][0]["AttributeValues"] == [{"AttributeValue": "VPC"}]
    paged = _aws(server, "describe-instance-types", "--page-size", "5")
    assert {t["InstanceType"] for t in paged["InstanceTypes"]} >= BOOTSTRAPPED
