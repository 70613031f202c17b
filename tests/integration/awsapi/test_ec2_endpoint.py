"""The EC2 endpoint as a WSGI application mounted ahead of Flask: what reaches it,
what it answers with, and what it logs."""

from __future__ import annotations

import io
import logging
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from flask import Flask

from nimbostack.wsgi import create_app

BASE = "http://localhost/"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture
def app(server: Any) -> Flask:
    return create_app(server.runtime)


def _signed_post(server: Any, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = urlencode(params)
    req = AWSRequest(method="POST", url=BASE, data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "ec2", "us-east-1").add_auth(req)
    return body.encode(), {k: str(v) for k, v in req.headers.items()}


REGIONS = {"Action": "DescribeRegions", "Version": "2016-11-15"}


def test_a_signed_post_gets_xml_with_its_request_id(server: Any, app: Flask) -> None:
    body, headers = _signed_post(server, REGIONS)
    r = app.test_client().post("/", data=body, headers=headers)
    assert r.status == "200 OK"
    assert r.headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert int(r.headers["Content-Length"]) == len(r.data)
    request_id = r.headers["x-amzn-RequestId"]
    assert f"<requestId>{request_id}</requestId>".encode() in r.data
    assert b"<regionName>us-east-1</regionName>" in r.data


def test_a_presigned_get_is_accepted(server: Any, app: Flask) -> None:
    req = AWSRequest(method="GET", url=BASE, params=dict(REGIONS))
    SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "ec2", "us-east-1",
                   expires=60).add_auth(req)
    prepared = req.prepare()
    r = app.test_client().get(prepared.url.replace("http://localhost", ""),
                              headers={"Host": "localhost"})
    assert r.status_code == 200 and b"<regionInfo>" in r.data


def test_errors_carry_the_status_line_and_the_envelope(server: Any, app: Flask) -> None:
    r = app.test_client().post("/", data=REGIONS)
    assert r.status == "401 UNAUTHORIZED"
    assert b"<Code>MissingAuthenticationToken</Code>" in r.data
    assert f"<RequestID>{r.headers['x-amzn-RequestId']}</RequestID>".encode() in r.data


def test_dry_run_answers_412(server: Any, app: Flask) -> None:
    body, headers = _signed_post(server, {**REGIONS, "DryRun": "true"})
    r = app.test_client().post("/", data=body, headers=headers)
    assert r.status == "412 PRECONDITION FAILED" and b"<Code>DryRunOperation</Code>" in r.data


def test_other_methods_and_paths_stay_with_flask(server: Any, app: Flask) -> None:
    client = app.test_client()
    assert client.put("/", data=b"x").status_code == 405
    body, headers = _signed_post(server, REGIONS)
    head = client.open("/", method="HEAD", data=body, headers=headers)
    # Flask routes HEAD to the endpoint (the POST signature does not fit it) and drops the body.
    assert head.status_code == 401 and head.data == b"" and head.headers["x-amzn-RequestId"]
    assert client.post("/nowhere", data=body, headers=headers).status_code == 404
    cs = client.get("/client/api?command=listZones&response=json")
    assert cs.status_code == 401 and cs.is_json  # the CloudStack endpoint, not EC2 XML


def test_a_body_over_the_limit_is_refused_unread(server: Any, app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 64
    body, headers = _signed_post(server, {**REGIONS, "RegionName.1": "x" * 100})
    r = app.test_client().post("/", data=body, headers=headers)
    assert r.status_code == 413 and b"<Code>RequestEntityTooLarge</Code>" in r.data


def _environ(**extra: Any) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}
    environ.update(extra)
    return environ


def test_a_chunked_body_ended_by_the_server_is_read(server: Any, app: Flask) -> None:
    body, headers = _signed_post(server, REGIONS)
    environ = _environ(CONTENT_TYPE=headers["Content-Type"], **{"wsgi.input": io.BytesIO(body)},
                       **{"wsgi.input_terminated": True})
    for name, value in headers.items():
        if name.lower() != "content-type":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: list[str] = []
    out = b"".join(app(environ, lambda status, hdrs, exc=None: seen.append(status)))
    assert seen == ["200 OK"] and b"<regionInfo>" in out


def test_read_request_merges_query_and_form() -> None:
    from awsapi.app import read_request

    body = b"B=2&A=body&A=second&Bad=%FF"
    req = read_request(_environ(
        QUERY_STRING="A=query&Q=%C3%A9&Q=x", CONTENT_TYPE=FORM, CONTENT_LENGTH=str(len(body)),
        HTTP_X_AMZ_DATE="20260101T000000Z", **{"wsgi.input": io.BytesIO(body + b"trailing")}))
    assert dict(req.form) == {"A": "body", "Q": "é", "B": "2", "Bad": "%FF"}
    assert req.body == body
    assert req.header("X-Amz-Date") == "20260101T000000Z"
    assert req.header("content-length") == str(len(body))
    assert (req.method, req.host, req.path, req.query_string) == \
        ("POST", "localhost", "/", "A=query&Q=%C3%A9&Q=x")


def test_read_request_takes_multipart_fields_and_ignores_other_bodies() -> None:
    from awsapi.app import read_request

    body = (b"--xx\r\nContent-Disposition: form-data; name=\"Action\"\r\n\r\n"
            b"DescribeRegions\r\n--xx--\r\n")
    req = read_request(_environ(CONTENT_TYPE="multipart/form-data; boundary=xx",
                                CONTENT_LENGTH=str(len(body)),
                                **{"wsgi.input": io.BytesIO(body)}))
    assert dict(req.form) == {"Action": "DescribeRegions"}
    other = read_request(_environ(CONTENT_TYPE="application/json", CONTENT_LENGTH="7",
                                  QUERY_STRING="Action=X", **{"wsgi.input": io.BytesIO(b"{\"a\":1}")}))
    assert dict(other.form) == {"Action": "X"} and other.body == b'{"a":1}'


def _ec2_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "nimbostack.ec2" and r.getMessage().startswith("ec2 ")]


def test_successful_reads_log_at_debug_changes_and_errors_at_info(server: Any,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nimbostack.ec2")
    ec2 = server.ec2()
    ec2.describe_regions()
    name = "endpoint-log-key"
    ec2.create_key_pair(KeyName=name)
    try:
        with pytest.raises(ClientError):
            ec2.describe_key_pairs(KeyNames=["no-such-key-endpoint-log"])
    finally:
        ec2.delete_key_pair(KeyName=name)
    lines = _ec2_lines(caplog)

    def level_of(action: str, status: int) -> list[int]:
        return [lvl for lvl, msg in lines
                if f"action={action} " in msg and f"status={status} " in msg]

    assert level_of("DescribeRegions", 200) == [logging.DEBUG]
    assert level_of("CreateKeyPair", 200) == [logging.INFO]
    assert level_of("DescribeKeyPairs", 400) == [logging.INFO]
    assert all(re.search(r"request_id=[0-9a-f-]{36} ", msg) for _, msg in lines)
