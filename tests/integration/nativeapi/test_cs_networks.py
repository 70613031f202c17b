"""Guest networks and network offerings through the CloudStack API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.nativeapi.errors import api_error, type_errors


@pytest.fixture
def c(user: Any, make_cs: Any) -> CloudStack:
    return make_cs(user.key, user.secret, fetch_result=True)  # type: ignore[no-any-return]


def _isolated(c: CloudStack) -> dict[str, Any]:
    return c.listNetworkOfferings(  # type: ignore[no-any-return]
        name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]


def test_default_offerings_are_listed_with_their_services(c: CloudStack) -> None:
    listed = c.listNetworkOfferings()
    names = {o["name"] for o in listed["networkoffering"]}
    assert {"DefaultSharedNetworkOffering", "DefaultSharedNetworkOfferingWithSGService",
            "DefaultIsolatedNetworkOfferingWithSourceNatService",
            "DefaultIsolatedNetworkOffering"} <= names
    iso = _isolated(c)
    assert type_errors("listNetworkOfferings", iso) == []
    assert iso["guestiptype"] == "Isolated" and iso["isdefault"] is True
    assert iso["state"] == "Enabled" and iso["availability"] == "Required"
    services = {s["name"]: s["provider"][0]["name"] for s in iso["service"]}
    assert services["SourceNat"] == "VirtualRouter" and "PortForwarding" in services
    assert c.listNetworkOfferings(guestiptype="shared")["count"] >= 2
    found = c.listNetworkOfferings(supportedservices="SourceNat,PortForwarding")
    assert "DefaultIsolatedNetworkOfferingWithSourceNatService" in {
        o["name"] for o in found["networkoffering"]}
    assert "DefaultSharedNetworkOffering" not in {o["name"] for o in found["networkoffering"]}


def test_offering_lifecycle_is_for_admins(cs: CloudStack, c: CloudStack, catalog: Any) -> None:
    name = f"pf-{uuid.uuid4().hex[:6]}"
    assert api_error(c.createNetworkOffering, name=name, traffictype="Guest",
                  guestiptype="Isolated")["errorcode"] == 531
    made = cs.createNetworkOffering(name=name, displaytext="PF only", traffictype="GUEST",
                                    guestiptype="Isolated",
                                    supportedservices="SourceNat,PortForwarding",
                                    **{"serviceproviderlist[0].service": "SourceNat",
                                       "serviceproviderlist[0].provider": "VirtualRouter"}
                                    )["networkoffering"]
    assert type_errors("createNetworkOffering", made) == []
    assert made["state"] == "Disabled" and made["isdefault"] is False
    assert {s["name"] for s in made["service"]} == {"SourceNat", "PortForwarding"}
    assert api_error(cs.createNetworkOffering, name=name, traffictype="Guest",
                  guestiptype="Isolated")["errorcode"] == 431
    assert api_error(cs.createNetworkOffering, name="x", traffictype="Public",
                  guestiptype="Isolated")["errorcode"] == 431
    assert made["id"] not in {o["id"] for o in c.listNetworkOfferings()["networkoffering"]}
    assert api_error(c.createNetwork, zoneid=catalog.zone_id, name="n",
                  networkofferingid=made["id"])["errorcode"] == 431
    enabled = cs.updateNetworkOffering(id=made["id"], state="Enabled")["networkoffering"]
    assert enabled["state"] == "Enabled" and type_errors("updateNetworkOffering", enabled) == []
    assert api_error(c.updateNetworkOffering, id=made["id"], state="Disabled")["errorcode"] == 531
    net = c.createNetwork(zoneid=catalog.zone_id, name="n", networkofferingid=made["id"])[
        "network"]
    assert net["networkofferingname"] == name
    assert api_error(cs.deleteNetworkOffering, id=made["id"])["errorcode"] == 536
    c.deleteNetwork(id=net["id"])
    assert cs.deleteNetworkOffering(id=made["id"]) == {"success": True}
    assert cs.listNetworkOfferings(id=made["id"]) == {}
    default = cs.listNetworkOfferings(name="DefaultSharedNetworkOffering")["networkoffering"][0]
    assert api_error(cs.deleteNetworkOffering, id=default["id"])["errorcode"] == 431


def test_isolated_network_create_update_restart_delete(user: Any, make_cs: Any, cs: CloudStack,
                                                        c: CloudStack, catalog: Any) -> None:
    iso = _isolated(c)
    net = c.createNetwork(zoneid=catalog.zone_id, name="tier", displaytext="my tier",
                          networkofferingid=iso["id"])["network"]
    assert type_errors("createNetwork", net) == []
    assert net["type"] == "Isolated" and net["acltype"] == "Account"
    assert net["account"] == user.name and net["networkofferingid"] == iso["id"]
    other = c.createNetwork(zoneid=catalog.zone_id, name="tier2",
                            networkofferingid=iso["id"])["network"]
    assert other["cidr"] != net["cidr"]  # a fresh subnet each

    submit = make_cs(user.key, user.secret)
    job = submit.updateNetwork(id=net["id"], name="renamed", displaytext="text")
    assert set(job) == {"jobid"}
    result = submit.queryAsyncJobResult(jobid=job["jobid"])
    assert result["jobstatus"] == 1
    updated = result["jobresult"]["network"]
    assert (updated["name"], updated["displaytext"]) == ("renamed", "text")
    assert type_errors("updateNetwork", updated) == []
    assert c.restartNetwork(id=net["id"], cleanup=True) == {"success": True}

    listed = c.listNetworks(type="Isolated")
    assert {n["id"] for n in listed["network"]} == {net["id"], other["id"]}
    assert c.listNetworks(networkofferingid=iso["id"], name="renamed")["count"] == 1
    assert type_errors("listNetworks", listed["network"][0]) == []

    vm = c.deployVirtualMachine(**catalog.args(networkids=net["id"]))["virtualmachine"]
    assert vm["nic"][0]["networkid"] == net["id"]
    assert api_error(c.deleteNetwork, id=net["id"])["errorcode"] == 536
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)  # users may not expunge
    assert c.deleteNetwork(id=net["id"]) == {"success": True}
    assert c.deleteNetwork(id=other["id"]) == {"success": True}
    assert c.listNetworks(type="Isolated") == {}


def test_shared_networks_need_an_admin_and_a_subnet(cs: CloudStack, c: CloudStack,
                                                   catalog: Any) -> None:
    shared = cs.listNetworkOfferings(name="DefaultSharedNetworkOffering")["networkoffering"][0]
    assert api_error(c.createNetwork, zoneid=catalog.zone_id, name="s", gateway="10.77.0.1",
                  netmask="255.255.255.0", networkofferingid=shared["id"])["errorcode"] == 531
    assert api_error(cs.createNetwork, zoneid=catalog.zone_id, name="s",
                  networkofferingid=shared["id"])["errorcode"] == 431
    net = cs.createNetwork(zoneid=catalog.zone_id, name="s", gateway="10.77.0.1",
                           netmask="255.255.255.0", networkofferingid=shared["id"])["network"]
    assert net["type"] == "Shared" and net["acltype"] == "Domain" and "account" not in net
    assert net["id"] in {n["id"] for n in c.listNetworks(type="Shared")["network"]}
    assert api_error(c.updateNetwork, id=net["id"], name="mine")["errorcode"] == 531
    assert api_error(c.deleteNetwork, id=net["id"])["errorcode"] == 531
    assert cs.deleteNetwork(id=net["id"]) == {"success": True}


def test_networks_are_private_to_their_account(server: Any, make_cs: Any, c: CloudStack,
                                               cs: CloudStack, catalog: Any) -> None:
    net = c.createNetwork(zoneid=catalog.zone_id, name="private",
                          networkofferingid=_isolated(c)["id"])["network"]
    key, secret = server.new_user("nets-other")
    other = make_cs(key, secret, fetch_result=True)
    assert net["id"] not in {n["id"] for n in other.listNetworks().get("network", [])}
    assert other.listNetworks(id=net["id"]) == {}
    for call in (other.deleteNetwork, other.restartNetwork, other.updateNetwork):
        assert api_error(call, id=net["id"])["errorcode"] == 431
    assert api_error(other.deployVirtualMachine,
                  **catalog.args(networkids=net["id"]))["errorcode"] == 431
    assert net["id"] in {n["id"] for n in cs.listNetworks(listall=True)["network"]}
    assert c.deleteNetwork(id=net["id"]) == {"success": True}
