"""Changing data-center resources through the CloudStack API: pods, clusters,
hosts (reconnect), primary storage (settings, maintenance), addSecondaryStorage,
configureSimulator, and the always-empty system lists.

Runs on a server of its own: maintenance and allocation changes must not
disturb the shared server's other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.nativeapi.clients import cs_client
from tests.integration.nativeapi.errors import api_error, type_errors
from tests.integration.nativeapi.servers import own_server
from tests.support import LiveServer

GIB = 1024**3


@pytest.fixture(scope="module")
def infra_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from own_server(tmp_path_factory, "infra-updates")


@pytest.fixture(scope="module")
def admin(infra_server: LiveServer) -> CloudStack:
    return cs_client(infra_server, fetch_result=True)


@pytest.fixture(scope="module")
def dc(admin: CloudStack) -> dict[str, Any]:
    """A zone with one pod, cluster, host and pool, secondary storage and a guest network."""
    cs = admin
    zone = cs.createZone(name="zz-upd", networktype="Advanced", dns1="8.8.8.8",
                         internaldns1="10.0.0.2", guestcidraddress="10.70.0.0/16")["zone"]
    pod = cs.createPod(zoneid=zone["id"], name="upd-pod", gateway="192.168.70.1",
                       netmask="255.255.255.0", startip="192.168.70.10",
                       endip="192.168.70.29")["pod"]
    cluster = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername="upd-c1",
                            hypervisor="Simulator", clustertype="CloudManaged")["cluster"][0]
    host = cs.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                      hypervisor="Simulator", username="root", password="password",
                      url="http://sim/upd-c1/upd-h1/memory=4294967296")["host"][0]
    pool = cs.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                scope="cluster", name="upd-primary",
                                url="nfs://10.147.28.6/export/upd",
                                capacitybytes=1024 * GIB)["storagepool"]
    store = cs.addSecondaryStorage(zoneid=zone["id"],
                                   url="nfs://10.147.28.6/export/upd-secondary")
    offerings = cs.listNetworkOfferings()["networkoffering"]
    shared = next(o for o in offerings if o["name"] == "DefaultSharedNetworkOffering")
    cs.createNetwork(zoneid=zone["id"], name="upd-guest", displaytext="guest",
                     networkofferingid=shared["id"], gateway="10.71.0.1",
                     netmask="255.255.255.0")
    cs.createVlanIpRange(zoneid=zone["id"], vlan="untagged", forvirtualnetwork=True,
                         gateway="100.64.70.1", netmask="255.255.255.0",
                         startip="100.64.70.10", endip="100.64.70.20")
    cs.updateZone(id=zone["id"], allocationstate="Enabled")
    return {"zone": zone, "pod": pod, "cluster": cluster, "host": host, "pool": pool,
            "store": store}


def _deploy(cs: CloudStack, zone_id: str) -> dict[str, Any]:
    templates = cs.listTemplates(templatefilter="executable", zoneid=zone_id)["template"]
    template = next(t for t in templates if t["name"].startswith("amzn2"))
    sizes = {o["name"]: o["id"] for o in cs.listServiceOfferings()["serviceoffering"]}
    return cs.deployVirtualMachine(zoneid=zone_id, templateid=template["id"],
                                   serviceofferingid=sizes["t2.micro"])["virtualmachine"]


def test_add_secondary_storage_is_an_image_store(admin: CloudStack,
                                                  dc: dict[str, Any]) -> None:
    raw = dc["store"]
    assert set(raw) == {"secondarystorage"}
    store = raw["secondarystorage"]
    assert store["url"] == "nfs://10.147.28.6/export/upd-secondary"
    assert store["zoneid"] == dc["zone"]["id"] and store["providername"] == "NFS"
    assert type_errors("addSecondaryStorage", store) == []
    listed = admin.listImageStores(id=store["id"])["imagestore"]
    assert [s["id"] for s in listed] == [store["id"]]
    err = api_error(admin.addSecondaryStorage, zoneid=dc["zone"]["id"], url="s3://bucket")
    assert err["errorcode"] == 431


def test_update_pod(admin: CloudStack, dc: dict[str, Any]) -> None:
    pod = admin.updatePod(id=dc["pod"]["id"], name="upd-pod-2", endip="192.168.70.40",
                          allocationstate="Disabled")["pod"]
    assert pod["name"] == "upd-pod-2" and pod["endip"] == ["192.168.70.40"]
    assert pod["startip"] == ["192.168.70.10"] and pod["allocationstate"] == "Disabled"
    assert type_errors("updatePod", pod) == []
    listed = admin.listPods(id=pod["id"])["pod"][0]
    assert listed["name"] == "upd-pod-2" and listed["allocationstate"] == "Disabled"
    back = admin.updatePod(id=pod["id"], allocationstate="Enabled")["pod"]
    assert back["allocationstate"] == "Enabled" and back["name"] == "upd-pod-2"
    err = api_error(admin.updatePod, id=pod["id"], endip="10.9.9.9")
    assert err["errorcode"] == 431
    err = api_error(admin.updatePod, id=pod["id"], allocationstate="Sideways")
    assert err["errorcode"] == 431


def test_update_cluster(admin: CloudStack, dc: dict[str, Any]) -> None:
    cid = dc["cluster"]["id"]
    cluster = admin.updateCluster(id=cid, allocationstate="Disabled", managedstate="Managed",
                                  cpuovercommitratio="2.5", memoryovercommitratio="1.5",
                                  clustername="upd-c1-renamed")["cluster"]
    assert cluster["allocationstate"] == "Disabled" and cluster["managedstate"] == "Managed"
    assert cluster["cpuovercommitratio"] == "2.5" and cluster["memoryovercommitratio"] == "1.5"
    assert cluster["name"] == "upd-c1-renamed"
    assert type_errors("updateCluster", cluster) == []
    assert admin.listClusters(id=cid)["cluster"][0]["allocationstate"] == "Disabled"
    host = admin.listHosts(id=dc["host"]["id"])["host"][0]
    assert host["cpuwithoverprovisioning"] == str(float(4 * 8000 * 2.5))
    back = admin.updateCluster(id=cid, allocationstate="Enabled", cpuovercommitratio="1",
                               memoryovercommitratio="1")["cluster"]
    assert back["allocationstate"] == "Enabled"
    assert api_error(admin.updateCluster, id=cid, managedstate="Unmanaged")["errorcode"] == 431
    assert api_error(admin.updateCluster, id=cid, hypervisor="KVM")["errorcode"] == 431
    assert api_error(admin.updateCluster, id=cid, cpuovercommitratio="0")["errorcode"] == 431


def test_update_storage_pool(admin: CloudStack, dc: dict[str, Any]) -> None:
    pid = dc["pool"]["id"]
    pool = admin.updateStoragePool(id=pid, tags="ssd,fast", capacitybytes=2048 * GIB)
    pool = pool["storagepool"]
    assert pool["tags"] == "ssd,fast" and pool["capacitybytes"] == 2048 * GIB
    assert type_errors("updateStoragePool", pool) == []
    disabled = admin.updateStoragePool(id=pid, enabled=False)["storagepool"]
    assert disabled["state"] == "Disabled"
    enabled = admin.updateStoragePool(id=pid, enabled=True, tags="")["storagepool"]
    assert enabled["state"] == "Up" and enabled.get("tags") is None
    assert api_error(admin.updateStoragePool, id=pid, capacitybytes=0)["errorcode"] == 431


def test_storage_maintenance_keeps_volumes_off_the_pool(admin: CloudStack,
                                                         dc: dict[str, Any]) -> None:
    pid = dc["pool"]["id"]
    pool = admin.enableStorageMaintenance(id=pid)["storagepool"]
    assert pool["id"] == pid and pool["state"] == "Maintenance"
    assert type_errors("enableStorageMaintenance", pool) == []
    assert admin.listStoragePools(id=pid)["storagepool"][0]["state"] == "Maintenance"
    # The zone's only pool is in maintenance: nowhere to put a root disk.
    err = api_error(lambda: _deploy(admin, dc["zone"]["id"]))
    assert err["errorcode"] in (530, 533)
    # Enabling/disabling is refused while in maintenance.
    assert api_error(admin.updateStoragePool, id=pid, enabled=True)["errorcode"] == 431
    pool = admin.cancelStorageMaintenance(id=pid)["storagepool"]
    assert pool["state"] == "Up"
    vm = _deploy(admin, dc["zone"]["id"])
    try:
        volumes = admin.listVolumes(virtualmachineid=vm["id"])["volume"]
        assert {v["storageid"] for v in volumes} == {pid}
        # A running VM's disk is on the pool: maintenance is refused.
        assert api_error(admin.enableStorageMaintenance, id=pid)["errorcode"] == 431
    finally:
        admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert api_error(admin.cancelStorageMaintenance, id=pid)["errorcode"] == 431


def test_reconnect_host_refreshes_capacity(admin: CloudStack, dc: dict[str, Any]) -> None:
    hid = dc["host"]["id"]
    done = admin.configureSimulator(hostid=hid, name="memory", value=str(6 * GIB))
    assert done["configuresimulator"]["name"] == "memory"
    host = admin.reconnectHost(id=hid)["host"]
    assert host["id"] == hid and host["state"] == "Up"
    assert host["memorytotal"] == 6 * GIB
    assert type_errors("reconnectHost", host) == []
    assert admin.listHosts(id=hid)["host"][0]["memorytotal"] == 6 * GIB
    # An injected connect failure fails the reconnect and leaves the host as it was.
    admin.configureSimulator(hostid=hid, name="ReadyCommand", value="result:fail", count=1)
    err = api_error(admin.reconnectHost, id=hid)
    assert err["errorcode"] == 530
    assert admin.listHosts(id=hid)["host"][0]["memorytotal"] == 6 * GIB
    assert admin.reconnectHost(id=hid)["host"]["state"] == "Up"  # the count ran out
    admin.configureSimulator(hostid=hid, name="memory", value=str(4 * GIB))
    assert admin.reconnectHost(id=hid)["host"]["memorytotal"] == 4 * GIB


def test_configure_simulator_failures_and_errors(admin: CloudStack,
                                                 dc: dict[str, Any]) -> None:
    zid = dc["zone"]["id"]
    admin.configureSimulator(zoneid=zid, name="StartCommand", value="result:fail")
    try:
        err = api_error(lambda: _deploy(admin, zid))
        assert err["errorcode"] in (530, 533)
    finally:
        admin.configureSimulator(zoneid=zid, name="StartCommand", value="result:success")
    vm = _deploy(admin, zid)
    admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert api_error(admin.configureSimulator, zoneid=zid, name="NoSuchCommand",
                     value="result:fail")["errorcode"] == 431
    assert api_error(admin.configureSimulator, zoneid=zid, name="StopCommand",
                     value="bogus")["errorcode"] == 431
    assert api_error(admin.configureSimulator, name="StopCommand")["errorcode"] == 431


@pytest.mark.parametrize(("command", "key"), [("listRouters", "router"),
                                              ("listSystemVms", "systemvm"),
                                              ("listPortableIpRanges", "portableiprange")])
def test_system_lists_are_empty(admin: CloudStack, command: str, key: str) -> None:
    assert getattr(admin, command)() == {}
    assert getattr(admin, command)(page=1, pagesize=10) == {}
