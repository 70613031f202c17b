"""Authentication, envelopes and catalog operations of the EC2 endpoint."""

from __future__ import annotations

import re

import pytest
import requests
from botocore.exceptions import ClientError


def test_describe_regions_and_zones(ec2) -> None:  # type: ignore[no-untyped-def]
    regions = ec2.describe_regions()["Regions"]
    assert [r["RegionName"] for r in regions] == ["us-east-1"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["State"], z["ZoneId"]) for z in zones] == \
        [("us-east-1a", "available", "use1-az1")]
    only = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["us-*"]}])
    assert len(only["AvailabilityZones"]) == 1


def test_describe_images_lists_ready_builtin_templates(ec2) -> None:  # type: ignore[no-untyped-def]
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    assert len(images) >= 4
    img = images[0]
    assert img["ImageId"].startswith("ami-") and img["State"] == "available"
    assert img["RootDeviceType"] == "ebs" and img["Public"] is True
    named = ec2.describe_images(Filters=[{"Name": "name", "Values": ["ubuntu-*"]}])["Images"]
    assert [i["Name"] for i in named] == ["ubuntu-jammy-22.04-amd64-server"]
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_wrong_secret_is_auth_failure(server) -> None:  # type: ignore[no-untyped-def]
    bad = server.ec2(server.access_key, "not-the-secret")
    with pytest.raises(ClientError) as err:
        bad.describe_regions()
    assert err.value.response["Error"]["Code"] == "AuthFailure"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_unknown_key_is_auth_failure(server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        server.ec2("AKIAUNKNOWNUNKNOWN00", "x").describe_regions()
    assert err.value.response["Error"]["Code"] == "AuthFailure"


def test_wrong_region_in_the_signature_is_rejected(server) -> None:  # type: ignore[no-untyped-def]
    import boto3

    other = boto3.client("ec2", endpoint_url=server.url, region_name="eu-west-1",
                         aws_access_key_id=server.access_key,
                         aws_secret_access_key=server.secret_key)
    with pytest.raises(ClientError) as err:
        other.describe_regions()
    assert err.value.response["Error"]["Code"] == "AuthFailure"


def test_sigv2_is_accepted(server) -> None:  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    v2 = boto3.client("ec2", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=server.access_key,
                      aws_secret_access_key=server.secret_key,
                      config=Config(signature_version="v2"))
    assert v2.describe_regions()["Regions"][0]["RegionName"] == "us-east-1"


def test_unsigned_and_unknown_actions_get_xml_errors(server, ec2) -> None:  # type: ignore[no-untyped-def]
    r = requests.post(server.url + "/", data={"Action": "DescribeRegions",
                                              "Version": "2016-11-15"}, timeout=10)
    assert r.status_code == 401
    assert "<Code>MissingAuthenticationToken</Code>" in r.text
    assert re.search(r"<RequestID>[0-9a-f-]{36}</RequestID>", r.text)

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def signed(action: str) -> requests.Response:
        req = AWSRequest(method="POST", url=server.url + "/",
                         data={"Action": action, "Version": "2016-11-15"},
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(server.access_key, server.secret_key), "ec2",
                  "us-east-1").add_auth(req)
        return requests.post(server.url + "/", data=req.body, headers=dict(req.headers),
                             timeout=10)

    unknown = signed("FlyToTheMoon")
    assert unknown.status_code == 400 and "<Code>InvalidAction</Code>" in unknown.text
    unsupported = signed("DescribeHosts")
    assert unsupported.status_code == 400
    assert "<Code>UnsupportedOperation</Code>" in unsupported.text


def test_missing_parameter_is_reported(ec2) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        ec2.meta.events.register_first("before-parameter-build.ec2.RunInstances",
                                       lambda params, **kw: params.pop("ImageId", None))
        ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "MissingParameter"


def test_every_response_has_a_request_id(ec2) -> None:  # type: ignore[no-untyped-def]
    a = ec2.describe_regions()["ResponseMetadata"]["RequestId"]
    b = ec2.describe_regions()["ResponseMetadata"]["RequestId"]
    assert a != b and len(a) == 36


def test_logs_name_the_request_but_never_the_secret(server, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.DEBUG)
    server.ec2().describe_regions()
    with pytest.raises(ClientError):
        server.ec2(server.access_key, "wrong-secret-value").describe_regions()
    # Server-side records only (botocore, the client, logs its own request at DEBUG).
    text = "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith(("nimbostack", "werkzeug", "engine", "sqlalchemy")))
    assert "request_id=" in text and "DescribeRegions" in text
    assert server.secret_key not in text
    assert "wrong-secret-value" not in text
    assert "Signature=" not in text
