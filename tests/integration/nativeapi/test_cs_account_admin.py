"""Account administration through the CloudStack API: updating accounts, users and
domains, user state, roles, resource limits."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from cs import CloudStack

from tests.integration.nativeapi.clients import cs_client
from tests.integration.nativeapi.errors import api_error, type_errors


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _new_account(cs: CloudStack, **extra: Any) -> dict[str, Any]:
    name = _name("acct")
    return cs.createAccount(username=name, password="s3cret!", firstname="Ada",  # type: ignore[no-any-return]
                            lastname="Lovelace", email=f"{name}@example.org", accounttype=0,
                            **extra)["account"]


def _client(server: Any, cs: CloudStack, user_id: str) -> CloudStack:
    keys = cs.getUserKeys(id=user_id)["userkeys"]
    return cs_client(server, keys["apikey"], keys["secretkey"], fetch_result=True)


def test_update_account_renames_and_changes_role(cs: CloudStack) -> None:
    account = _new_account(cs)
    new_name = _name("renamed")
    updated = cs.updateAccount(id=account["id"], newname=new_name)["account"]
    assert updated["name"] == new_name and updated["id"] == account["id"]
    assert type_errors("updateAccount", updated) == []
    roles = {r["type"]: r["id"] for r in cs.listRoles()["role"]}
    promoted = cs.updateAccount(account=new_name, domainid=account["domainid"],
                                roleid=roles["DomainAdmin"])["account"]
    assert promoted["roletype"] == "DomainAdmin" and promoted["accounttype"] == 2
    other = _new_account(cs)
    assert api_error(cs.updateAccount, id=other["id"], newname=new_name)["errorcode"] == 431
    assert api_error(cs.updateAccount, id=account["id"],
                     roleid=str(uuid.uuid4()))["errorcode"] == 431


def test_update_domain_renames_subtree(cs: CloudStack) -> None:
    parent = cs.createDomain(name=_name("dom"))["domain"]
    child = cs.createDomain(name="kid", parentdomainid=parent["id"])["domain"]
    new_name = _name("moved")
    updated = cs.updateDomain(id=parent["id"], name=new_name)["domain"]
    assert updated["name"] == new_name and updated["path"] == f"ROOT/{new_name}"
    assert type_errors("updateDomain", updated) == []
    assert cs.listDomains(id=child["id"])["domain"][0]["path"] == f"ROOT/{new_name}/kid"
    root = cs.listDomains()["domain"][0]
    assert api_error(cs.updateDomain, id=root["id"], name="x")["errorcode"] == 531


def test_user_lifecycle(server: Any, cs: CloudStack) -> None:
    account = _new_account(cs)
    first = account["user"][0]
    second = cs.createUser(account=account["name"], domainid=account["domainid"],
                           username=_name("u2"), password="pw2", firstname="B",
                           lastname="C", email="b@example.org")["user"]
    by_key = cs.getUser(userapikey=second["apikey"])["user"]
    assert by_key["id"] == second["id"] and type_errors("getUser", by_key) == []
    assert api_error(cs.getUser, userapikey="no-such-key")["errorcode"] == 431

    disabled = cs.disableUser(id=second["id"])["user"]
    assert disabled["state"] == "disabled" and disabled["id"] == second["id"]
    listed = cs.listUsers(id=second["id"])["user"][0]
    assert listed["state"] == "disabled"
    enabled = cs.enableUser(id=second["id"])["user"]
    assert enabled["state"] == "enabled" and type_errors("enableUser", enabled) == []

    updated = cs.updateUser(id=second["id"], firstname="Grace", email="g@example.org")["user"]
    assert updated["firstname"] == "Grace" and updated["email"] == "g@example.org"
    assert api_error(cs.updateUser, id=second["id"],
                     username=first["username"])["errorcode"] == 431

    assert cs.deleteUser(id=second["id"])["success"] is True
    assert cs.listUsers(id=second["id"], listall=True).get("user", []) == []
    assert api_error(cs.deleteUser, id=second["id"])["errorcode"] == 431
    _client(server, cs, first["id"]).listZones()  # the account's other user still works
    # The disable job of a deleted user still lists (without its object).
    jobs = cs.listAsyncJobs(listall=True)["asyncjobs"]
    assert any(j.get("jobinstanceid") == second["id"] for j in jobs)


def test_admin_cannot_disable_or_delete_itself(cs: CloudStack) -> None:
    me = cs.listUsers(username="admin")["user"][0]
    assert api_error(cs.disableUser, id=me["id"])["errorcode"] == 531
    assert api_error(cs.deleteUser, id=me["id"])["errorcode"] == 531


def test_user_updates_only_itself(server: Any, cs: CloudStack, cs_user: CloudStack) -> None:
    me = cs_user.listUsers()["user"][0]
    changed = cs_user.updateUser(id=me["id"], lastname="Hopper")["user"]
    assert changed["lastname"] == "Hopper"
    # A new password needs the current one.
    err = api_error(cs_user.updateUser, id=me["id"], password="new", currentpassword="wrong")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert api_error(cs_user.updateUser, id=me["id"], password="new")["errorcode"] == 431
    other = _new_account(cs)["user"][0]
    assert api_error(cs_user.updateUser, id=other["id"], lastname="X")["errorcode"] == 431
    for call, params in ((cs_user.deleteUser, {"id": other["id"]}),
                         (cs_user.enableUser, {"id": other["id"]}),
                         (cs_user.getUser, {"userapikey": "k"}),
                         (cs_user.updateAccount, {"id": me["accountid"], "newname": "x"}),
                         (cs_user.updateDomain, {"id": me["domainid"], "name": "x"})):
        assert api_error(call, **params)["errorcode"] == 531


def test_password_change_with_current_password(server: Any, cs: CloudStack) -> None:
    account = _new_account(cs)
    user = account["user"][0]
    client = _client(server, cs, user["id"])
    client.updateUser(id=user["id"], password="n3w!", currentpassword="s3cret!")

    def login(password: str) -> int:
        return requests.post(server.cloudstack_url, timeout=10, data={
            "command": "login", "username": user["username"], "password": password,
            "response": "json"}).status_code

    assert login("n3w!") == 200 and login("s3cret!") != 200


def test_list_roles(cs: CloudStack, cs_user: CloudStack) -> None:
    roles = cs.listRoles()
    assert roles["count"] == 3
    assert {r["type"] for r in roles["role"]} == {"Admin", "DomainAdmin", "User"}
    for r in roles["role"]:
        assert type_errors("listRoles", r) == []
    assert [r["type"] for r in cs.listRoles(type="User")["role"]] == ["User"]
    assert [r["type"] for r in cs_user.listRoles()["role"]] == ["User"]
    # The ids are the ones accounts carry.
    me = cs_user.listAccounts()["account"][0]
    assert cs_user.listRoles()["role"][0]["id"] == me["roleid"]


def test_resource_limits_report_enforced_settings(cs: CloudStack, cs_user: CloudStack,
                                                  user: Any) -> None:
    settings = {c["name"]: c["value"] for c in cs.listConfigurations()["configuration"]}
    limits = cs_user.listResourceLimits()
    assert limits["count"] == 12
    by_type = {r["resourcetype"]: r for r in limits["resourcelimit"]}
    assert by_type["0"]["resourcetypename"] == "user_vm"
    assert by_type["0"]["max"] == int(settings["max.account.user.vms"])
    assert by_type["1"]["max"] == int(settings["max.account.public.ips"])
    assert by_type["2"]["max"] == -1
    assert by_type["0"]["account"] == user.name
    for r in limits["resourcelimit"]:
        assert type_errors("listResourceLimits", r) == []
    one = cs_user.listResourceLimits(resourcetype=1)["resourcelimit"]
    assert [r["resourcetypename"] for r in one] == ["public_ip"]
    by_name = cs_user.listResourceLimits(resourcetypename="user_vm")["resourcelimit"]
    assert [r["resourcetype"] for r in by_name] == ["0"]
    assert api_error(cs_user.listResourceLimits, resourcetype=99)["errorcode"] == 431
    # Admins may ask for another account's limits; users may not.
    other = _new_account(cs)
    theirs = cs.listResourceLimits(account=other["name"], domainid=other["domainid"])
    assert {r["account"] for r in theirs["resourcelimit"]} == {other["name"]}
    assert api_error(cs_user.listResourceLimits, account=other["name"],
                     domainid=other["domainid"])["errorcode"] == 431
