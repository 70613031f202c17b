"""A data center built purely through the API, as an operator or marvin's
``deployDataCenter`` does it for a simulator zone, then a VM deployed into it and
everything torn down again in the order CloudStack enforces (a zone is deleted
only once nothing is left in it: hosts, storage, pods, IP ranges, networks).

Needs root admin keys and a cloud whose ``Simulator`` hypervisor accepts
``http://sim/<cluster>/<host>`` URLs (nimbostack's, or CloudStack's simulator).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import unique
from cs import CloudStack, CloudStackApiException

pytestmark = pytest.mark.datacenter
GIB = 1024**3


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def _ready_template(admin: CloudStack, zone_id: str, timeout: float = 60) -> dict[str, Any]:
    """A ready executable template in the new zone (secondary storage seeds it)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = admin.listTemplates(templatefilter="executable", zoneid=zone_id)
        ready = [t for t in listed.get("template", []) if t.get("isready")]
        if ready:
            return ready[0]
        assert time.monotonic() < deadline, "no template became ready in the new zone"
        time.sleep(0.5)


def test_build_deploy_and_tear_down_a_zone(admin: CloudStack) -> None:
    name = unique("dc")
    zone = admin.createZone(name=name, networktype="Advanced", dns1="8.8.8.8",
                            internaldns1="10.0.0.2", guestcidraddress="10.77.0.0/16")["zone"]
    assert zone["networktype"] == "Advanced" and zone["allocationstate"] == "Disabled"
    pod = admin.createPod(zoneid=zone["id"], name=f"{name}-pod", gateway="192.168.77.1",
                          netmask="255.255.255.0", startip="192.168.77.10",
                          endip="192.168.77.60")["pod"]
    clusters = admin.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-c1",
                                hypervisor="Simulator", clustertype="CloudManaged")
    assert clusters["count"] == 1  # addCluster answers with a list
    cluster = clusters["cluster"][0]
    hosts = []
    for n in (1, 2):
        added = admin.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                              hypervisor="Simulator", username="root", password="password",
                              url=f"http://sim/{name}-c1/{name}-h{n}")
        assert added["count"] == 1  # addHost answers with a list
        hosts.append(added["host"][0])
    assert {h["state"] for h in hosts} == {"Up"}
    pool = admin.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                   scope="cluster", name=f"{name}-primary",
                                   url="nfs://10.147.28.6/export/primary/" + name,
                                   capacitybytes=1024 * GIB)["storagepool"]
    store = admin.addImageStore(provider="NFS", zoneid=zone["id"], name=f"{name}-secondary",
                                url="nfs://10.147.28.6/export/secondary/" + name)["imagestore"]
    vlan = admin.createVlanIpRange(zoneid=zone["id"], vlan="untagged", forvirtualnetwork=True,
                                   gateway="198.51.77.1", netmask="255.255.255.0",
                                   startip="198.51.77.10", endip="198.51.77.30")["vlan"]
    offering = next(o for o in admin.listNetworkOfferings(guestiptype="Shared")[
        "networkoffering"] if not o.get("specifyvlan") or o["name"] == "DefaultSharedNetworkOffering")
    network = admin.createNetwork(zoneid=zone["id"], name=f"{name}-guest",
                                  displaytext="guest", networkofferingid=offering["id"],
                                  gateway="10.78.0.1", netmask="255.255.255.0",
                                  startip="10.78.0.10", endip="10.78.0.200")["network"]
    enabled = admin.updateZone(id=zone["id"], allocationstate="Enabled")["zone"]
    assert enabled["allocationstate"] == "Enabled"

    assert {h["id"] for h in admin.listHosts(zoneid=zone["id"])["host"]} == {
        h["id"] for h in hosts}
    assert admin.listPods(zoneid=zone["id"])["count"] == 1
    assert admin.listClusters(zoneid=zone["id"])["count"] == 1
    assert admin.listStoragePools(zoneid=zone["id"])["storagepool"][0]["id"] == pool["id"]
    assert store["id"] in {s["id"] for s in admin.listImageStores(zoneid=zone["id"])[
        "imagestore"]}
    assert admin.listVlanIpRanges(zoneid=zone["id"])["vlaniprange"][0]["id"] == vlan["id"]

    template = _ready_template(admin, zone["id"])
    size = min((o for o in admin.listServiceOfferings()["serviceoffering"]
                if not o.get("iscustomized")), key=lambda o: o["memory"])
    vm = admin.deployVirtualMachine(zoneid=zone["id"], templateid=template["id"],
                                    serviceofferingid=size["id"],
                                    networkids=network["id"])["virtualmachine"]
    assert vm["state"] == "Running" and vm["zoneid"] == zone["id"]
    assert vm["hostid"] in {h["id"] for h in hosts}
    assert vm["nic"][0]["networkid"] == network["id"]

    # Nothing in use can be removed: the zone, its pod and its cluster refuse (536/431).
    assert _error(admin.deleteZone, id=zone["id"])["errorcode"] in (431, 530, 536)
    assert _error(admin.deletePod, id=pod["id"])["errorcode"] in (431, 530, 536)
    assert _error(admin.deleteCluster, id=cluster["id"])["errorcode"] in (431, 530, 536)

    # Tear down: VMs, hosts (maintenance first), storage, IP range, cluster, pod,
    # network, secondary storage, zone.
    admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    admin.updateZone(id=zone["id"], allocationstate="Disabled")
    for host in hosts:
        admin.prepareHostForMaintenance(id=host["id"])
        assert admin.deleteHost(id=host["id"])["success"] is True
    assert admin.deleteStoragePool(id=pool["id"])["success"] is True
    assert admin.deleteVlanIpRange(id=vlan["id"])["success"] is True
    assert admin.deleteCluster(id=cluster["id"])["success"] is True
    assert admin.deletePod(id=pod["id"])["success"] is True
    assert admin.deleteNetwork(id=network["id"])["success"] is True
    # The zone keeps its secondary storage while templates live there (CloudStack:
    # "Cannot delete image store with active templates backup!"); drop the zone's
    # copies first, then the store, then the zone.
    for t in admin.listTemplates(templatefilter="all", zoneid=zone["id"]).get("template", []):
        admin.deleteTemplate(id=t["id"], zoneid=zone["id"], forced=True)
    assert admin.deleteImageStore(id=store["id"])["success"] is True
    assert admin.deleteZone(id=zone["id"])["success"] is True
    assert _error(admin.listZones, id=zone["id"])["errorcode"] == 431


def test_marvin_physical_network_steps(admin: CloudStack) -> None:
    zone = admin.createZone(name=unique("pn"), networktype="Advanced", dns1="8.8.8.8",
                            internaldns1="10.0.0.2")["zone"]
    physical = None
    try:
        physical = admin.createPhysicalNetwork(zoneid=zone["id"], name="physnet",
                                               isolationmethods="VLAN")["physicalnetwork"]
        types = {admin.addTrafficType(physicalnetworkid=physical["id"],
                                      traffictype=kind)["traffictype"]["traffictype"]
                 for kind in ("Guest", "Public", "Management")}
        assert types == {"Guest", "Public", "Management"}
        listed = admin.listTrafficTypes(physicalnetworkid=physical["id"])
        assert listed["count"] == 3
    finally:
        # A zone with physical networks cannot be deleted (as in CloudStack).
        if physical is not None:
            admin.deletePhysicalNetwork(id=physical["id"])
        admin.deleteZone(id=zone["id"])
