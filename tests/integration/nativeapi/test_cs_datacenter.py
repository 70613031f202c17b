"""Building a data center through the CloudStack API, then deploying into it.

These tests run on a server of their own (a fresh database): they add zones and
change global settings, which the shared server's other tests must not see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.integration.nativeapi.clients import cs_client
from tests.integration.nativeapi.errors import api_error, type_errors
from tests.integration.nativeapi.servers import own_server
from tests.support import LiveServer

GIB = 1024**3


@pytest.fixture(scope="module")
def dc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from own_server(tmp_path_factory, "datacenter")


@pytest.fixture(scope="module")
def admin(dc_server: LiveServer) -> CloudStack:
    return cs_client(dc_server, fetch_result=True)


@dataclass
class DataCenter:
    zone: dict[str, Any]
    pod: dict[str, Any]
    cluster: dict[str, Any]
    hosts: list[dict[str, Any]]
    pool: dict[str, Any]
    store: dict[str, Any]
    vlan: dict[str, Any]
    network: dict[str, Any]

    @property
    def host_ids(self) -> set[str]:
        return {h["id"] for h in self.hosts}


def _offering(cs: CloudStack, name: str) -> dict[str, Any]:
    offerings = cs.listNetworkOfferings()["networkoffering"]
    return next(o for o in offerings if o["name"] == name)


def _build(cs: CloudStack, name: str, *, host_memory: int, public_net: str,
           guest_net: str) -> DataCenter:
    """What marvin's deployDataCenter does for a simulator zone, step by step."""
    zone = cs.createZone(name=name, networktype="Advanced", dns1="8.8.8.8",
                         internaldns1="10.0.0.2", guestcidraddress="10.50.0.0/16")["zone"]
    pod = cs.createPod(zoneid=zone["id"], name=f"{name}-pod", gateway="192.168.50.1",
                       netmask="255.255.255.0", startip="192.168.50.10",
                       endip="192.168.50.29")["pod"]
    clusters = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1",
                             hypervisor="Simulator", clustertype="CloudManaged")
    assert clusters["count"] == 1
    cluster = clusters["cluster"][0]
    hosts = []
    for n in (1, 2):
        added = cs.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                           hypervisor="Simulator", username="root", password="password",
                           url=f"http://sim/{name}-c1/{name}-h{n}/memory={host_memory}")
        assert added["count"] == 1
        hosts.append(added["host"][0])
    pool = cs.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                scope="cluster", name=f"{name}-primary",
                                url="nfs://10.147.28.6/export/primary",
                                capacitybytes=2 * 1024 * GIB)["storagepool"]
    store = cs.addImageStore(provider="NFS", zoneid=zone["id"], name=f"{name}-secondary",
                             url="nfs://10.147.28.6/export/secondary")["imagestore"]
    vlan = cs.createVlanIpRange(zoneid=zone["id"], vlan="untagged", forvirtualnetwork=True,
                                gateway=f"{public_net}.1", netmask="255.255.255.0",
                                startip=f"{public_net}.10", endip=f"{public_net}.20")["vlan"]
    shared = _offering(cs, "DefaultSharedNetworkOffering")
    network = cs.createNetwork(zoneid=zone["id"], name=f"{name}-guest",
                               displaytext="guest network", networkofferingid=shared["id"],
                               gateway=f"{guest_net}.1", netmask="255.255.255.0")["network"]
    enabled = cs.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
    assert enabled["allocationstate"] == "Enabled"
    return DataCenter(enabled, pod, cluster, hosts, pool, store, vlan, network)


@pytest.fixture(scope="module")
def dc(admin: CloudStack) -> DataCenter:
    return _build(admin, "zz-dc1", host_memory=4 * GIB, public_net="203.0.113",
                  guest_net="10.60.0")


@pytest.fixture(scope="module")
def choices(admin: CloudStack, dc: DataCenter) -> dict[str, str]:
    templates = admin.listTemplates(templatefilter="executable", zoneid=dc.zone["id"])
    template = next(t for t in templates["template"] if t["name"].startswith("amzn2"))
    sizes = {o["name"]: o["id"] for o in admin.listServiceOfferings()["serviceoffering"]}
    return {"templateid": template["id"], "micro": sizes["t2.micro"],
            "medium": sizes["t2.medium"]}


def _deploy(cs: CloudStack, dc: DataCenter, choices: dict[str, str], size: str,
            **extra: Any) -> dict[str, Any]:
    return cs.deployVirtualMachine(zoneid=dc.zone["id"], templateid=choices["templateid"],
                                   serviceofferingid=choices[size], **extra)["virtualmachine"]


