"""Domains, accounts, users and API keys through the CloudStack API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from nativeapi import registry
from tests.integration.nativeapi.clients import cs_client


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def _conforms(command: str, item: dict[str, Any]) -> list[str]:
    return registry.response_type_errors(registry.metadata(command), item)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _new_account(cs: CloudStack, **extra: Any) -> dict[str, Any]:
    name = _name("acct")
    params = {"username": name, "password": "s3cret!", "firstname": "Ada",
              "lastname": "Lovelace", "email": f"{name}@example.org", "accounttype": 0,
              **extra}
    return cs.createAccount(**params)["account"]  # type: ignore[no-any-return]


def _client_of(server: Any, cs: CloudStack, user_id: str) -> CloudStack:
    keys = cs.getUserKeys(id=user_id)["userkeys"]
    return cs_client(server, keys["apikey"], keys["secretkey"], fetch_result=True)


def test_domains_tree(cs: CloudStack) -> None:
    parent = cs.createDomain(name=_name("dom"))["domain"]
    child = cs.createDomain(name="child", parentdomainid=parent["id"])["domain"]
    assert parent["path"] == f"ROOT/{parent['name']}" and parent["level"] == 1
    assert child["path"] == f"ROOT/{parent['name']}/child" and child["level"] == 2
    assert child["parentdomainid"] == parent["id"] and child["haschild"] is False
    assert _conforms("createDomain", child) == []
    listed = {d["id"]: d for d in cs.listDomains(listall=True)["domain"]}
    assert listed[parent["id"]]["haschild"] is True and child["id"] in listed
    # Without listall an admin sees its own domain only.
    assert [d["path"] for d in cs.listDomains()["domain"]] == ["ROOT"]
    assert cs.listDomains(id=child["id"])["domain"][0]["name"] == "child"
    assert _error(cs.createDomain, name="child", parentdomainid=parent["id"])[
        "errorcode"] == 431
    assert _error(cs.deleteDomain, id=parent["id"])["errorcode"] == 536  # has a child
    account = _new_account(cs, domainid=child["id"])
    assert account["domainpath"] == child["path"]
    assert _error(cs.deleteDomain, id=child["id"])["errorcode"] == 536  # has an account
    assert cs.deleteDomain(id=parent["id"], cleanup=True)["success"] is True
    assert _error(cs.listDomains, id=child["id"])["errorcode"] == 431
    assert _error(cs.listAccounts, id=account["id"])["errorcode"] == 431


def test_create_and_list_accounts_and_users(cs: CloudStack) -> None:
    domain = cs.createDomain(name=_name("dom"))["domain"]
    account = _new_account(cs, domainid=domain["id"], account="team-a")
    assert account["name"] == "team-a" and account["accounttype"] == 0
    assert (account["roletype"], account["state"]) == ("User", "enabled")
    assert account["vmtotal"] == 0 and account["vmlimit"] == "Unlimited"
    first = account["user"][0]
    assert first["firstname"] == "Ada" and first["account"] == "team-a"
    assert first["apikey"].startswith("AKIA") and "secretkey" not in first
    assert _conforms("createAccount", account) == []
    assert _conforms("listUsers", first) == []
    second = cs.createUser(account="team-a", domainid=domain["id"], username=_name("u2"),
                           password="pw", firstname="Bob", lastname="B",
                           email="b@example.org")["user"]
    assert second["accountid"] == account["id"]
    users = cs.listUsers(account="team-a", domainid=domain["id"])["user"]
    assert {u["id"] for u in users} == {first["id"], second["id"]}
    # Accounts of another domain show with domainid (or listall), not by default.
    assert account["id"] not in {a["id"] for a in cs.listAccounts().get("account", [])}
    assert cs.listAccounts(domainid=domain["id"])["account"][0]["id"] == account["id"]
    assert account["id"] in {a["id"] for a in cs.listAccounts(listall=True)["account"]}
    assert cs.listAccounts(id=account["id"])["account"][0]["user"][1]["id"] == second["id"]
    admins = cs.listAccounts(accounttype=1)["account"]
    assert [a["name"] for a in admins] == ["admin"]
    assert _error(cs.createAccount, username=first["username"], password="x", firstname="a",
                  lastname="b", email="c")["errorcode"] == 431  # username taken
    assert _error(cs.createAccount, username=_name("u"), password="x", firstname="a",
                  lastname="b", email="c", accounttype=7)["errorcode"] == 431
    cs.deleteDomain(id=domain["id"], cleanup=True)


def test_role_by_id_and_domain_admin(server: Any, cs: CloudStack) -> None:
    admin_account = cs.listAccounts(name="admin")["account"][0]
    assert admin_account["accounttype"] == 1 and admin_account["rolename"] == "Root Admin"
    domain = cs.createDomain(name=_name("dom"))["domain"]
    dadmin = _new_account(cs, accounttype=2, domainid=domain["id"])
    assert dadmin["roletype"] == "DomainAdmin"
    same_role = _new_account(cs, roleid=dadmin["roleid"], domainid=domain["id"])
    assert same_role["accounttype"] == 2
    # A domain admin sees the accounts of its domain, and nothing above it.
    client = _client_of(server, cs, dadmin["user"][0]["id"])
    seen = {a["id"] for a in client.listAccounts(listall=True)["account"]}
    assert seen == {dadmin["id"], same_role["id"]}
    assert _error(client.listDomains, id=admin_account["domainid"])["errorcode"] == 431
    cs.deleteDomain(id=domain["id"], cleanup=True)


def test_users_see_only_themselves_and_cannot_administer(
        server: Any, cs: CloudStack, catalog: Any) -> None:
    alice = _new_account(cs)
    bob = _new_account(cs)
    as_alice = _client_of(server, cs, alice["user"][0]["id"])
    as_bob = _client_of(server, cs, bob["user"][0]["id"])
    assert [a["id"] for a in as_alice.listAccounts(listall=True)["account"]] == [alice["id"]]
    assert [u["id"] for u in as_alice.listUsers(listall=True)["user"]] == [
        alice["user"][0]["id"]]
    assert [d["path"] for d in as_alice.listDomains(listall=True)["domain"]] == ["ROOT"]
    assert _error(as_alice.getUserKeys, id=bob["user"][0]["id"])["errorcode"] == 431
    assert _error(as_alice.registerUserKeys, id=bob["user"][0]["id"])["errorcode"] == 431
    for call, params in ((as_alice.createAccount, {"username": "x", "password": "x",
                                                   "firstname": "x", "lastname": "x",
                                                   "email": "x"}),
                         (as_alice.deleteAccount, {"id": bob["id"]}),
                         (as_alice.disableAccount, {"id": bob["id"], "lock": False}),
                         (as_alice.createDomain, {"name": "x"}),
                         (as_alice.createUser, {"account": bob["name"], "username": "x",
                                                "password": "x", "firstname": "x",
                                                "lastname": "x", "email": "x"})):
        assert _error(call, **params)["errorcode"] == 531
    vm = as_bob.deployVirtualMachine(**catalog.args())["virtualmachine"]
    try:
        assert as_alice.listVirtualMachines(listall=True) == {}
        assert _error(as_alice.listVirtualMachines, id=vm["id"])["errorcode"] == 431
        # An account that still owns a VM cannot be deleted.
        assert _error(cs.deleteAccount, id=bob["id"])["errorcode"] == 536
        assert cs.listAccounts(id=bob["id"])["account"][0]["vmrunning"] == 1
    finally:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert cs.deleteAccount(id=bob["id"])["success"] is True
    assert _error(cs.listAccounts, id=bob["id"])["errorcode"] == 431
    cs.deleteAccount(id=alice["id"])


def test_register_user_keys_work_for_both_apis(server: Any, cs: CloudStack) -> None:
    account = _new_account(cs)
    user_id = account["user"][0]["id"]
    old = cs.getUserKeys(id=user_id)["userkeys"]
    assert old["apikey"] == account["user"][0]["apikey"]
    # The user rotates its own keys: the new ones sign both APIs, the old ones stop.
    fresh = _client_of(server, cs, user_id).registerUserKeys(id=user_id)["userkeys"]
    assert fresh["apikey"] != old["apikey"] and fresh["secretkey"]
    assert _conforms("registerUserKeys", fresh) == []
    me = cs_client(server, fresh["apikey"], fresh["secretkey"])
    assert me.listAccounts()["account"][0]["id"] == account["id"]
    ec2 = server.ec2(fresh["apikey"], fresh["secretkey"])
    assert ec2.describe_instances()["Reservations"] == []
    time.sleep(5.2)  # credential caches keep a key for 5 seconds
    with pytest.raises(CloudStackApiException) as err:
        cs_client(server, old["apikey"], old["secretkey"]).listAccounts()
    assert err.value.error["errorcode"] == 401
    cs.deleteAccount(id=account["id"])


def test_disable_lock_enable_account(server: Any, cs: CloudStack) -> None:
    account = _new_account(cs)
    keys = cs.getUserKeys(id=account["user"][0]["id"])["userkeys"]
    disabled = cs.disableAccount(id=account["id"], lock=False)["account"]
    assert disabled["state"] == "disabled"
    with pytest.raises(CloudStackApiException) as err:  # keys not used before: not cached
        cs_client(server, keys["apikey"], keys["secretkey"]).listZones()
    assert err.value.error["errorcode"] == 401
    locked = cs.lockAccount(account=account["name"], domainid=account["domainid"])["account"]
    assert locked["state"] == "locked"
    assert cs.listAccounts(id=account["id"], state="locked")["count"] == 1
    enabled = cs.enableAccount(account=account["name"], domainid=account["domainid"])
    assert enabled["account"]["state"] == "enabled"
    me = cs.listAccounts(name="admin")["account"][0]
    assert _error(cs.disableAccount, id=me["id"], lock=True)["errorcode"] == 531  # itself
    assert _error(cs.enableAccount)["errorcode"] == 431
    cs.deleteAccount(id=account["id"])
