"""Volumes and snapshots through the CloudStack API (cs and libcloud clients)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack, CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider, StorageVolumeState

from nativeapi import registry

GIB = 1024**3


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def _offering(cs: CloudStack, name: str) -> dict[str, Any]:
    return next(o for o in cs.listDiskOfferings()["diskoffering"] if o["name"] == name)


def _name() -> str:
    return f"vol-{uuid.uuid4().hex[:8]}"


def test_create_returns_id_and_jobid_then_the_job_shows_the_volume(
        cs_submit: CloudStack, cs: CloudStack, catalog: Any) -> None:
    small = _offering(cs, "Small")
    name = _name()
    submitted = cs_submit.createVolume(zoneid=catalog.zone_id, diskofferingid=small["id"],
                                       name=name)
    assert set(submitted) == {"id", "jobid"}
    job = cs_submit.queryAsyncJobResult(jobid=submitted["jobid"])
    assert job["jobstatus"] == 1 and job["jobresultcode"] == 0
    assert job["jobinstancetype"] == "Volume" and job["jobinstanceid"] == submitted["id"]
    vol = job["jobresult"]["volume"]
    assert (vol["id"], vol["name"], vol["type"], vol["state"]) == (
        submitted["id"], name, "DATADISK", "Allocated")
    assert vol["size"] == 5 * GIB and vol["diskofferingname"] == "Small"
    assert vol["zoneid"] == catalog.zone_id and "virtualmachineid" not in vol
    meta = registry.metadata("listVolumes")
    assert registry.response_type_errors(meta, vol) == []
    [listed] = cs.listVolumes(id=vol["id"])["volume"]
    assert listed["id"] == vol["id"] and listed["account"] == "admin"
    assert cs.listVolumes(name=name)["count"] == 1
    assert cs.listVolumes(keyword=name[4:])["count"] == 1
    assert cs.deleteVolume(id=vol["id"]) == {"success": True}


def test_attach_resize_detach_delete(cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    vol = cs.createVolume(zoneid=catalog.zone_id, size=2, name=_name())["volume"]
    assert vol["size"] == 2 * GIB and "diskofferingid" not in vol

    attached = cs.attachVolume(id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"] and attached["vmname"] == vm["name"]
    assert attached["state"] == "Ready" and attached["deviceid"] == 1
    on_vm = cs.listVolumes(virtualmachineid=vm["id"])["volume"]
    assert sorted(v["type"] for v in on_vm) == ["DATADISK", "ROOT"]
    assert [v["id"] for v in cs.listVolumes(virtualmachineid=vm["id"], type="DATADISK")[
        "volume"]] == [vol["id"]]

    err = _error(cs.deleteVolume, id=vol["id"])
    assert err["errorcode"] == 536  # still attached

    resized = cs.resizeVolume(id=vol["id"], size=4)["volume"]
    assert resized["size"] == 4 * GIB and resized["state"] == "Ready"
    err = _error(cs.resizeVolume, id=vol["id"], size=3)
    assert err["errorcode"] == 431 and "grow" in err["errortext"]

    # detach by (virtualmachineid, deviceid), the other way to name it
    detached = cs.detachVolume(virtualmachineid=vm["id"], deviceid=1)["volume"]
    assert detached["id"] == vol["id"] and "virtualmachineid" not in detached
    err = _error(cs.detachVolume, id=vol["id"])
    assert err["errorcode"] == 431

    assert cs.deleteVolume(id=vol["id"]) == {"success": True}
    err = _error(cs.listVolumes, id=vol["id"])
    assert err["errorcode"] == 431 and f"value={vol['id']} due to" in err["errortext"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_snapshot_then_volume_from_it(cs: CloudStack, cs_submit: CloudStack,
                                      catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    [root] = cs.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"]
    submitted = cs_submit.createSnapshot(volumeid=root["id"], name="nightly",
                                         **{"tags[0].key": "kind", "tags[0].value": "test"})
    assert set(submitted) == {"id", "jobid"}
    snap = cs.queryAsyncJobResult(jobid=submitted["jobid"])["snapshot"]  # polls the job
    assert (snap["id"], snap["name"], snap["state"]) == (submitted["id"], "nightly", "BackedUp")
    assert snap["volumeid"] == root["id"] and snap["volumetype"] == "ROOT"
    assert snap["snapshottype"] == "MANUAL" and snap["virtualsize"] == root["size"]
    assert snap["tags"][0]["key"] == "kind" and snap["tags"][0]["resourcetype"] == "Snapshot"
    assert registry.response_type_errors(registry.metadata("listSnapshots"), snap) == []

    assert [s["id"] for s in cs.listSnapshots(volumeid=root["id"])["snapshot"]] == [snap["id"]]
    assert cs.listSnapshots(id=snap["id"], snapshottype="RECURRING") == {}
    assert cs.listSnapshots(**{"tags[0].key": "kind", "tags[0].value": "test",
                               "volumeid": root["id"]})["count"] == 1

    clone = cs.createVolume(snapshotid=snap["id"], name=_name())["volume"]
    assert clone["snapshotid"] == snap["id"] and clone["size"] == root["size"]
    assert clone["state"] == "Ready" and clone["zoneid"] == catalog.zone_id

    assert cs.deleteSnapshot(id=snap["id"]) == {"success": True}
    assert cs.listSnapshots(volumeid=root["id"]) == {}
    cs.deleteVolume(id=clone["id"])
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_parameter_errors(cs: CloudStack, catalog: Any) -> None:
    err = _error(cs.createVolume, zoneid=catalog.zone_id)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert err["errortext"] == ("Either disk Offering Id or snapshot Id must be passed whilst "
                                "creating volume")
    err = _error(cs.createVolume, size=1)
    assert err["errortext"] == ("Unable to execute API command createvolume due to missing "
                                "parameter zoneid")
    err = _error(cs.attachVolume, id=str(uuid.uuid4()))
    assert err["errortext"].endswith("due to missing parameter virtualmachineid")
    missing = str(uuid.uuid4())
    err = _error(cs.resizeVolume, id=missing, size=10)
    assert err["errortext"] == (
        "Unable to execute API command resizevolume due to invalid value. Invalid parameter "
        f"id value={missing} due to incorrect long value format, or entity does not exist or "
        "due to incorrect parameter annotation for the field in api cmd class.")
    err = _error(cs.detachVolume)
    assert err["errortext"] == ("Please provide either a volume id, or a tuple(device id, "
                                "instance id)")


def test_users_cannot_touch_other_accounts_volumes(cs: CloudStack, cs_user: CloudStack,
                                                   catalog: Any) -> None:
    mine = cs_user.createVolume(zoneid=catalog.zone_id, size=1, name=_name())["volume"]
    theirs = cs.createVolume(zoneid=catalog.zone_id, size=1, name=_name())["volume"]
    assert [v["id"] for v in cs_user.listVolumes()["volume"]] == [mine["id"]]
    for call in (cs_user.deleteVolume, cs_user.listVolumes):
        err = _error(call, id=theirs["id"])
        assert err["errorcode"] == 431 and f"value={theirs['id']} due to" in err["errortext"]
    # The admin sees both with listall, only its own without.
    ids = {v["id"] for v in cs.listVolumes(listall=True, fetch_list=True)}
    assert {mine["id"], theirs["id"]} <= ids
    assert mine["id"] not in {v["id"] for v in cs.listVolumes(fetch_list=True)}
    assert "storageid" in cs.listVolumes(id=theirs["id"])["volume"][0]
    assert "storageid" not in cs_user.listVolumes(id=mine["id"])["volume"][0]
    cs.deleteVolume(id=theirs["id"])
    cs_user.deleteVolume(id=mine["id"])


def _libcloud(server: Any, key: str, secret: str) -> Any:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(key, secret, host=url.hostname, port=url.port,
                                             secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    return driver


def test_libcloud_volume_and_snapshot_lifecycle(server: Any, user: Any, catalog: Any) -> None:
    driver = _libcloud(server, user.key, user.secret)
    image = next(i for i in driver.list_images() if i.name.startswith("amzn2"))
    size = next(s for s in driver.list_sizes() if s.name == "t2.micro")
    node = driver.create_node(name=f"lc-{uuid.uuid4().hex[:6]}", size=size, image=image,
                              ex_start_vm=True)
    volume = driver.create_volume(size=5, name=_name())
    assert volume.size == 5 and volume.state == StorageVolumeState.AVAILABLE
    assert driver.attach_volume(node, volume) is True
    [data] = [v for v in driver.list_volumes(node=node) if v.id == volume.id]
    assert data.state == StorageVolumeState.INUSE and data.extra["instance_id"] == node.id
    assert data.extra["volume_type"] == "DATADISK" and data.size == 5 * GIB

    snapshot = driver.create_volume_snapshot(data)
    assert snapshot.extra["volume_id"] == volume.id
    assert [s.id for s in driver.list_snapshots()] == [snapshot.id]
    assert driver.destroy_volume_snapshot(snapshot) is True

    assert driver.detach_volume(volume) is True
    [data] = [v for v in driver.list_volumes() if v.id == volume.id]
    assert data.state == StorageVolumeState.AVAILABLE
    assert driver.destroy_volume(volume) is True
    assert volume.id not in {v.id for v in driver.list_volumes()}
    driver.destroy_node(node)


def test_volume_and_tag_from_cloudstack_are_visible_to_ec2(server: Any, user: Any,
                                                           cs_user: CloudStack,
                                                           catalog: Any) -> None:
    vol = cs_user.createVolume(zoneid=catalog.zone_id, size=3, name=_name())["volume"]
    marker = uuid.uuid4().hex
    cs_user.createTags(resourcetype="Volume", resourceids=vol["id"],
                       **{"tags[0].key": "marker", "tags[0].value": marker})
    ec2 = server.ec2(user.key, user.secret)
    [seen] = ec2.describe_volumes(
        Filters=[{"Name": "tag:marker", "Values": [marker]}])["Volumes"]
    assert seen["Size"] == 3 and seen["State"] == "available"
    assert seen["AvailabilityZone"] == vol["zonename"]
    assert seen["Tags"] == [{"Key": "marker", "Value": marker}]
    ec2.delete_volume(VolumeId=seen["VolumeId"])
    err = _error(cs_user.listVolumes, id=vol["id"])
    assert err["errorcode"] == 431