def _expunge(cs: CloudStack, vms: list[dict[str, Any]]) -> None:
    for vm in vms:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_setup_responses_have_cloudstack_shapes(admin: CloudStack, dc: DataCenter) -> None:
    assert dc.zone["networktype"] == "Advanced" and dc.zone["name"] == "zz-dc1"
    assert dc.pod["zoneid"] == dc.zone["id"] and dc.pod["startip"] == ["192.168.50.10"]
    assert dc.cluster["hypervisortype"] == "Simulator"
    assert dc.cluster["clustertype"] == "CloudManaged"
    assert dc.cluster["memoryovercommitratio"] == "1.0"
    host = dc.hosts[0]
    assert (host["state"], host["resourcestate"], host["type"]) == ("Up", "Enabled", "Routing")
    assert host["clusterid"] == dc.cluster["id"] and host["hypervisor"] == "Simulator"
    assert host["memorytotal"] == 4 * GIB and host["cpunumber"] == 4
    assert host["cpuallocated"] == "0%" and host["memoryallocated"] == 0
    assert dc.pool["scope"] == "CLUSTER" and dc.pool["type"] == "NetworkFilesystem"
    assert dc.pool["path"] == "/export/primary" and dc.pool["ipaddress"] == "10.147.28.6"
    assert dc.pool["disksizetotal"] == 2 * 1024 * GIB
    assert dc.store["providername"] == "NFS" and dc.store["protocol"] == "nfs"
    assert dc.vlan["vlan"] == "vlan://untagged" and dc.vlan["forvirtualnetwork"] is True
    assert dc.network["type"] == "Shared" and dc.network["isdefault"] is True
    for command, item in (("createZone", dc.zone), ("createPod", dc.pod),
                          ("addCluster", dc.cluster), ("addHost", host),
                          ("createStoragePool", dc.pool), ("addImageStore", dc.store),
                          ("createVlanIpRange", dc.vlan), ("createNetwork", dc.network)):
        assert type_errors(command, item) == [], command


def test_lists_find_what_was_built(admin: CloudStack, dc: DataCenter) -> None:
    zone_id = dc.zone["id"]
    assert [p["id"] for p in admin.listPods(zoneid=zone_id)["pod"]] == [dc.pod["id"]]
    assert admin.listClusters(podid=dc.pod["id"])["cluster"][0]["id"] == dc.cluster["id"]
    listed = admin.listHosts(zoneid=zone_id, type="Routing")
    assert {h["id"] for h in listed["host"]} == dc.host_ids
    assert admin.listHosts(zoneid=zone_id, state="Down") == {}
    assert admin.listHosts(zoneid=zone_id, type="SecondaryStorageVM") == {}
    assert admin.listStoragePools(zoneid=zone_id)["storagepool"][0]["id"] == dc.pool["id"]
    assert admin.listImageStores(zoneid=zone_id)["imagestore"][0]["id"] == dc.store["id"]
    assert admin.listVlanIpRanges(zoneid=zone_id)["vlaniprange"][0]["startip"] == \
        "203.0.113.10"
    assert admin.listNetworks(zoneid=zone_id)["network"][0]["id"] == dc.network["id"]
    # The new zone got the public templates with its image store.
    templates = admin.listTemplates(templatefilter="featured", zoneid=zone_id)["template"]
    assert templates and all(t["isready"] for t in templates)
    with pytest.raises(CloudStackApiException) as err:
        admin.listHosts(id=str(uuid.uuid4()))
    assert err.value.error["errorcode"] == 431


