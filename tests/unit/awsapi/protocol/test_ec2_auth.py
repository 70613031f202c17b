"""awsapi.protocol.auth: requests signed by botocore's own signers verify;
every tampered piece is rejected with the code EC2 uses."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import boto3
import pytest
from botocore.auth import SigV2Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from awsapi import model
from awsapi.errors_wire import Ec2Error
from awsapi.protocol import parser, serializer
from awsapi.protocol.auth import SignedRequest, verify

KEY = "AKIDEXAMPLE0000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "zone-1"
URL = "http://127.0.0.1:8788/"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
PARAMS = {
    "Action": "DescribeInstances",
    "Version": "2016-11-15",
    "Filter.1.Name": "tag:Name",
    "Filter.1.Value.1": "a b+c/é*",
}


def secret_for(access_key: str) -> str | None:
    return SECRET if access_key == KEY else None


def creds(secret: str = SECRET, key: str = KEY) -> Credentials:
    return Credentials(key, secret)


def to_signed(prepared: AWSPreparedRequest) -> SignedRequest:
    """What a web front end would hand to verify() for this wire request."""
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    form = dict(parse_qsl(url.query, keep_blank_values=True))
    form.update(parse_qsl(body.decode(), keep_blank_values=True))
    return SignedRequest(
        method=prepared.method,
        host=url.netloc,
        path=url.path or "/",
        query_string=url.query,
        headers={k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()},
        body=body,
        form=form,
    )


def sign_v4(
    method: str = "POST",
    *,
    region: str = REGION,
    service: str = "ec2",
    secret: str = SECRET,
    key: str = KEY,
    headers: dict[str, str] | None = None,
) -> SignedRequest:
    if method == "POST":
        request = AWSRequest(
            method="POST",
            url=URL,
            data=dict(PARAMS),
            headers={"Content-Type": FORM_TYPE, **(headers or {})},
        )
    else:
        request = AWSRequest(method="GET", url=URL, params=dict(PARAMS), headers=headers or {})
    SigV4Auth(creds(secret, key), service, region).add_auth(request)
    return to_signed(request.prepare())


def presign(method: str = "GET", *, expires: int = 300) -> SignedRequest:
    if method == "POST":  # botocore's presigner moves the form into the query string
        request = AWSRequest(method="POST", url=URL, data=dict(PARAMS))
    else:
        request = AWSRequest(method="GET", url=URL, params=dict(PARAMS))
    SigV4QueryAuth(creds(), "ec2", REGION, expires=expires).add_auth(request)
    return to_signed(request.prepare())


def sign_v2(method: str = "POST", *, secret: str = SECRET) -> SignedRequest:
    if method == "POST":
        request = AWSRequest(
            method="POST", url=URL, data=dict(PARAMS), headers={"Content-Type": FORM_TYPE}
        )
    else:
        request = AWSRequest(method="GET", url=URL, params=dict(PARAMS))
    SigV2Auth(creds(secret)).add_auth(request)
    return to_signed(request.prepare())


def now() -> datetime:
    return datetime.now(UTC)


def check(req: SignedRequest, *, at: datetime | None = None) -> str:
    return verify(req, secret_for, now=at or now(), region=REGION)


def failure(req: SignedRequest, *, at: datetime | None = None) -> Ec2Error:
    with pytest.raises(Ec2Error) as caught:
        check(req, at=at)
    assert SECRET not in caught.value.message
    return caught.value


def with_form(req: SignedRequest, **changes: str) -> SignedRequest:
    """``req`` with form parameters changed in the body (POST) or query (GET)."""
    form = {**req.form, **changes}
    if req.method == "POST" and req.body:
        body = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
        body.update(changes)
        return dataclasses.replace(req, body=urlencode(body).encode(), form=form)
    query = dict(parse_qsl(req.query_string, keep_blank_values=True))
    query.update(changes)
    return dataclasses.replace(req, query_string=urlencode(query, quote_via=quote), form=form)


# --- SigV4, Authorization header ------------------------------------------------


def test_sigv4_header_post_boto3_style() -> None:
    req = sign_v4("POST")
    assert req.header("content-type") == FORM_TYPE
    assert req.header(
        "AUTHORIZATION",
    ).startswith("AWS4-HMAC-SHA256 ")  # type: ignore[union-attr]
    assert check(req) == KEY


def test_sigv4_header_get() -> None:
    assert check(sign_v4("GET")) == KEY


def test_sigv4_with_date_header_instead_of_x_amz_date() -> None:
    req = sign_v4("POST", headers={"Date": "placeholder"})
    assert req.header("X-Amz-Date") is None
    assert check(req) == KEY


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda r: dataclasses.replace(r, body=r.body + b"&DryRun=true"), id="body"),
        pytest.param(
            lambda r: dataclasses.replace(r, headers={**r.headers, "Content-Type": "text/plain"}),
            id="signed-header",
        ),
        pytest.param(lambda r: dataclasses.replace(r, query_string="Extra=1"), id="query"),
        pytest.param(lambda r: dataclasses.replace(r, method="PUT"), id="method"),
        pytest.param(lambda r: dataclasses.replace(r, path="/other"), id="path"),
        pytest.param(lambda r: dataclasses.replace(r, host="evil.example:8788"), id="host"),
        pytest.param(
            lambda r: dataclasses.replace(
                r,
                headers={
                    **r.headers,
                    "Authorization": r.headers["Authorization"][:-1]
                    + ("0" if r.headers["Authorization"][-1] != "0" else "1"),
                },
            ),
            id="signature",
        ),
    ],
)
def test_sigv4_header_tampering_is_auth_failure(
    tamper: Callable[[SignedRequest], SignedRequest],
) -> None:
    err = failure(tamper(sign_v4("POST")))
    assert (err.code, err.status) == ("AuthFailure", 401)
    assert err.message == "AWS was not able to validate the provided access credentials"


def test_wrong_secret_is_auth_failure() -> None:
    assert failure(sign_v4(secret="not-the-secret")).code == "AuthFailure"


def test_unknown_access_key_is_auth_failure() -> None:
    err = failure(sign_v4(key="AKIDUNKNOWN"))
    assert (err.code, err.status) == ("AuthFailure", 401)
    assert err.message == "AWS was not able to validate the provided access credentials"


def test_wrong_region_is_auth_failure() -> None:
    err = failure(sign_v4(region="elsewhere-9"))
    assert err.code == "AuthFailure"
    assert "elsewhere-9" in err.message


def test_wrong_service_is_auth_failure() -> None:
    err = failure(sign_v4(service="s3"))
    assert err.code == "AuthFailure"
    assert "'ec2'" in err.message


@pytest.mark.parametrize("minutes", [16, -16])
def test_clock_skew_over_15_minutes_is_request_expired(minutes: int) -> None:
    err = failure(sign_v4(), at=now() + timedelta(minutes=minutes))
    assert (err.code, err.message, err.status) == ("RequestExpired", "Request has expired.", 400)


@pytest.mark.parametrize("minutes", [14, -14])
def test_clock_skew_within_15_minutes_is_accepted(minutes: int) -> None:
    assert check(sign_v4(), at=now() + timedelta(minutes=minutes)) == KEY


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/zone-1/ec2/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/zone-1/ec2, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA512 Credential=AKID/20260101/zone-1/ec2/aws4_request, "
        "SignedHeaders=host, Signature=ab",
        "garbage",
    ],
)
def test_malformed_authorization_is_incomplete_signature(authorization: str) -> None:
    req = sign_v4()
    err = failure(dataclasses.replace(req, headers={**req.headers, "Authorization": authorization}))
    assert (err.code, err.status) == ("IncompleteSignature", 400)


def test_credential_date_must_match_request_date() -> None:
    req = sign_v4()
    auth = req.headers["Authorization"]
    day = req.headers["X-Amz-Date"][:8]
    forged = auth.replace(f"/{day}/", "/20000101/")
    assert (
        failure(dataclasses.replace(req, headers={**req.headers, "Authorization": forged})).code
        == "AuthFailure"
    )


def test_unsigned_host_is_rejected() -> None:
    req = sign_v4()
    auth = req.headers["Authorization"].replace(
        "SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=content-type;x-amz-date"
    )
    err = failure(dataclasses.replace(req, headers={**req.headers, "Authorization": auth}))
    assert err.code == "IncompleteSignature"


# --- SigV4, presigned / parameters ----------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sigv4_presigned_query(method: str) -> None:
    req = presign(method)
    assert "X-Amz-Signature=" in req.query_string
    assert check(req) == KEY


def test_presigned_url_is_valid_until_it_expires() -> None:
    req = presign(expires=3600)
    assert check(req, at=now() + timedelta(minutes=50)) == KEY
    err = failure(req, at=now() + timedelta(minutes=61))
    assert (err.code, err.message) == ("RequestExpired", "Request has expired.")


def test_presigned_tampered_query_is_auth_failure() -> None:
    req = presign()
    tampered = req.query_string.replace("Filter.1.Name=tag%3AName", "Filter.1.Name=tag%3AEvil")
    assert tampered != req.query_string
    assert failure(dataclasses.replace(req, query_string=tampered)).code == "AuthFailure"


def test_presigned_bad_expires_is_incomplete_signature() -> None:
    req = presign()
    query = req.query_string.replace("X-Amz-Expires=300", "X-Amz-Expires=9999999")
    assert failure(dataclasses.replace(req, query_string=query)).code == "IncompleteSignature"


def test_sigv4_parameters_in_post_body() -> None:
    # Older tools sign the presigned way and send the parameters as the form body.
    signed = presign("POST")
    assert signed.method == "POST"
    assert not signed.body
    params = dict(parse_qsl(signed.query_string, keep_blank_values=True))
    body = urlencode(params).encode()
    req = SignedRequest(
        method="POST",
        host=signed.host,
        path="/",
        query_string="",
        headers={"Content-Type": FORM_TYPE},
        body=body,
        form=params,
    )
    assert check(req) == KEY
    tampered = {**params, "Filter.1.Value.1": "other"}
    bad = dataclasses.replace(req, body=urlencode(tampered).encode(), form=tampered)
    assert failure(bad).code == "AuthFailure"


# --- SigV2 ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sigv2(method: str) -> None:
    req = sign_v2(method)
    assert req.form["SignatureVersion"] == "2"
    assert check(req) == KEY


def _sign_v2_by_hand(params: dict[str, str], method_name: str, digest: Any) -> SignedRequest:
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(params[k], safe='-_.~')}" for k in sorted(params)
    )
    to_sign = f"POST\n127.0.0.1:8788\n/\n{query}"
    signature = base64.b64encode(hmac.new(SECRET.encode(), to_sign.encode(), digest).digest())
    form = {**params, "Signature": signature.decode()}
    assert form["SignatureMethod"] == method_name
    return SignedRequest(
        method="POST",
        host="127.0.0.1:8788",
        path="/",
        query_string="",
        headers={"Content-Type": FORM_TYPE},
        body=urlencode(form).encode(),
        form=form,
    )


def _v2_params(method_name: str, **extra: str) -> dict[str, str]:
    params = {
        **PARAMS,
        "AWSAccessKeyId": KEY,
        "SignatureVersion": "2",
        "SignatureMethod": method_name,
        **extra,
    }
    if "Expires" not in extra:
        params["Timestamp"] = now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return params


def test_sigv2_hmac_sha1() -> None:
    assert check(_sign_v2_by_hand(_v2_params("HmacSHA1"), "HmacSHA1", hashlib.sha1)) == KEY


def test_sigv2_expires_instead_of_timestamp() -> None:
    later = (now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    req = _sign_v2_by_hand(_v2_params("HmacSHA256", Expires=later), "HmacSHA256", hashlib.sha256)
    assert check(req) == KEY
    err = failure(req, at=now() + timedelta(minutes=6))
    assert err.code == "RequestExpired"


def test_sigv2_stale_timestamp_is_request_expired() -> None:
    err = failure(sign_v2(), at=now() + timedelta(minutes=20))
    assert (err.code, err.status) == ("RequestExpired", 400)


def test_sigv2_tampered_parameter_is_auth_failure() -> None:
    req = with_form(sign_v2("POST"), **{"Filter.1.Value.1": "other"})
    assert failure(req).code == "AuthFailure"


def test_sigv2_wrong_secret_is_auth_failure() -> None:
    err = failure(sign_v2(secret="nope"))
    assert (err.code, err.status) == ("AuthFailure", 401)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"SignatureVersion": "1"}, "InvalidParameterValue"),
        ({"SignatureMethod": "HmacMD5"}, "InvalidParameterValue"),
        ({"Signature": ""}, "MissingParameter"),
        ({"Timestamp": "yesterday"}, "InvalidParameterValue"),
    ],
)
def test_sigv2_malformed(changes: dict[str, str], code: str) -> None:
    assert failure(with_form(sign_v2("POST"), **changes)).code == code


def test_sigv2_missing_timestamp() -> None:
    req = sign_v2("POST")
    form = {k: v for k, v in req.form.items() if k != "Timestamp"}
    err = failure(dataclasses.replace(req, form=form))
    assert (err.code, err.message) == (
        "MissingParameter",
        "The request must contain the parameter Timestamp",
    )


# --- no credentials ------------------------------------------------------------


def test_missing_credentials() -> None:
    req = SignedRequest(
        method="POST",
        host="127.0.0.1:8788",
        path="/",
        query_string="",
        headers={"Content-Type": FORM_TYPE},
        body=urlencode(PARAMS).encode(),
        form=dict(PARAMS),
    )
    err = failure(req)
    assert (err.code, err.message, err.status) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        401,
    )


def test_headers_are_case_insensitive_and_repeated_values_join() -> None:
    req = SignedRequest(
        method="GET",
        host="h",
        path="/",
        query_string="",
        headers={"X-Thing": "a", "x-thing": "b"},
        body=b"",
        form={},
    )
    assert req.header("X-THING") == "a,b"


# --- end to end with a boto3 client ----------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _serve(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
    """A tiny in-process EC2 endpoint: verify, parse, answer."""
    try:
        signed = to_signed(request)
        verify(signed, secret_for, now=now(), region=REGION)
        op = model.operation(signed.form["Action"])
        assert op is not None
        params = parser.parse(op, signed.form)
        result: dict[str, Any] = {}
        if op.name == "DescribeRegions":
            result = {"Regions": [{"RegionName": REGION, "Endpoint": URL}]}
        elif op.name == "DescribeInstances":
            result = {"Reservations": [], "NextToken": params.get("NextToken")}
        body, status = serializer.success(op, result, "req-1"), 200
    except Ec2Error as err:
        body, status = serializer.error(err.code, err.message, "req-1"), err.status
    return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Raw(body))


def _client(secret: str = SECRET) -> Any:
    client = boto3.client(
        "ec2",
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=secret,
    )
    client.meta.events.register("before-send.ec2", _serve)
    return client


def test_boto3_client_end_to_end() -> None:
    ec2 = _client()
    assert ec2.describe_regions()["Regions"] == [{"RegionName": REGION, "Endpoint": URL}]
    page = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": ["a b+c/é*"]}], NextToken="t/o+k="
    )
    assert page["Reservations"] == []
    assert page["NextToken"] == "t/o+k="


def test_boto3_client_with_wrong_secret_gets_auth_failure() -> None:
    with pytest.raises(ClientError) as caught:
        _client(secret="wrong").describe_regions()
    response = caught.value.response
    assert response["Error"]["Code"] == "AuthFailure"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert response["ResponseMetadata"]["RequestId"] == "req-1"


def _with_declared_hash(value: str) -> SignedRequest:
    return sign_v4("POST", headers={"X-Amz-Content-SHA256": value})


def test_declared_payload_hash_must_match_body() -> None:
    good = hashlib.sha256(urlencode(PARAMS).encode()).hexdigest()
    assert check(_with_declared_hash(good)) == KEY
    assert failure(_with_declared_hash(hashlib.sha256(b"x").hexdigest())).code == "AuthFailure"


def test_unsigned_payload_is_refused_when_there_is_a_body() -> None:
    # Otherwise form parameters in the body would go unsigned.
    assert failure(_with_declared_hash("UNSIGNED-PAYLOAD")).code == "AuthFailure"


def test_presigned_url_does_not_cover_added_body_parameters() -> None:
    req = presign("GET")
    added = dataclasses.replace(
        req, method="GET", body=b"DryRun=true", form={**req.form, "DryRun": "true"}
    )
    assert failure(added).code == "AuthFailure"


def test_amz_date_fast_parse_matches_strptime() -> None:
    from datetime import UTC, datetime

    from awsapi.errors_wire import Ec2Error
    from awsapi.protocol import auth

    for value in ("20261122T034455Z", "20240229T235959Z", "20000101T000000Z"):
        assert auth._parse_amz_date(value) == datetime.strptime(
            value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    for bad in ("20261322T034455Z", "20261122T246000Z", "2026-11-22T03:44:55Z", "x" * 16):
        try:
            auth._parse_amz_date(bad)
        except Ec2Error:
            continue
        raise AssertionError(f"{bad} was accepted")
