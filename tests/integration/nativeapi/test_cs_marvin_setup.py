"""marvin's deployDataCenter for a simulator Advanced zone, call by call, then a
deployment into the zone and marvin's teardown order.

The sequence mirrors DeployDataCenters.createZones: createZone;
createPhysicalNetwork + addTrafficType per type; configureProviders (list the
Disabled provider by name, list/configure its element, enable it);
updatePhysicalNetwork (Enabled + VLAN range); createPod; addCluster/addHost;
createStoragePool; createVlanIpRange; addImageStore; updateZone Enabled.
Runs on a server of its own: it adds zones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.nativeapi.clients import cs_client
from tests.integration.nativeapi.errors import api_error, type_errors
from tests.integration.nativeapi.servers import own_server
from tests.support import LiveServer


@pytest.fixture(scope="module")
def marvin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from own_server(tmp_path_factory, "marvin")


@pytest.fixture(scope="module")
def admin(marvin_server: LiveServer) -> CloudStack:
    return cs_client(marvin_server, fetch_result=True)


def _zone(cs: CloudStack, name: str) -> dict[str, Any]:
    return cs.createZone(name=name, networktype="Advanced", dns1="10.147.28.6",
                         internaldns1="10.147.28.6",
                         guestcidraddress="10.1.1.0/24")["zone"]  # type: ignore[no-any-return]


def _configure_provider(cs: CloudStack, physical_id: str, name: str) -> dict[str, Any]:
    """marvin's configureProviders for one element-backed provider."""
    found = cs.listNetworkServiceProviders(physicalnetworkid=physical_id, state="Disabled",
                                           name=name)["networkserviceprovider"]
    assert len(found) == 1
    if name == "InternalLbVm":
        elements = cs.listInternalLoadBalancerElements(nspid=found[0]["id"])
        element = cs.configureInternalLoadBalancerElement(
            id=elements["internalloadbalancerelement"][0]["id"], enabled="true")[
            "internalloadbalancerelement"]
    else:
        elements = cs.listVirtualRouterElements(nspid=found[0]["id"])
        element = cs.configureVirtualRouterElement(
            id=elements["virtualrouterelement"][0]["id"], enabled="true")["virtualrouterelement"]
    assert element["enabled"] is True and element["nspid"] == found[0]["id"]
    enabled = cs.updateNetworkServiceProvider(id=found[0]["id"], state="Enabled")
    return enabled["networkserviceprovider"]  # type: ignore[no-any-return]