def test_deploy_lands_on_a_new_host_and_capacity_follows(
        admin: CloudStack, dc: DataCenter, choices: dict[str, str]) -> None:
    vm = _deploy(admin, dc, choices, "micro")
    try:
        assert vm["state"] == "Running" and vm["zoneid"] == dc.zone["id"]
        assert vm["hostid"] in dc.host_ids
        assert vm["nic"][0]["networkid"] == dc.network["id"]
        host = admin.listHosts(id=vm["hostid"])["host"][0]
        assert host["memoryallocated"] == GIB and host["cpuallocatedvalue"] == 1000
        assert host["cpuallocated"] == "3.12%"  # 1000 of 4 x 8000 MHz
        assert host["memoryallocatedpercentage"] == "25%"
        assert admin.listHosts(virtualmachineid=vm["id"])["host"][0]["id"] == vm["hostid"]
        caps = {c["type"]: c for c in admin.listCapacity(zoneid=dc.zone["id"])["capacity"]}
        assert caps[0]["name"] == "MEMORY" and caps[0]["capacitytotal"] == 8 * GIB
        assert caps[0]["capacityused"] == GIB and caps[0]["percentused"] == "12.5"
        assert caps[1]["capacitytotal"] == 2 * 4 * 8000 and caps[1]["capacityused"] == 1000
        assert caps[3]["capacitytotal"] == 2 * 2 * 1024 * GIB  # storage overprovisioning 2
        assert caps[3]["capacityused"] == 8 * GIB  # the root disk
        assert (caps[4]["capacitytotal"], caps[4]["capacityused"]) == (11, 0)
        assert caps[5]["capacitytotal"] == 20
        assert all(type_errors("listCapacity", c) == [] for c in caps.values())
        only_cpu = admin.listCapacity(zoneid=dc.zone["id"], type=1)["capacity"]
        assert [c["type"] for c in only_cpu] == [1]
    finally:
        _expunge(admin, [vm])


def test_memory_overprovisioning_changes_how_many_vms_fit(
        admin: CloudStack, dc: DataCenter, choices: dict[str, str]) -> None:
    vms: list[dict[str, Any]] = []
    try:
        # 2 hosts x 4 GiB: two 4 GiB VMs, then the zone is full.
        vms += [_deploy(admin, dc, choices, "medium") for _ in range(2)]
        assert {vm["hostid"] for vm in vms} == dc.host_ids
        assert api_error(_deploy, cs=admin, dc=dc, choices=choices, size="medium")[
            "errorcode"] == 533
        updated = admin.updateConfiguration(name="mem.overprovisioning.factor", value="2")
        assert updated["configuration"]["value"] == "2"
        listed = admin.listConfigurations(name="mem.overprovisioning.factor")
        assert listed["configuration"][0]["value"] == "2"
        vms += [_deploy(admin, dc, choices, "medium") for _ in range(2)]
        assert api_error(_deploy, cs=admin, dc=dc, choices=choices, size="medium")[
            "errorcode"] == 533
        host = admin.listHosts(id=vms[0]["hostid"])["host"][0]
        assert host["memoryallocatedpercentage"] == "200%"
        assert host["memorywithoverprovisioning"] == str(float(8 * GIB))
    finally:
        admin.updateConfiguration(name="mem.overprovisioning.factor", value="1")
        _expunge(admin, vms)


def test_cluster_scoped_overcommit(admin: CloudStack, dc: DataCenter) -> None:
    try:
        row = admin.updateConfiguration(name="cpu.overprovisioning.factor", value="4",
                                        clusterid=dc.cluster["id"])["configuration"]
        assert (row["value"], row["scope"]) == ("4.0", "cluster")
        assert admin.listClusters(id=dc.cluster["id"])["cluster"][0][
            "cpuovercommitratio"] == "4.0"
        global_value = admin.listConfigurations(name="cpu.overprovisioning.factor")
        assert global_value["configuration"][0]["value"] == "1"
        assert api_error(admin.updateConfiguration, name="expunge.delay", value="5",
                      clusterid=dc.cluster["id"])["errorcode"] == 431
    finally:
        admin.updateConfiguration(name="cpu.overprovisioning.factor", value="1",
                                  clusterid=dc.cluster["id"])


def test_configuration_list_and_errors(admin: CloudStack) -> None:
    names = {c["name"] for c in admin.listConfigurations()["configuration"]}
    assert {"cpu.overprovisioning.factor", "expunge.delay", "default.page.size"} <= names
    assert not any("secret" in n for n in names)  # hidden settings never show
    item = admin.listConfigurations(name="expunge.delay")["configuration"][0]
    assert item["defaultvalue"] == "86400" and item["type"] == "Integer"
    assert type_errors("listConfigurations", item) == []
    assert api_error(admin.updateConfiguration, name="no.such.setting", value="1")[
        "errorcode"] == 431
    assert api_error(admin.updateConfiguration, name="expunge.delay", value="soon")[
        "errorcode"] == 431
    assert api_error(admin.updateConfiguration, name="session.signing.secret", value="x")[
        "errorcode"] == 431


