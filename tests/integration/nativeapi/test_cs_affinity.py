"""Affinity groups through the CloudStack API (cs client): create/list/delete,
deploy into an anti-affinity group spreads VMs over hosts, updateVMAffinityGroup
on a stopped VM, errors in CloudStack's format."""

from __future__ import annotations

import uuid
from typing import Any

from cs import CloudStack, CloudStackApiException

from tests.integration.nativeapi.conftest import Catalog


def _error(call: Any, **params: Any) -> dict[str, Any]:
    try:
        call(**params)
    except CloudStackApiException as exc:
        return exc.error  # type: ignore[no-any-return]
    raise AssertionError("the call succeeded")


def test_anti_affinity_group_spreads_deployments(cs_user: CloudStack, catalog: Catalog) -> None:
    name = f"spread-{uuid.uuid4().hex[:6]}"
    group = cs_user.createAffinityGroup(name=name, type="host anti-affinity",
                                        description="web tier")["affinitygroup"]
    assert group["name"] == name and group["type"] == "host anti-affinity"
    assert group["description"] == "web tier" and group["id"]
    types = {t["type"] for t in cs_user.listAffinityGroupTypes()["affinityGroupType"]}
    assert types == {"host anti-affinity", "host affinity"}
    vms = [cs_user.deployVirtualMachine(**catalog.args(affinitygroupnames=name))["virtualmachine"]
           for _ in range(2)]
    listed = cs_user.listAffinityGroups(id=group["id"])["affinitygroup"][0]
    assert sorted(listed["virtualmachineIds"]) == sorted(v["id"] for v in vms)
    by_vm = cs_user.listAffinityGroups(virtualmachineid=vms[0]["id"])["affinitygroup"]
    assert [g["id"] for g in by_vm] == [group["id"]]
    # Distinct hosts (hostid is admin-only, so compare through the admin view).
    assert _error(cs_user.deleteAffinityGroup, id=group["id"])["errorcode"] == 536  # in use
    for vm in vms:
        cs_user.destroyVirtualMachine(id=vm["id"])  # destroyed members do not hold it
    cs_user.deleteAffinityGroup(id=group["id"])
    assert not cs_user.listAffinityGroups(id=group["id"]).get("affinitygroup")


def test_members_land_on_distinct_hosts(cs: CloudStack, catalog: Catalog) -> None:
    name = f"ha-{uuid.uuid4().hex[:6]}"
    group = cs.createAffinityGroup(name=name, type="host anti-affinity")["affinitygroup"]
    vms = [cs.deployVirtualMachine(**catalog.args(affinitygroupids=group["id"]))["virtualmachine"]
           for _ in range(3)]
    hosts = {v["hostid"] for v in vms}
    assert len(hosts) == 3
    for vm in vms:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    cs.deleteAffinityGroup(name=name)


def test_update_vm_affinity_group_needs_a_stopped_vm(cs_user: CloudStack,
                                                     catalog: Catalog) -> None:
    name = f"together-{uuid.uuid4().hex[:6]}"
    group = cs_user.createAffinityGroup(name=name, type="host affinity")["affinitygroup"]
    vm = cs_user.deployVirtualMachine(**catalog.args())["virtualmachine"]
    assert _error(cs_user.updateVMAffinityGroup, id=vm["id"],
                  affinitygroupids=group["id"])["errorcode"] == 431
    cs_user.stopVirtualMachine(id=vm["id"])
    updated = cs_user.updateVMAffinityGroup(id=vm["id"], affinitygroupids=group["id"])
    assert updated["virtualmachine"]["id"] == vm["id"]
    listed = cs_user.listAffinityGroups(id=group["id"])["affinitygroup"][0]
    assert listed["virtualmachineIds"] == [vm["id"]]
    cs_user.destroyVirtualMachine(id=vm["id"])
    cs_user.deleteAffinityGroup(id=group["id"])


def test_bad_input_gets_cloudstack_errors(cs_user: CloudStack) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    cs_user.createAffinityGroup(name=name, type="host affinity")
    assert _error(cs_user.createAffinityGroup, name=name,
                  type="host affinity")["errorcode"] == 431
    assert _error(cs_user.createAffinityGroup, name="x", type="sometimes")["errorcode"] == 431
    assert _error(cs_user.createAffinityGroup, name="x")["errorcode"] == 431  # type missing
    assert _error(cs_user.deleteAffinityGroup, id=str(uuid.uuid4()))["errorcode"] == 431
    cs_user.deleteAffinityGroup(name=name)
