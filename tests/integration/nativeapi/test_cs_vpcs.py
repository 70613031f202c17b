"""VPCs and the VPC offering through the CloudStack API."""

from __future__ import annotations

import uuid
from typing import Any

from cs import CloudStack

from tests.integration.nativeapi.errors import api_error, type_errors


def _offering(cs: CloudStack) -> dict[str, Any]:
    return cs.listVPCOfferings()["vpcoffering"][0]  # type: ignore[no-any-return]


def _zone(cs: CloudStack) -> dict[str, Any]:
    return cs.listZones()["zone"][0]  # type: ignore[no-any-return]


def _create(cs: CloudStack, **extra: Any) -> dict[str, Any]:
    params = {"name": f"vpc-{uuid.uuid4().hex[:6]}", "cidr": "10.200.0.0/16",
              "zoneid": _zone(cs)["id"], "vpcofferingid": _offering(cs)["id"], **extra}
    return cs.createVPC(**params)["vpc"]  # type: ignore[no-any-return]


def test_one_default_vpc_offering(cs: CloudStack, cs_user: CloudStack) -> None:
    body = cs_user.listVPCOfferings()
    assert body["count"] == 1
    offering = body["vpcoffering"][0]
    assert offering["name"] == "Default VPC offering" and offering["isdefault"] is True
    assert offering["state"] == "Enabled"
    assert {s["name"] for s in offering["service"]} >= {"SourceNat", "Dhcp", "NetworkACL"}
    assert type_errors("listVPCOfferings", offering) == []
    assert cs.listVPCOfferings(id=offering["id"])["count"] == 1
    assert cs.listVPCOfferings(name="Default VPC offering")["count"] == 1
    assert cs.listVPCOfferings(isdefault=False) == {}
    assert cs.listVPCOfferings(supportedservices="Nope") == {}
    assert cs.listVPCOfferings(id=str(uuid.uuid4())) == {}


def test_create_list_delete_vpc(cs: CloudStack) -> None:
    zone = _zone(cs)
    vpc = _create(cs, name="my-vpc", displaytext="mine")
    try:
        assert vpc["name"] == "my-vpc" and vpc["displaytext"] == "mine"
        assert vpc["cidr"] == "10.200.0.0/16" and vpc["state"] == "Enabled"
        assert vpc["zoneid"] == zone["id"] and vpc["zonename"] == zone["name"]
        assert vpc["vpcofferingname"] == "Default VPC offering"
        assert vpc["account"] == "admin" and vpc["domain"] == "ROOT"
        assert type_errors("createVPC", vpc) == []
        listed = cs.listVPCs(id=vpc["id"])
        assert listed["count"] == 1 and listed["vpc"][0]["id"] == vpc["id"]
        assert type_errors("listVPCs", listed["vpc"][0]) == []
        assert vpc["id"] in {v["id"] for v in cs.listVPCs(name="my-vpc")["vpc"]}
        assert vpc["id"] in {v["id"] for v in cs.listVPCs(zoneid=zone["id"])["vpc"]}
        assert cs.listVPCs(id=vpc["id"], state="Disabled") == {}
        assert cs.listVPCs(id=vpc["id"], vpcofferingid=str(uuid.uuid4())) == {}
    finally:
        done = cs.deleteVPC(id=vpc["id"])
    assert done["success"] is True
    assert cs.listVPCs(id=vpc["id"]) == {}
    assert api_error(cs.deleteVPC, id=vpc["id"])["errorcode"] == 431


def test_async_create_returns_id_and_job(cs_submit: CloudStack, cs: CloudStack) -> None:
    body = cs_submit.createVPC(name="async-vpc", cidr="10.201.0.0/16",
                               zoneid=_zone(cs)["id"], vpcofferingid=_offering(cs)["id"])
    assert set(body) == {"id", "jobid"}
    result = cs_submit.queryAsyncJobResult(jobid=body["jobid"])
    assert result["jobstatus"] == 1 and result["jobresult"]["vpc"]["id"] == body["id"]
    cs.deleteVPC(id=body["id"])


def test_vpcs_belong_to_their_account(cs: CloudStack, cs_user: CloudStack) -> None:
    mine = _create(cs_user, name="user-vpc")
    try:
        assert mine["account"] != "admin"
        assert [v["id"] for v in cs_user.listVPCs()["vpc"]] == [mine["id"]]
    finally:
        cs_user.deleteVPC(id=mine["id"])
    admins = _create(cs)
    try:
        assert cs_user.listVPCs() == {}
        assert api_error(cs_user.deleteVPC, id=admins["id"])["errorcode"] == 431
    finally:
        cs.deleteVPC(id=admins["id"])


def test_create_vpc_errors(cs: CloudStack) -> None:
    zone, offering = _zone(cs), _offering(cs)
    base = {"name": "bad", "zoneid": zone["id"], "vpcofferingid": offering["id"],
            "cidr": "10.202.0.0/16"}
    assert api_error(cs.createVPC, **{**base, "vpcofferingid": str(uuid.uuid4())})[
        "errorcode"] == 431
    assert api_error(cs.createVPC, **{**base, "cidr": "not-a-cidr"})["errorcode"] == 431
    assert api_error(cs.createVPC, **{**base, "zoneid": str(uuid.uuid4())})["errorcode"] == 431
    no_cidr = {k: v for k, v in base.items() if k != "cidr"}
    assert api_error(cs.createVPC, **no_cidr)["errorcode"] == 431
    assert cs.listVPCs(name="bad") == {}
