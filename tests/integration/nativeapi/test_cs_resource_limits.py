"""updateResourceLimit / listResourceLimits and their enforcement (errorcode 535)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.integration.nativeapi.clients import cs_client
from tests.integration.nativeapi.conftest import Catalog, User
from tests.integration.nativeapi.errors import type_errors


def _err(exc: pytest.ExceptionInfo[CloudStackApiException]) -> dict[str, Any]:
    body: dict[str, Any] = exc.value.error
    return body


def _account(cs: CloudStack, name: str, domain_id: str | None = None,
             accounttype: int = 0) -> dict[str, Any]:
    extra = {"domainid": domain_id} if domain_id else {}
    return cs.createAccount(username=name, password="s3cret!", firstname="A",  # type: ignore[no-any-return]
                            lastname="B", email=f"{name}@example.org", accounttype=accounttype,
                            **extra)["account"]


def _client_of(server: Any, cs: CloudStack, account: dict[str, Any]) -> CloudStack:
    keys = cs.getUserKeys(id=account["user"][0]["id"])["userkeys"]
    return cs_client(server, keys["apikey"], keys["secretkey"], fetch_result=True)


def _limit(client: CloudStack, rtype: int, **owner: Any) -> int:
    rows = client.listResourceLimits(resourcetype=rtype, **owner)["resourcelimit"]
    assert len(rows) == 1
    return int(rows[0]["max"])


def test_update_then_list_reads_the_stored_account_limit(cs: CloudStack, cs_user: CloudStack,
                                                         user: User) -> None:
    me = cs_user.listAccounts()["account"][0]
    row = cs.updateResourceLimit(resourcetype=2, account=user.name, domainid=me["domainid"],
                                 max=7)["resourcelimit"]
    assert (row["resourcetype"], row["resourcetypename"], row["max"]) == ("2", "volume", 7)
    assert row["account"] == user.name and type_errors("updateResourceLimit", row) == []
    assert _limit(cs_user, 2) == 7
    assert _limit(cs, 2, account=user.name, domainid=me["domainid"]) == 7
    # Without a row: the global default (max.account.volumes is -1 here).
    assert _limit(cs_user, 3) == -1
    # max omitted means unlimited again.
    cs.updateResourceLimit(resourcetype=2, account=user.name, domainid=me["domainid"])
    assert _limit(cs_user, 2) == -1


def test_users_may_not_update_limits(cs_user: CloudStack, user: User) -> None:
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.updateResourceLimit(resourcetype=0, max=100)
    assert (_err(exc)["errorcode"], _err(exc)["cserrorcode"]) == (531, 4365)


def test_bad_resource_type_is_431(cs: CloudStack) -> None:
    with pytest.raises(CloudStackApiException) as exc:
        cs.updateResourceLimit(resourcetype=42, max=1, domainid=cs.listDomains()["domain"][0]["id"])
    assert _err(exc)["errorcode"] == 431


def test_domain_limits_root_admin_only_and_domain_admin_sets_accounts(
        server: Any, cs: CloudStack) -> None:
    domain = cs.createDomain(name=f"rl-{uuid.uuid4().hex[:6]}")["domain"]
    dadmin = _account(cs, f"da-{uuid.uuid4().hex[:6]}", domain["id"], accounttype=2)
    plain = _account(cs, f"pl-{uuid.uuid4().hex[:6]}", domain["id"])
    da = _client_of(server, cs, dadmin)
    with pytest.raises(CloudStackApiException) as exc:
        da.updateResourceLimit(resourcetype=0, domainid=domain["id"], max=5)
    assert _err(exc)["errorcode"] == 531
    row = da.updateResourceLimit(resourcetype=0, account=plain["name"], domainid=domain["id"],
                                 max=3)["resourcelimit"]
    assert row["max"] == 3
    dom = cs.updateResourceLimit(resourcetype=0, domainid=domain["id"], max=5)["resourcelimit"]
    assert dom["max"] == 5 and "account" not in dom
    assert _limit(cs, 0, domainid=domain["id"]) == 5
    assert _limit(da, 0, account=plain["name"], domainid=domain["id"]) == 3


def test_vm_limit_enforced_with_535_text(server: Any, cs: CloudStack, catalog: Catalog) -> None:
    acct = _account(cs, f"vm-{uuid.uuid4().hex[:6]}")
    client = _client_of(server, cs, acct)
    cs.updateResourceLimit(resourcetype=0, account=acct["name"], domainid=acct["domainid"], max=1)
    client.deployVirtualMachine(**catalog.args(startvm=False))
    with pytest.raises(CloudStackApiException) as exc:
        client.deployVirtualMachine(**catalog.args(startvm=False))
    err = _err(exc)
    assert (err["errorcode"], err["cserrorcode"]) == (535, 4370)
    assert err["errortext"] == (
        f"Maximum number of resources of type 'user_vm' for account name={acct['name']} "
        f"in domain id={acct['domainid']} has been exceeded.")
    assert len(client.listVirtualMachines()["virtualmachine"]) == 1  # nothing leaked


def test_cpu_and_memory_limits(server: Any, cs: CloudStack, catalog: Catalog) -> None:
    acct = _account(cs, f"cpu-{uuid.uuid4().hex[:6]}")
    client = _client_of(server, cs, acct)
    owner = {"account": acct["name"], "domainid": acct["domainid"]}
    cs.updateResourceLimit(resourcetype=8, max=0, **owner)
    with pytest.raises(CloudStackApiException) as exc:
        client.deployVirtualMachine(**catalog.args(startvm=False))
    assert "type 'cpu'" in _err(exc)["errortext"] and _err(exc)["errorcode"] == 535
    cs.updateResourceLimit(resourcetype=8, max=-1, **owner)
    cs.updateResourceLimit(resourcetype=9, max=1, **owner)
    with pytest.raises(CloudStackApiException) as exc:
        client.deployVirtualMachine(**catalog.args(startvm=False))
    assert "type 'memory'" in _err(exc)["errortext"]
    assert client.listVirtualMachines() == {}


def test_volume_and_primary_storage_limits(server: Any, cs: CloudStack, catalog: Catalog) -> None:
    acct = _account(cs, f"vol-{uuid.uuid4().hex[:6]}")
    client = _client_of(server, cs, acct)
    owner = {"account": acct["name"], "domainid": acct["domainid"]}
    offering = next(o for o in cs.listDiskOfferings()["diskoffering"] if o["disksize"] > 0)
    cs.updateResourceLimit(resourcetype=2, max=1, **owner)
    client.createVolume(name="one", zoneid=catalog.zone_id, diskofferingid=offering["id"])
    with pytest.raises(CloudStackApiException) as exc:
        client.createVolume(name="two", zoneid=catalog.zone_id, diskofferingid=offering["id"])
    assert "type 'volume'" in _err(exc)["errortext"] and _err(exc)["errorcode"] == 535
    cs.updateResourceLimit(resourcetype=2, max=-1, **owner)
    cs.updateResourceLimit(resourcetype=10, max=offering["disksize"], **owner)
    with pytest.raises(CloudStackApiException) as exc:
        client.createVolume(name="three", zoneid=catalog.zone_id, diskofferingid=offering["id"])
    assert "type 'primary_storage'" in _err(exc)["errortext"]
    assert len(client.listVolumes()["volume"]) == 1


def test_public_ip_limit(server: Any, cs: CloudStack, catalog: Catalog) -> None:
    acct = _account(cs, f"ip-{uuid.uuid4().hex[:6]}")
    client = _client_of(server, cs, acct)
    cs.updateResourceLimit(resourcetype=1, max=0, account=acct["name"],
                           domainid=acct["domainid"])
    with pytest.raises(CloudStackApiException) as exc:
        client.associateIpAddress(zoneid=catalog.zone_id)
    assert "type 'public_ip'" in _err(exc)["errortext"] and _err(exc)["errorcode"] == 535


def test_domain_limit_counts_every_account_below(server: Any, cs: CloudStack,
                                                 catalog: Catalog) -> None:
    domain = cs.createDomain(name=f"rd-{uuid.uuid4().hex[:6]}")["domain"]
    a = _client_of(server, cs, _account(cs, f"a-{uuid.uuid4().hex[:6]}", domain["id"]))
    b = _client_of(server, cs, _account(cs, f"b-{uuid.uuid4().hex[:6]}", domain["id"]))
    cs.updateResourceLimit(resourcetype=0, domainid=domain["id"], max=1)
    a.deployVirtualMachine(**catalog.args(startvm=False))
    with pytest.raises(CloudStackApiException) as exc:
        b.deployVirtualMachine(**catalog.args(startvm=False))
    assert _err(exc)["errortext"] == (
        f"Maximum number of resources of type 'user_vm' for domain id={domain['id']} "
        "has been exceeded.")


def test_concurrent_deploys_cannot_both_take_the_last_slot(server: Any, cs: CloudStack,
                                                            catalog: Catalog) -> None:
    acct = _account(cs, f"race-{uuid.uuid4().hex[:6]}")
    cs.updateResourceLimit(resourcetype=0, max=2, account=acct["name"],
                           domainid=acct["domainid"])
    outcomes: list[str] = []

    def deploy() -> None:
        client = _client_of(server, cs, acct)
        try:
            client.deployVirtualMachine(**catalog.args(startvm=False))
            outcomes.append("ok")
        except CloudStackApiException as exc:
            outcomes.append(str(exc.error["errorcode"]))

    threads = [threading.Thread(target=deploy) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["535"] * 3 + ["ok"] * 2, outcomes
    client = _client_of(server, cs, acct)
    assert len(client.listVirtualMachines()["virtualmachine"]) == 2
