"""login / logout and calls authenticated by a session instead of an API key."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from cs import CloudStack

from engine.runtime import Runtime
from nativeapi import registry


def _login(server: Any, username: str = "admin", password: str = "password",
           **extra: str) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    response = http.post(server.cloudstack_url, timeout=10, data={
        "command": "login", "username": username, "password": password, "response": "json",
        **extra})
    return http, response


def _call(http: requests.Session, server: Any, command: str, key: str | None,
          **params: str) -> requests.Response:
    data = {"command": command, "response": "json", **params}
    if key is not None:
        data["sessionkey"] = key
    return http.post(server.cloudstack_url, data=data, timeout=10)


def test_login_sets_cookies_and_returns_the_flat_response(server: Any) -> None:
    http, response = _login(server)
    assert response.status_code == 200
    body = response.json()["loginresponse"]
    assert body["username"] == "admin" and body["account"] == "admin"
    assert body["type"] == "1" and body["registered"] == "false"
    assert body["timeout"] == 1800 and body["is2faenabled"] == "false"
    assert registry.response_type_errors(registry.metadata("login"), body) == []
    assert http.cookies["sessionkey"] == body["sessionkey"]
    assert http.cookies["JSESSIONID"]
    cookies = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookies and "SameSite=Lax" in cookies


def test_session_calls_need_parameter_and_cookie(server: Any) -> None:
    http, response = _login(server)
    key = response.json()["loginresponse"]["sessionkey"]
    ok = _call(http, server, "listZones", key)
    assert ok.status_code == 200 and ok.json()["listzonesresponse"]["count"] >= 1
    # Default api.sessionkey.check.locations=CookieAndParameter: both, and equal.
    assert _call(http, server, "listZones", None).status_code == 401
    assert _call(requests.Session(), server, "listZones", key).status_code == 401
    assert _call(http, server, "listZones", key[:-2] + "xx").status_code == 401
    forged = requests.Session()
    forged.cookies.set("sessionkey", key[:-2] + "xx")
    assert _call(forged, server, "listZones", key[:-2] + "xx").status_code == 401
    # GET works too once logged in (only login itself must be a POST).
    got = http.get(server.cloudstack_url, timeout=10,
                   params={"command": "listZones", "response": "json", "sessionkey": key})
    assert got.status_code == 200


def test_login_refusals(server: Any) -> None:
    get = requests.get(server.cloudstack_url, timeout=10, params={
        "command": "login", "username": "admin", "password": "password", "response": "json"})
    assert get.status_code == 405
    assert get.json()["loginresponse"]["errorcode"] == 405
    _, bad = _login(server, password="wrong")
    assert bad.status_code == 531
    error = bad.json()["loginresponse"]
    assert error["errorcode"] == 531 and "sessionkey" not in bad.cookies
    _, nobody = _login(server, username=f"nobody-{uuid.uuid4().hex[:6]}")
    assert nobody.status_code == 531
    _, missing = _login(server, password="")
    assert missing.status_code in (431, 531)


def test_logout_ends_the_session(server: Any) -> None:
    http, response = _login(server)
    key = response.json()["loginresponse"]["sessionkey"]
    out = _call(http, server, "logout", key)
    assert out.status_code == 200
    assert out.json() == {"logoutresponse": {"description": "success"}}
    assert "sessionkey" not in http.cookies
    again = requests.Session()
    again.cookies.set("sessionkey", key)
    assert _call(again, server, "listZones", key).status_code == 401


def test_any_server_process_accepts_the_key(server: Any) -> None:
    _, response = _login(server)
    key = response.json()["loginresponse"]["sessionkey"]
    other = Runtime(server.runtime.config)  # another process on the same database
    try:
        with other.unit(readonly=True) as services:
            principal = services.accounts.resume_session(key)
            assert principal is not None and principal.user_name == "admin"
            assert services.accounts.resume_session(key + "x") is None
            user, expiry, nonce, mac = key.split(".")
            assert services.accounts.resume_session(
                f"{user}.{int(expiry) + 3600}.{nonce}.{mac}") is None
    finally:
        other.shutdown()


def test_user_sessions_are_scoped_like_keys(server: Any, cs: CloudStack) -> None:
    domain = cs.createDomain(name=f"sess-{uuid.uuid4().hex[:6]}")["domain"]
    name = f"sess-{uuid.uuid4().hex[:8]}"
    account = cs.createAccount(username=name, password="pa55", firstname="S", lastname="U",
                               email="s@example.org", domainid=domain["id"])["account"]
    http, response = _login(server, username=name, password="pa55",
                             domain=f"/ROOT/{domain['name']}/")
    assert response.status_code == 200
    body = response.json()["loginresponse"]
    assert body["type"] == "0" and body["domainid"] == domain["id"]
    key = body["sessionkey"]
    mine = _call(http, server, "listAccounts", key).json()["listaccountsresponse"]
    assert [a["id"] for a in mine["account"]] == [account["id"]]
    denied = _call(http, server, "listHosts", key)
    assert denied.status_code == 531
    _, wrong_domain = _login(server, username=name, password="pa55", domain="/ROOT/other/")
    assert wrong_domain.status_code == 531
    _, by_id = _login(server, username=name, password="pa55", domainId=domain["id"])
    assert by_id.status_code == 200
    # A disabled account's sessions stop (within the short cache time) and it cannot log in.
    cs.disableAccount(id=account["id"], lock=True)
    _, refused = _login(server, username=name, password="pa55")
    assert refused.status_code == 531
    cs.deleteDomain(id=domain["id"], cleanup=True)