def test_disabled_host_takes_no_vms_and_maintenance(
        admin: CloudStack, dc: DataCenter, choices: dict[str, str]) -> None:
    first, second = (h["id"] for h in dc.hosts)
    vms: list[dict[str, Any]] = []
    try:
        host = admin.updateHost(id=first, allocationstate="Disable")["host"]
        assert host["resourcestate"] == "Disabled"
        vms += [_deploy(admin, dc, choices, "micro") for _ in range(2)]
        assert {vm["hostid"] for vm in vms} == {second}
        admin.updateHost(id=first, allocationstate="Enable")
        # A host with VMs cannot go into maintenance (nothing would move them).
        assert api_error(admin.prepareHostForMaintenance, id=second)["errorcode"] == 431
        job = admin.prepareHostForMaintenance(id=first)
        assert job["host"]["resourcestate"] == "Maintenance"
        assert admin.listHosts(resourcestate="Maintenance", zoneid=dc.zone["id"])["host"][0][
            "id"] == first
        assert api_error(admin.updateHost, id=first, allocationstate="Enable")["errorcode"] == 431
        assert api_error(admin.updateHost, id=second, allocationstate="Maintenance")[
            "errorcode"] == 431  # only prepareHostForMaintenance gets there
        assert admin.cancelHostMaintenance(id=first)["host"]["resourcestate"] == "Enabled"
        assert api_error(admin.cancelHostMaintenance, id=first)["errorcode"] == 431
    finally:
        admin.updateHost(id=first, allocationstate="Enable")
        _expunge(admin, vms)


def test_removal_order_is_enforced(admin: CloudStack) -> None:
    dc2 = _build(admin, "zz-dc2", host_memory=8 * GIB, public_net="198.18.5",
                 guest_net="10.61.0")
    zone = dc2.zone["id"]
    address = admin.associateIpAddress(zoneid=zone)["ipaddress"]
    # Anything still used by something is refused with 536.
    assert api_error(admin.deleteZone, id=zone)["errorcode"] == 536
    assert api_error(admin.deletePod, id=dc2.pod["id"])["errorcode"] == 536
    assert api_error(admin.deleteCluster, id=dc2.cluster["id"])["errorcode"] == 536
    assert api_error(admin.deleteVlanIpRange, id=dc2.vlan["id"])["errorcode"] == 536
    # The first image store holds the zone's templates; an empty one can go.
    assert api_error(admin.deleteImageStore, id=dc2.store["id"])["errorcode"] == 536
    spare = admin.addImageStore(provider="NFS", zoneid=zone, url="nfs://10.1.1.1/spare")
    assert admin.deleteImageStore(id=spare["imagestore"]["id"])["success"] is True
    # A host must be in maintenance first (or the deletion forced).
    host = dc2.hosts[0]["id"]
    assert api_error(admin.deleteHost, id=host)["errorcode"] == 431
    admin.prepareHostForMaintenance(id=host)
    assert admin.deleteHost(id=host)["success"] is True
    assert admin.deleteHost(id=dc2.hosts[1]["id"], forced=True)["success"] is True
    assert admin.listHosts(zoneid=zone) == {}
    admin.disassociateIpAddress(id=address["id"])
    assert admin.deleteVlanIpRange(id=dc2.vlan["id"])["success"] is True
    assert admin.deleteStoragePool(id=dc2.pool["id"])["success"] is True
    assert admin.deleteCluster(id=dc2.cluster["id"])["success"] is True
    assert admin.deletePod(id=dc2.pod["id"])["success"] is True
    assert admin.deleteNetwork(id=dc2.network["id"])["success"] is True
    assert api_error(admin.deleteZone, id=zone)["errorcode"] == 536  # the image store
    # The same range can be created again elsewhere once its rows are gone.
    again = admin.createVlanIpRange(zoneid=dc2.zone["id"], vlan="50", gateway="198.18.5.1",
                                    netmask="255.255.255.0", startip="198.18.5.10",
                                    endip="198.18.5.12")["vlan"]
    assert again["vlan"] == "vlan://50"
    assert api_error(admin.createVlanIpRange, zoneid=zone, gateway="198.18.5.1",
                  netmask="255.255.255.0", startip="198.18.5.5", endip="198.18.5.11")[
        "errorcode"] == 431  # overlaps
    admin.deleteVlanIpRange(id=again["id"])


