"""Signature canonical form, verification against real clients, and v3 expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import pytest
import requests
from cs import CloudStack
from libcloud.common.cloudstack import CloudStackConnection

from nativeapi.errors_wire import AUTH_FAILED_TEXT, CloudStackError
from nativeapi.protocol import signature
from nativeapi.protocol.signature import canonical, check_expiry, java_urlencode, sign, verify

API_KEY = "APIKEY-abc123"
SECRET = "SECRET-xyz789"

# The worked example of cloudstack-api.md §1.2.
VECTOR = {
    "apiKey": API_KEY,
    "command": "listVirtualMachines",
    "response": "json",
    "zoneId": "a1b2c3d4-0000-0000-0000-000000000001",
    "name": "web 01*",
    "tags[0].key": "env",
    "tags[0].value": "prod",
    "signatureVersion": "3",
    "expires": "2030-01-01T00:00:00+0000",
}
VECTOR_CANONICAL = (
    "apikey=apikey-abc123&command=listvirtualmachines&expires=2030-01-01t00%3a00%3a00%2b0000"
    "&name=web%2001*&response=json&signatureversion=3&tags[0].key=env&tags[0].value=prod"
    "&zoneid=a1b2c3d4-0000-0000-0000-000000000001"
)
VECTOR_SIGNATURE = "eVIngLg+RUdI+H9VNS83ss6cmvg="


# --- the spec vector ------------------------------------------------------------------


def test_worked_vector_canonical_string() -> None:
    assert canonical(VECTOR) == VECTOR_CANONICAL


def test_worked_vector_signature() -> None:
    assert sign(VECTOR, SECRET) == VECTOR_SIGNATURE
    assert verify({**VECTOR, "signature": VECTOR_SIGNATURE}, SECRET)


def test_worked_vector_survives_the_wire_encoding() -> None:
    query = urlencode({**VECTOR, "signature": VECTOR_SIGNATURE})
    assert "signature=eVIngLg%2BRUdI%2BH9VNS83ss6cmvg%3D" in query
    assert verify(dict(parse_qsl(query)), SECRET)


def test_signature_param_excluded_case_insensitively() -> None:
    assert canonical({**VECTOR, "Signature": "x", "signature": "y"}) == VECTOR_CANONICAL


def test_wrong_secret_tampered_value_or_missing_signature_fail() -> None:
    signed = {**VECTOR, "signature": VECTOR_SIGNATURE}
    assert not verify(signed, "other-secret")
    assert not verify({**signed, "name": "web 02*"}, SECRET)
    assert not verify(VECTOR, SECRET)
    assert not verify({**VECTOR, "signature": ""}, SECRET)


def test_plus_decoded_to_space_is_repaired() -> None:
    # A client that forgot to encode '+' in the query string: it arrives as ' '.
    assert verify({**VECTOR, "signature": VECTOR_SIGNATURE.replace("+", " ")}, SECRET)


def test_java_urlencode_semantics() -> None:
    assert java_urlencode("a-b.c*d_e") == "a-b.c*d_e"
    assert java_urlencode("a b") == "a%20b"
    assert java_urlencode("~/:+=&[]") == "%7E%2F%3A%2B%3D%26%5B%5D"
    assert java_urlencode("é") == "%C3%A9"


def test_java_sort_is_case_sensitive() -> None:
    # 'Z' (0x5A) sorts before 'a' (0x61) in Java's String order.
    assert canonical({"b": "1", "Z": "2", "a": "3"}) == "z=2&a=3&b=1"


# --- exoscale cs: the real client's code path ---------------------------------------------


class CapturingSession:
    """A requests.Session stand-in: records the prepared request, answers an empty list."""

    def __init__(self) -> None:
        self.sent: list[requests.PreparedRequest] = []

    def send(self, prepped: requests.PreparedRequest, **_: Any) -> requests.Response:
        self.sent.append(prepped)
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json; charset=UTF-8"
        response._content = b'{"listvirtualmachinesresponse":{}}'
        return response

    def params(self) -> dict[str, str]:
        prepped = self.sent[-1]
        if prepped.method == "GET":
            return dict(parse_qsl(urlsplit(prepped.url or "").query, keep_blank_values=True))
        body = prepped.body
        text = body.decode() if isinstance(body, bytes) else str(body)
        return dict(parse_qsl(text, keep_blank_values=True))


def cs_request(method: str = "get", **kwargs: Any) -> dict[str, str]:
    session = CapturingSession()
    client = CloudStack(
        "http://cloud.test/client/api", key=API_KEY, secret=SECRET, method=method, session=session
    )
    client.listVirtualMachines(**kwargs)
    return session.params()


CS_KWARGS: dict[str, Any] = {
    "zoneId": "a1b2c3d4-0000-0000-0000-000000000001",
    "name": "web 01*",
    "keyword": "café & co/+=",
    "tags": [{"key": "env", "value": "prod"}],
    "ids": ["a", "b"],
    "listall": True,
}


@pytest.mark.parametrize("method", ["get", "post"])
def test_exoscale_cs_signature_verifies_exactly(method: str) -> None:
    params = cs_request(method, **CS_KWARGS)
    assert params["tags[0].key"] == "env"
    assert params["ids"] == "a,b"
    assert params["signatureVersion"] == "3"
    # cs signs like the server (case-sensitive sort), so even the strict form matches.
    assert sign(params, SECRET) == params["signature"]
    assert verify(params, SECRET)
    check_expiry(params, datetime.now(UTC))


def test_exoscale_cs_expiry_is_enforced_later() -> None:
    params = cs_request(**CS_KWARGS)
    with pytest.raises(CloudStackError) as err:
        check_expiry(params, datetime.now(UTC) + timedelta(hours=1))
    assert err.value.errorcode == 401


def test_exoscale_cs_tilde_needs_the_lenient_variant() -> None:
    params = cs_request(name="~home")
    assert sign(params, SECRET) != params["signature"]  # Java would encode '~' as %7E
    assert verify(params, SECRET)


# --- libcloud: the real client's code path ------------------------------------------------


class _Captured(Exception):
    pass


class CapturingHttp:
    """Stands in for libcloud's LibcloudConnection; stops after the URL is built."""

    def __init__(self) -> None:
        self.url = ""

    def request(self, method: str, url: str, body: Any, headers: Any, stream: bool) -> None:
        self.url = url
        raise _Captured


