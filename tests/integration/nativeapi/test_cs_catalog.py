"""Catalog lists through exoscale ``cs``: regions, zones, templates, offerings, OS types."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from nativeapi import registry


def _conforms(command: str, item: dict[str, Any]) -> list[str]:
    return registry.response_type_errors(registry.metadata(command), item, allow_unknown=True)


def test_regions_and_zones(cs: CloudStack, cs_user: CloudStack) -> None:
    regions = cs.listRegions()
    assert regions["count"] == 1
    assert regions["region"][0] == {"id": 1, "name": "us-east-1",
                                    "endpoint": regions["region"][0]["endpoint"],
                                    "gslbserviceenabled": True, "portableipserviceenabled": False}
    zones = cs_user.listZones(available=True)
    assert zones["count"] == 1
    zone = zones["zone"][0]
    assert zone["name"] == "us-east-1a" and zone["allocationstate"] == "Enabled"
    assert zone["networktype"] == "Advanced"
    assert _conforms("listZones", zone) == []
    assert cs.listZones(id=zone["id"])["zone"][0]["id"] == zone["id"]
    assert cs.listZones(name="nope") == {}
    with pytest.raises(CloudStackApiException) as err:
        cs.listZones(id=str(uuid.uuid4()))
    assert err.value.error["errorcode"] == 431


def test_templates_one_row_per_zone(cs: CloudStack) -> None:
    listed = cs.listTemplates(templatefilter="featured")
    assert listed["count"] == len(listed["template"]) >= 4
    tmpl = next(t for t in listed["template"] if t["name"].startswith("CentOS 5.6"))
    assert tmpl["isready"] is True and tmpl["status"] == "Download Complete"
    assert tmpl["templatetype"] == "BUILTIN" and tmpl["format"] == "QCOW2"
    assert tmpl["hypervisor"] == "Simulator" and tmpl["size"] == 2 * 1024**3
    assert tmpl["ostypename"] == "CentOS 5.6 (64-bit)" and tmpl["ostypeid"]
    assert tmpl["zonename"] == "us-east-1a" and tmpl["account"] == "admin"
    assert _conforms("listTemplates", tmpl) == []
    same = cs.listTemplates(templatefilter="executable", id=tmpl["id"], zoneid=tmpl["zoneid"])
    assert [t["id"] for t in same["template"]] == [tmpl["id"]]
    assert cs.listTemplates(templatefilter="self", keyword="CentOS")["count"] == 1
    assert cs.listTemplates(templatefilter="community") == {}
    total = cs.listTemplates(templatefilter="all")["count"]
    paged = cs.listTemplates(templatefilter="all", page=2, pagesize=total - 1)
    assert paged["count"] == total and len(paged["template"]) == 1


def test_service_offerings(cs: CloudStack) -> None:
    offerings = cs.listServiceOfferings()["serviceoffering"]
    micro = next(o for o in offerings if o["name"] == "t2.micro")
    assert (micro["cpunumber"], micro["cpuspeed"], micro["memory"]) == (1, 1000, 1024)
    assert _conforms("listServiceOfferings", micro) == []
    assert cs.listServiceOfferings(id=micro["id"])["count"] == 1
    assert {o["name"] for o in cs.listServiceOfferings(keyword="t3.")["serviceoffering"]} >= {
        "t3.micro", "t3.large"}
    assert all(o["memory"] == 8192 for o in cs.listServiceOfferings(memory=8192)[
        "serviceoffering"])


def test_disk_offerings_and_os_types(cs: CloudStack) -> None:
    disks = {d["name"]: d for d in cs.listDiskOfferings()["diskoffering"]}
    assert disks["Small"]["disksize"] == 5 and disks["Custom"]["iscustomized"] is True
    assert _conforms("listDiskOfferings", disks["Medium"]) == []
    types = cs.listOsTypes(description="centos")["ostype"]
    assert [t["description"] for t in types] == ["CentOS 5.6 (64-bit)"]
    assert _conforms("listOsTypes", types[0]) == []
    assert cs.listOsTypes()["count"] >= 6
