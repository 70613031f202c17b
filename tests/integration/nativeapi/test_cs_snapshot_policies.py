"""Snapshot policies through exoscale ``cs``: create (and replace), list, update, delete."""

from __future__ import annotations

from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from nativeapi import registry


def _root(cs: CloudStack, catalog: Any) -> tuple[str, str]:
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    return vm["id"], cs.listVolumes(virtualmachineid=vm["id"])["volume"][0]["id"]


def test_policy_lifecycle(cs: CloudStack, catalog: Any) -> None:
    vm, vol = _root(cs, catalog)
    made = cs.createSnapshotPolicy(volumeid=vol, intervaltype="DAILY", schedule="30:02",
                                   timezone="Europe/Paris", maxsnaps=3)["snapshotpolicy"]
    assert registry.response_type_errors(registry.metadata("listSnapshotPolicies"), made) == []
    assert (made["intervaltype"], made["schedule"], made["maxsnaps"]) == (1, "30:02", 3)
    again = cs.createSnapshotPolicy(volumeid=vol, intervaltype="daily", schedule="00:03",
                                    timezone="UTC", maxsnaps=2)["snapshotpolicy"]
    assert again["id"] == made["id"] and again["schedule"] == "00:03"
    listed = cs.listSnapshotPolicies(volumeid=vol)
    assert listed["count"] == 1 and listed["snapshotpolicy"][0]["id"] == made["id"]
    updated = cs.updateSnapshotPolicy(id=made["id"], fordisplay=False)["snapshotpolicy"]
    assert updated["fordisplay"] is False
    assert cs.deleteSnapshotPolicies(id=made["id"])["success"] in (True, "true")
    assert cs.listSnapshotPolicies(volumeid=vol) == {}
    cs.destroyVirtualMachine(id=vm, expunge=True)


@pytest.mark.parametrize(("args", "text"), [
    ({"intervaltype": "YEARLY", "schedule": "1"}, "Unsupported interval type YEARLY"),
    ({"intervaltype": "HOURLY", "schedule": "10:20"},
     "Invalid schedule: 10:20 for interval type: HOURLY"),
    ({"intervaltype": "HOURLY", "schedule": "5", "maxsnaps": 0},
     "maxSnaps should be greater than 0"),
    ({"intervaltype": "WEEKLY", "schedule": "5:1:2", "maxsnaps": 50},
     "maxSnaps exceeds limit: 8 for interval type: WEEKLY"),
])
def test_create_refusals(cs: CloudStack, catalog: Any, args: dict[str, Any], text: str) -> None:
    vm, vol = _root(cs, catalog)
    with pytest.raises(CloudStackApiException) as exc:
        cs.createSnapshotPolicy(volumeid=vol, timezone="UTC", **{"maxsnaps": 2, **args})
    assert (exc.value.error["errorcode"], exc.value.error["errortext"]) == (431, text)
    with pytest.raises(CloudStackApiException) as exc:
        cs.deleteSnapshotPolicies()
    assert exc.value.error["errortext"] == "No policy id (or list of ids) specified."
    cs.destroyVirtualMachine(id=vm, expunge=True)