def libcloud_request(params: dict[str, str]) -> dict[str, str]:
    conn = CloudStackConnection(API_KEY, SECRET, host="cloud.test", port=8080, secure=False)
    http = CapturingHttp()
    conn.connection = http  # type: ignore[assignment]
    with pytest.raises(_Captured):
        conn.request("/client/api", params=dict(params))
    return dict(parse_qsl(urlsplit(http.url).query, keep_blank_values=True))


def test_libcloud_signature_verifies() -> None:
    params = libcloud_request(
        {
            "command": "deployVirtualMachine",
            "zoneid": "a1b2c3d4-0000-0000-0000-000000000001",
            "displayname": "web 01",
            "details[0].cpuNumber": "2",
        }
    )
    assert params["apiKey"] == API_KEY
    assert params["response"] == "json"
    assert verify(params, SECRET)


def test_libcloud_make_signature_matches_our_lenient_form() -> None:
    conn = CloudStackConnection(API_KEY, SECRET, host="cloud.test")
    params = conn.add_default_params(
        {
            "command": "listTemplates",
            "templatefilter": "executable",
            "templateId": "t-1",
            "name": "a[1]~b",
        }
    )
    params["signature"] = conn._make_signature(dict(params)).decode()
    assert sign(params, SECRET) != params["signature"]
    assert verify(params, SECRET)


# --- an older client: camelCase names, lowercase-first sort, quote_plus -----------------------


def older_client_sign(params: dict[str, str], secret: str) -> str:
    """cloudmonkey 5.3 / marvin style signer, written from their documented behaviour."""
    import base64
    import hashlib
    import hmac

    pairs = sorted(params.items(), key=lambda kv: kv[0].lower())
    text = "&".join(f"{k}={quote_plus(v, safe='*')}" for k, v in pairs).lower().replace("+", "%20")
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_older_client_lowercase_first_sort_is_accepted() -> None:
    # 'templateId' < 'templatefilter' case-sensitively ('I' < 'f') but not lowercased.
    params = {
        "apiKey": API_KEY,
        "command": "listTemplates",
        "templatefilter": "executable",
        "templateId": "a1b2c3d4-0000-0000-0000-000000000001",
        "response": "json",
        "signatureversion": "3",
        "expires": "2030-01-01T00:00:00+0000",
    }
    params["signature"] = older_client_sign(params, SECRET)
    assert sign(params, SECRET) != params["signature"]
    assert verify(params, SECRET)
    check_expiry(params, datetime(2029, 12, 31, tzinfo=UTC))


# --- expiry ---------------------------------------------------------------------------

NOW = datetime(2029, 12, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expires",
    [
        "2030-01-01T00:00:00+0000",  # cs / cmk 5.3 (%z)
        "2030-01-01T00:00:00Z",  # cloudstack-go RFC3339
        "2030-01-01T01:00:00+01:00",  # ISO offset
        "2030-01-01T00:00:00.123456Z",  # ISO instant with fraction
        "2030-01-01T00:00:00.123456+0000",  # .SSSSSSZ
        "2030-01-01T00:00:00.123+00:00",
        "2030-01-01T00:00:00Z+0000",  # legacy 'Z'Z
        "2030-01-01T00:00+00:00",  # ISO time without seconds
    ],
)
def test_expiry_accepts_all_formats(expires: str) -> None:
    check_expiry({"signatureVersion": "3", "expires": expires}, NOW)


@pytest.mark.parametrize(
    "params",
    [
        {"signatureVersion": "3"},
        {"signatureVersion": "3", "expires": "tomorrow"},
        {"signatureVersion": "3", "expires": "2030-01-01 00:00:00"},
        {"signatureVersion": "3", "expires": "2030-13-01T00:00:00Z"},
        {"signatureVersion": "3", "expires": "2029-12-31T22:59:59+0000"},
        {"SIGNATUREVERSION": "3", "Expires": "2020-01-01T00:00:00Z"},
    ],
)
def test_expiry_rejections_are_401_without_cserrorcode(params: dict[str, str]) -> None:
    with pytest.raises(CloudStackError) as err:
        check_expiry(params, NOW)
    assert err.value.errorcode == 401
    assert err.value.cserrorcode is None
    assert err.value.errortext == AUTH_FAILED_TEXT


def test_expiry_not_checked_without_version_3() -> None:
    check_expiry({"expires": "2000-01-01T00:00:00Z"}, NOW)
    check_expiry({"signatureVersion": "2", "expires": "garbage"}, NOW)
    check_expiry({}, NOW)


def test_expiry_naive_now_is_utc_and_max_ahead() -> None:
    params = {"signatureversion": "3", "expires": "2030-01-01T00:00:00Z"}
    check_expiry(params, NOW.replace(tzinfo=None))
    check_expiry(params, NOW, max_ahead=timedelta(minutes=60))
    with pytest.raises(CloudStackError):
        check_expiry(params, NOW, max_ahead=timedelta(minutes=15))


def test_module_exports() -> None:
    assert signature.supplied_signature({"SIGNATURE": "x"}) == "x"
    assert signature.supplied_signature({}) is None