def test_zone_without_dependents_is_deleted(admin: CloudStack) -> None:
    zone = admin.createZone(name="zz-empty", networktype="Basic", dns1="8.8.8.8",
                            internaldns1="10.0.0.2")["zone"]
    assert zone["securitygroupsenabled"] is True and zone["allocationstate"] == "Disabled"
    assert api_error(admin.createZone, name="zz-empty", networktype="Basic", dns1="8.8.8.8",
                  internaldns1="10.0.0.2")["errorcode"] == 431
    assert api_error(admin.createZone, name="zz-bad", networktype="Cloudy", dns1="8.8.8.8",
                  internaldns1="10.0.0.2")["errorcode"] == 431
    pod = admin.createPod(zoneid=zone["id"], name="p")["pod"]
    admin.deletePod(id=pod["id"])
    assert admin.deleteZone(id=zone["id"])["success"] is True
    assert api_error(admin.listZones, id=zone["id"])["errorcode"] == 431
    # The name is free again.
    again = admin.createZone(name="zz-empty", networktype="Basic", dns1="8.8.8.8",
                             internaldns1="10.0.0.2")["zone"]
    admin.deleteZone(id=again["id"])


def test_bad_infrastructure_requests(admin: CloudStack, dc: DataCenter) -> None:
    zone, pod = dc.zone["id"], dc.pod["id"]
    assert api_error(admin.addCluster, zoneid=zone, podid=pod, clustername="x",
                  hypervisor="Hyper-Nothing", clustertype="CloudManaged")["errorcode"] == 431
    assert api_error(admin.addHost, zoneid=zone, podid=pod, clusterid=dc.cluster["id"],
                  hypervisor="Simulator",
                  url=f"http://sim/zz-dc1-c1/zz-dc1-h1/memory={4 * GIB}")[
        "errorcode"] == 431  # already added
    assert api_error(admin.addHost, zoneid=zone, podid=pod, hypervisor="Simulator",
                  url="http://sim/x/y")["errorcode"] == 431  # no cluster named
    assert api_error(admin.createStoragePool, zoneid=zone, name="p", url="not-a-url")[
        "errorcode"] == 431
    assert api_error(admin.addImageStore, provider="Swift", url="nfs://a/b")["errorcode"] == 431
    assert api_error(admin.createVlanIpRange, zoneid=zone, gateway="10.9.0.1",
                  netmask="255.255.255.0", startip="10.9.1.5", endip="10.9.1.9")[
        "errorcode"] == 431  # outside the subnet


def test_host_added_by_cluster_name(admin: CloudStack, dc: DataCenter) -> None:
    added = admin.addHost(zoneid=dc.zone["id"], podid=dc.pod["id"], hypervisor="Simulator",
                          clustername="zz-dc1-c2", allocationstate="Disabled",
                          url="http://sim/zz-dc1-c2/zz-dc1-h9")["host"][0]
    try:
        assert added["clustername"] == "zz-dc1-c2" and added["resourcestate"] == "Disabled"
        cluster = admin.listClusters(name="zz-dc1-c2")["cluster"][0]
        assert cluster["id"] == added["clusterid"]
    finally:
        admin.deleteHost(id=added["id"], forced=True)
        admin.deleteCluster(id=added["clusterid"])


def test_users_cannot_administer(dc_server: LiveServer, dc: DataCenter) -> None:
    key, secret = dc_server.new_user(f"dc-user-{uuid.uuid4().hex[:6]}")
    user = cs_client(dc_server, key, secret, fetch_result=True)
    for call, params in ((user.createZone, {"name": "x", "networktype": "Basic",
                                            "dns1": "1.1.1.1", "internaldns1": "1.1.1.1"}),
                         (user.listHosts, {}), (user.listCapacity, {}),
                         (user.listConfigurations, {}),
                         (user.updateConfiguration, {"name": "expunge.delay", "value": "1"}),
                         (user.deleteZone, {"id": dc.zone["id"]})):
        assert api_error(call, **params)["errorcode"] == 531
    # Users do see the enabled zone, the shared network and the offerings.
    assert dc.zone["id"] in {z["id"] for z in user.listZones()["zone"]}
    assert dc.network["id"] in {n["id"] for n in user.listNetworks(zoneid=dc.zone["id"])[
        "network"]}
    assert user.listNetworkOfferings()["count"] == 4  # the default guest offerings
    isolated = _offering(user, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    shared = _offering(user, "DefaultSharedNetworkOffering")
    mine = user.createNetwork(zoneid=dc.zone["id"], name="mine",
                              networkofferingid=isolated["id"])["network"]
    assert mine["type"] == "Isolated" and mine["cidr"] == "10.50.0.0/24"
    assert mine["isdefault"] is False and "vlan" not in mine
    assert api_error(user.createNetwork, zoneid=dc.zone["id"], name="s", gateway="10.70.0.1",
                  netmask="255.255.255.0", networkofferingid=shared["id"])["errorcode"] == 531
    assert user.deleteNetwork(id=mine["id"])["success"] is True
