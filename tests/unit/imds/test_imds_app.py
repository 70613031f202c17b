"""The metadata endpoint's request checks that need no database."""

from __future__ import annotations

from flask import Flask

import imds.app
from imds.app import is_local, parse_ttl


def test_only_direct_loopback_callers_are_local() -> None:
    assert is_local("127.0.0.1", {})
    assert is_local("127.8.9.10", {})
    assert is_local("::1", {})
    assert not is_local("10.0.0.5", {})
    assert not is_local("169.254.169.254", {})
    assert not is_local("", {})
    assert not is_local(None, {})
    assert not is_local("garbage", {})
    assert not is_local("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"})
    assert not is_local("127.0.0.1", {"Forwarded": "for=203.0.113.9"})
    assert not is_local("127.0.0.1", {"Via": "1.1 proxy"})


def test_token_lifetimes() -> None:
    assert parse_ttl("1") == 1
    assert parse_ttl("21600") == 21600
    assert parse_ttl(" 60 ") == 60
    for bad in (None, "", "0", "21601", "-1", "1.5", "abc", "6e2"):
        assert parse_ttl(bad) is None, bad


def _client():  # type: ignore[no-untyped-def]
    app = Flask("t")
    imds.app.init_app(app, runtime=None)  # type: ignore[arg-type]  # checks come first
    return app.test_client()


def test_remote_callers_are_forbidden_before_anything_else() -> None:
    client = _client()
    remote = {"REMOTE_ADDR": "198.51.100.7"}
    got = client.get("/imds/i-0123456789abcdef0/latest/meta-data/", environ_base=remote)
    assert got.status_code == 403
    got = client.put("/imds/i-0123456789abcdef0/latest/api/token", environ_base=remote,
                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert got.status_code == 403


def test_malformed_ids_wrong_methods_and_bad_ttls_need_no_lookup() -> None:
    client = _client()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/imds/not-an-id/latest/", environ_base=local).status_code == 404
    base = "/imds/i-0123456789abcdef0/"
    assert client.get(base + "latest/api/token", environ_base=local).status_code == 405
    assert client.put(base + "latest/meta-data/", environ_base=local).status_code == 405
    got = client.put(base + "latest/api/token", environ_base=local,
                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "0"})
    assert got.status_code == 400
    assert got.content_type.startswith("text/html")
    assert client.post(base + "latest/", environ_base=local).status_code == 405