def test_marvin_advanced_zone_then_deploy_and_teardown(admin: CloudStack) -> None:
    name = f"Sandbox-{uuid.uuid4().hex[:6]}"
    zone = _zone(admin, name)
    # --- createPhysicalNetwork + addTrafficTypes
    physical = admin.createPhysicalNetwork(zoneid=zone["id"], name=f"{name}-pnet",
                                           isolationmethods="VLAN")["physicalnetwork"]
    assert (physical["state"], physical["isolationmethods"]) == ("Disabled", "VLAN")
    assert physical["broadcastdomainrange"] == "ZONE" and physical["zonename"] == name
    assert type_errors("createPhysicalNetwork", physical) == []
    types = {}
    for kind in ("Guest", "Management", "Public"):
        # marvin also sends simulatorlabel, which the API does not declare.
        added = admin.addTrafficType(physicalnetworkid=physical["id"], traffictype=kind,
                                     kvmnetworklabel="cloudbr0", simulatorlabel="sim")
        types[kind] = added["traffictype"]
        assert type_errors("addTrafficType", types[kind]) == []
    assert types["Guest"]["kvmnetworklabel"] == "cloudbr0"
    listed = admin.listTrafficTypes(physicalnetworkid=physical["id"])
    assert {t["traffictype"] for t in listed["traffictype"]} == {"Guest", "Management", "Public"}
    # --- configureProviders: the defaults exist, Disabled, until configured.
    providers = admin.listNetworkServiceProviders(physicalnetworkid=physical["id"])
    names = {p["name"]: p for p in providers["networkserviceprovider"]}
    assert {"VirtualRouter", "VpcVirtualRouter", "InternalLbVm",
            "SecurityGroupProvider"} <= set(names)
    assert names["VirtualRouter"]["state"] == "Disabled"
    assert "SourceNat" in names["VirtualRouter"]["servicelist"]
    assert all(type_errors("listNetworkServiceProviders", p) == [] for p in names.values())
    assert api_error(admin.updateNetworkServiceProvider, id=names["VirtualRouter"]["id"],
                  state="Enabled")["errorcode"] == 431  # its element is not enabled yet
    for provider in ("VirtualRouter", "VpcVirtualRouter", "InternalLbVm"):
        assert _configure_provider(admin, physical["id"], provider)["state"] == "Enabled"
    updated = admin.updatePhysicalNetwork(id=physical["id"], state="Enabled",
                                          vlan="100-200")["physicalnetwork"]
    assert (updated["state"], updated["vlan"]) == ("Enabled", "100-200")
    # --- createPods, clusters with hosts and primary storage
    pod = admin.createPod(zoneid=zone["id"], name=f"{name}-POD0", gateway="172.16.15.1",
                          netmask="255.255.255.0", startip="172.16.15.2",
                          endip="172.16.15.200")["pod"]
    cluster = admin.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"{name}-C0",
                               hypervisor="simulator", clustertype="CloudManaged",
                               username="", password="", url="")["cluster"][0]
    hosts = [admin.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                           hypervisor="simulator", username="root", password="password",
                           url=f"http://sim/{name}-C0/{name}-h{n}")["host"][0]
             for n in (0, 1)]
    assert {h["state"] for h in admin.listHosts(zoneid=zone["id"], clusterid=cluster["id"])[
        "host"]} == {"Up"}
    pool = admin.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                   name=f"{name}-PS0",
                                   url="nfs://10.147.28.6:/export/home/sandbox/primary0")[
        "storagepool"]
    # --- createVlanIpRanges (public, virtual network), secondary storage, enable
    vlan = admin.createVlanIpRange(zoneid=zone["id"], vlan="50", forvirtualnetwork="true",
                                   gateway="192.168.2.1", netmask="255.255.255.0",
                                   startip="192.168.2.2", endip="192.168.2.200")["vlan"]
    store = admin.addImageStore(url="nfs://10.147.28.6:/export/home/sandbox/secondary",
                                provider="NFS", zoneid=zone["id"])["imagestore"]
    assert admin.updateZone(id=zone["id"], allocationstate="Enabled")["zone"][
        "allocationstate"] == "Enabled"
    # An enabled zone takes no new physical network.
    assert api_error(admin.createPhysicalNetwork, zoneid=zone["id"], name="late")[
        "errorcode"] == 531
    # --- deploy into it: an isolated guest network, then a VM on it
    offering = next(o for o in admin.listNetworkOfferings()["networkoffering"]
                    if o["name"] == "DefaultIsolatedNetworkOfferingWithSourceNatService")
    network = admin.createNetwork(zoneid=zone["id"], name=f"{name}-guest",
                                  displaytext="guest", networkofferingid=offering["id"])[
        "network"]
    template = next(t for t in admin.listTemplates(templatefilter="executable",
                                                   zoneid=zone["id"])["template"]
                    if t["name"].startswith("amzn2"))
    size = next(o for o in admin.listServiceOfferings()["serviceoffering"]
                if o["name"] == "t2.micro")
    vm = admin.deployVirtualMachine(zoneid=zone["id"], templateid=template["id"],
                                    serviceofferingid=size["id"],
                                    networkids=network["id"])["virtualmachine"]
    assert vm["state"] == "Running" and vm["hostid"] in {h["id"] for h in hosts}
    assert vm["nic"][0]["networkid"] == network["id"]
    # The Guest traffic type and the physical network are in use by the network.
    assert api_error(admin.deleteTrafficType, id=types["Guest"]["id"])["errorcode"] == 536
    assert api_error(admin.deletePhysicalNetwork, id=physical["id"])["errorcode"] == 536
    # --- teardown, in marvin's reverse creation order
    admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    admin.deleteNetwork(id=network["id"])
    admin.updateZone(id=zone["id"], allocationstate="Disabled")
    assert admin.deleteVlanIpRange(id=vlan["id"])["success"] is True
    for host in hosts:
        admin.prepareHostForMaintenance(id=host["id"])
        assert admin.deleteHost(id=host["id"])["success"] is True
    assert admin.deleteStoragePool(id=pool["id"])["success"] is True
    assert admin.deleteCluster(id=cluster["id"])["success"] is True
    assert admin.deletePod(id=pod["id"])["success"] is True
    for added in types.values():
        assert admin.deleteTrafficType(id=added["id"])["success"] is True
    assert admin.listTrafficTypes(physicalnetworkid=physical["id"]) == {}
    assert api_error(admin.deleteZone, id=zone["id"])["errorcode"] == 536  # the physical network
    assert admin.deletePhysicalNetwork(id=physical["id"])["success"] is True
    assert admin.listPhysicalNetworks(zoneid=zone["id"]) == {}
    assert admin.listNetworkServiceProviders(physicalnetworkid=physical["id"]) == {}
    # As in CloudStack, the image store holding the zone's templates stays.
    assert api_error(admin.deleteImageStore, id=store["id"])["errorcode"] == 536


