"""Offering administration and catalog lists through the CloudStack API: service and
disk offerings, OS categories, hypervisors and capabilities, alerts."""

from __future__ import annotations

import uuid
from typing import Any

from cs import CloudStack

from tests.integration.nativeapi.conftest import Catalog
from tests.integration.nativeapi.errors import api_error, type_errors


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _offering_ids(cs: CloudStack) -> set[str]:
    return {o["id"] for o in cs.listServiceOfferings().get("serviceoffering", [])}


def test_service_offering_lifecycle(cs: CloudStack) -> None:
    name = _name("so")
    made = cs.createServiceOffering(name=name, displaytext="tiny", cpunumber=1, cpuspeed=500,
                                    memory=256, hosttags="fast", tags="ssd")["serviceoffering"]
    assert (made["name"], made["cpunumber"], made["cpuspeed"], made["memory"]) == (
        name, 1, 500, 256)
    assert made["hosttags"] == "fast" and made["storagetags"] == "ssd"
    assert made["state"] == "Active" and type_errors("createServiceOffering", made) == []
    assert made["id"] in _offering_ids(cs)
    assert api_error(cs.createServiceOffering, name=name, cpunumber=1,
                     memory=256)["errorcode"] == 431
    assert api_error(cs.createServiceOffering, name=_name("so"),
                     cpunumber=1)["errorcode"] == 431  # custom offerings: unsupported

    renamed = _name("so2")
    updated = cs.updateServiceOffering(id=made["id"], name=renamed,
                                       displaytext="renamed")["serviceoffering"]
    assert updated["name"] == renamed and updated["displaytext"] == "renamed"
    assert type_errors("updateServiceOffering", updated) == []

    assert cs.deleteServiceOffering(id=made["id"])["success"] is True
    assert made["id"] not in _offering_ids(cs)
    assert api_error(cs.deleteServiceOffering, id=made["id"])["errorcode"] == 431
    # Inactive offerings can be brought back with updateServiceOffering(state=Active).
    back = cs.updateServiceOffering(id=made["id"], state="Active")["serviceoffering"]
    assert back["state"] == "Active" and made["id"] in _offering_ids(cs)
    cs.deleteServiceOffering(id=made["id"])


def test_deleting_an_offering_in_use_marks_it_inactive(cs: CloudStack,
                                                       catalog: Catalog) -> None:
    made = cs.createServiceOffering(name=_name("so"), cpunumber=1, cpuspeed=500,
                                    memory=256)["serviceoffering"]
    vm = cs.deployVirtualMachine(**catalog.args(serviceofferingid=made["id"]))[
        "virtualmachine"]
    try:
        assert cs.deleteServiceOffering(id=made["id"])["success"] is True
        assert made["id"] not in _offering_ids(cs)
        listed = cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
        assert listed["serviceofferingid"] == made["id"]
        err = api_error(cs.deployVirtualMachine, **catalog.args(serviceofferingid=made["id"]))
        assert err["errorcode"] == 431
    finally:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_disk_offering_lifecycle(cs: CloudStack) -> None:
    name = _name("do")
    made = cs.createDiskOffering(name=name, disksize=7, tags="ssd")["diskoffering"]
    assert made["disksize"] == 7 and made["iscustomized"] is False and made["tags"] == "ssd"
    assert type_errors("createDiskOffering", made) == []
    custom = cs.createDiskOffering(name=_name("do"), customized=True)["diskoffering"]
    assert custom["iscustomized"] is True
    assert api_error(cs.createDiskOffering, name=_name("do"))["errorcode"] == 431
    assert api_error(cs.createDiskOffering, name=name, disksize=1)["errorcode"] == 431

    updated = cs.updateDiskOffering(id=made["id"], displaytext="seven")["diskoffering"]
    assert updated["displaytext"] == "seven" and type_errors("updateDiskOffering", updated) == []

    for offering in (made, custom):
        assert cs.deleteDiskOffering(id=offering["id"])["success"] is True
    listed = {o["id"] for o in cs.listDiskOfferings().get("diskoffering", [])}
    assert made["id"] not in listed and custom["id"] not in listed
    assert api_error(cs.deleteDiskOffering, id=made["id"])["errorcode"] == 431


def test_offering_admin_is_for_admins(cs_user: CloudStack) -> None:
    for call, params in ((cs_user.createServiceOffering,
                          {"name": "x", "cpunumber": 1, "memory": 1}),
                         (cs_user.createDiskOffering, {"name": "x", "disksize": 1}),
                         (cs_user.deleteServiceOffering, {"id": str(uuid.uuid4())}),
                         (cs_user.updateDiskOffering, {"id": str(uuid.uuid4())}),
                         (cs_user.listHypervisorCapabilities, {}),
                         (cs_user.listAlerts, {})):
        assert api_error(call, **params)["errorcode"] == 531


def test_os_categories_match_os_types(cs_user: CloudStack) -> None:
    categories = cs_user.listOsCategories()
    names = {c["name"] for c in categories["oscategory"]}
    assert categories["count"] == len(names) > 0
    type_categories = {t["oscategoryname"] for t in cs_user.listOsTypes()["ostype"]}
    assert names == type_categories
    first = categories["oscategory"][0]
    assert type_errors("listOsCategories", first) == []
    assert cs_user.listOsCategories(id=first["id"])["oscategory"] == [first]
    assert cs_user.listOsCategories(name=first["name"])["count"] == 1


def test_hypervisors(cs: CloudStack, cs_user: CloudStack, catalog: Catalog) -> None:
    in_zone = {h["name"] for h in cs_user.listHypervisors(zoneid=catalog.zone_id)["hypervisor"]}
    clusters = {c["hypervisortype"] for c in cs.listClusters(zoneid=catalog.zone_id)["cluster"]}
    assert in_zone == clusters and "Simulator" in in_zone
    assert api_error(cs_user.listHypervisors, zoneid=str(uuid.uuid4()))["errorcode"] == 431
    caps = cs.listHypervisorCapabilities()
    assert {c["hypervisor"] for c in caps["hypervisorCapabilities"]} >= {"KVM", "Simulator"}
    for c in caps["hypervisorCapabilities"]:
        assert type_errors("listHypervisorCapabilities", c) == []
    kvm = cs.listHypervisorCapabilities(hypervisor="kvm")["hypervisorCapabilities"]
    assert [c["hypervisor"] for c in kvm] == ["KVM"]


def test_alerts_list_is_well_formed(cs: CloudStack) -> None:
    body: dict[str, Any] = cs.listAlerts()
    assert body.get("count", 0) == 0 and body.get("alert", []) == []
    assert api_error(cs.listAlerts, page=1, pagesize=-1)["errorcode"] == 431