def test_physical_network_blocks_zone_deletion(admin: CloudStack) -> None:
    zone = _zone(admin, f"pn-{uuid.uuid4().hex[:6]}")
    physical = admin.createPhysicalNetwork(zoneid=zone["id"], name="physnet",
                                           isolationmethods="VLAN")["physicalnetwork"]
    for kind in ("Guest", "Public", "Management"):
        admin.addTrafficType(physicalnetworkid=physical["id"], traffictype=kind)
    error = api_error(admin.deleteZone, id=zone["id"])
    assert error["errorcode"] == 536 and "physical networks" in error["errortext"]
    assert admin.deletePhysicalNetwork(id=physical["id"])["success"] is True
    assert admin.deleteZone(id=zone["id"])["success"] is True


def test_physical_network_rules(admin: CloudStack, marvin_server: LiveServer) -> None:
    zone = _zone(admin, f"rules-{uuid.uuid4().hex[:6]}")
    first = admin.createPhysicalNetwork(zoneid=zone["id"], name="one", isolationmethods="VLAN",
                                        vlan="10-20,15-30", tags="fast")["physicalnetwork"]
    second = admin.createPhysicalNetwork(zoneid=zone["id"], name="two", tags="slow")[
        "physicalnetwork"]
    try:
        assert first["vlan"] == "10-30" and first["tags"] == "fast"
        found = admin.listPhysicalNetworks(zoneid=zone["id"], keyword="on")["physicalnetwork"]
        assert [p["id"] for p in found] == [first["id"]]
        assert all(type_errors("listPhysicalNetworks", p) == [] for p in found)
        # Validation: isolation methods, tags, VLAN bounds, broadcast domain range.
        for params in ({"isolationmethods": "VLAN,GRE"}, {"isolationmethods": "CARRIER"},
                       {"tags": "a,b"}, {"vlan": "4000-5000"}, {"vlan": "7"},
                       {"broadcastdomainrange": "POD"}):
            assert api_error(admin.createPhysicalNetwork, zoneid=zone["id"], name="bad",
                          **params)["errorcode"] == 431, params
        # Public traffic on one physical network of the zone only; once per network.
        admin.addTrafficType(physicalnetworkid=first["id"], traffictype="Public")
        assert api_error(admin.addTrafficType, physicalnetworkid=second["id"],
                      traffictype="Public")["errorcode"] == 431
        assert api_error(admin.addTrafficType, physicalnetworkid=first["id"],
                      traffictype="Public")["errorcode"] == 431
        assert api_error(admin.addTrafficType, physicalnetworkid=first["id"],
                      traffictype="guest")["errorcode"] == 431  # exact spelling
        guest = admin.addTrafficType(physicalnetworkid=second["id"], traffictype="Guest")
        relabelled = admin.updateTrafficType(id=guest["traffictype"]["id"],
                                             xennetworklabel="guestbr")["traffictype"]
        assert relabelled["xennetworklabel"] == "guestbr"
        assert type_errors("updateTrafficType", relabelled) == []
        # Providers: add one, subset rules, enable only when ready, delete.
        assert api_error(admin.addNetworkServiceProvider, physicalnetworkid=first["id"],
                      name="VirtualRouter")["errorcode"] == 431  # already a default
        assert api_error(admin.addNetworkServiceProvider, physicalnetworkid=first["id"],
                      name="NoSuchThing")["errorcode"] == 431
        nsp = admin.addNetworkServiceProvider(physicalnetworkid=first["id"], name="Netscaler")[
            "networkserviceprovider"]
        assert nsp["state"] == "Disabled" and set(nsp["servicelist"]) == {"Lb", "StaticNat"}
        assert nsp["destinationphysicalnetworkid"] == "0"
        assert api_error(admin.updateNetworkServiceProvider, id=nsp["id"], state="Enabled")[
            "errorcode"] == 431  # no device behind it
        assert admin.deleteNetworkServiceProvider(id=nsp["id"])["success"] is True
        router = admin.listNetworkServiceProviders(physicalnetworkid=first["id"],
                                                   name="virtualrouter")[
            "networkserviceprovider"][0]
        trimmed = admin.updateNetworkServiceProvider(id=router["id"],
                                                     servicelist="Dhcp,Dns,UserData")
        assert trimmed["networkserviceprovider"]["servicelist"] == ["Dhcp", "Dns", "UserData"]
        sg = admin.listNetworkServiceProviders(physicalnetworkid=first["id"],
                                               name="SecurityGroupProvider")[
            "networkserviceprovider"][0]
        assert admin.updateNetworkServiceProvider(id=sg["id"], state="Enabled")[
            "networkserviceprovider"]["state"] == "Enabled"
        assert api_error(admin.updateNetworkServiceProvider, id=sg["id"], state="Shutdown")[
            "errorcode"] == 431
        config_drive = admin.listNetworkServiceProviders(physicalnetworkid=first["id"],
                                                         name="ConfigDrive")
        assert config_drive["networkserviceprovider"][0]["state"] == "Enabled"
        elements = admin.listVirtualRouterElements(enabled="false")["virtualrouterelement"]
        assert all(type_errors("listVirtualRouterElements", e) == [] for e in elements)
        assert api_error(admin.configureVirtualRouterElement, id=str(uuid.uuid4()),
                      enabled="true")["errorcode"] == 431
        services = admin.listSupportedNetworkServices(provider="VirtualRouter")
        assert "SourceNat" in {s["name"] for s in services["networkservice"]}
        implementors = admin.listTrafficTypeImplementors(traffictype="Public")
        assert implementors["traffictypeimplementorresponse"][0][
            "traffictypeimplementor"] == "PublicNetworkGuru"
        # Users may not touch any of it.
        key, secret = marvin_server.new_user(f"pn-user-{uuid.uuid4().hex[:6]}")
        user = cs_client(marvin_server, key, secret, fetch_result=True)
        assert api_error(user.listPhysicalNetworks)["errorcode"] == 531
        assert api_error(user.createPhysicalNetwork, zoneid=zone["id"], name="x")[
            "errorcode"] == 531
    finally:
        for physical in (first, second):
            admin.deletePhysicalNetwork(id=physical["id"])
        admin.deleteZone(id=zone["id"])
