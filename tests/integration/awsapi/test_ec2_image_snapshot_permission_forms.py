"""ModifyImageAttribute (launchPermission) and ModifySnapshotAttribute
(createVolumePermission) read a permission change the same way
(awsapi/permissions.py): the structured Add/Remove form and the legacy
OperationType + UserId.N / UserGroup.N form, with the same answers to the same
mistakes; only the codes AWS words per resource differ (a malformed account
number, a request that changes nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, completed_snapshot, error_code, new_people

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def people(server: Any) -> dict[str, Any]:
    return new_people(server, "owner", "friend")


@pytest.fixture(scope="module")
def resources(people: dict[str, Any]) -> Iterator[dict[str, str]]:
    """A completed snapshot of the owner's and an image registered from it."""
    owner = people["owner"]
    vid, sid = completed_snapshot(owner)
    image = owner.register_image(
        Name=f"forms-{uuid.uuid4().hex[:8]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}],
    )["ImageId"]
    owner.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    yield {"snapshot": sid, "image": image}
    owner.deregister_image(ImageId=image)
    owner.delete_snapshot(SnapshotId=sid)
    owner.delete_volume(VolumeId=vid)


class _Op:
    """One of the two operations, called with the parameters both share."""

    def __init__(self, people: dict[str, Any], resources: dict[str, str], kind: str) -> None:
        self.owner, self.kind = people["owner"], kind
        self.rid = resources[kind]

    def modify(self, *, structured: dict[str, Any] | None = None,
               op: str | None = None, users: list[str] | None = None,
               groups: list[str] | None = None) -> None:
        kw: dict[str, Any] = {}
        if op is not None:
            kw["OperationType"] = op
        if users is not None:
            kw["UserIds"] = users
        if self.kind == "image":
            if groups is not None:
                kw["UserGroups"] = groups
            if structured is not None:
                kw["LaunchPermission"] = structured
            self.owner.modify_image_attribute(ImageId=self.rid, Attribute="launchPermission",
                                              **kw)
        else:
            if groups is not None:
                kw["GroupNames"] = groups
            if structured is not None:
                kw["CreateVolumePermission"] = structured
            self.owner.modify_snapshot_attribute(SnapshotId=self.rid,
                                                 Attribute="createVolumePermission", **kw)

    def permissions(self) -> list[dict[str, str]]:
        if self.kind == "image":
            return self.owner.describe_image_attribute(  # type: ignore[no-any-return]
                ImageId=self.rid, Attribute="launchPermission")["LaunchPermissions"]
        return self.owner.describe_snapshot_attribute(  # type: ignore[no-any-return]
            SnapshotId=self.rid, Attribute="createVolumePermission")["CreateVolumePermissions"]


@pytest.fixture(params=["image", "snapshot"])
def op(request: pytest.FixtureRequest, people: dict[str, Any],
       resources: dict[str, str]) -> _Op:
    return _Op(people, resources, request.param)


def _fails(call: Callable[[], None]) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err), str(err.value.response["Error"]["Message"])


def test_both_forms_add_and_remove(op: _Op, people: dict[str, Any]) -> None:
    friend = people["friend_id"]
    op.modify(op="add", users=[friend])
    assert op.permissions() == [{"UserId": friend}]
    op.modify(structured={"Remove": [{"UserId": friend}]})
    assert op.permissions() == []
    op.modify(structured={"Add": [{"Group": "all"}, {"UserId": friend}]})
    assert op.permissions() == [{"Group": "all"}, {"UserId": friend}]
    op.modify(op="remove", groups=["all"], users=[friend])
    assert op.permissions() == []


def test_same_mistakes_same_answers(op: _Op, people: dict[str, Any]) -> None:
    friend = people["friend_id"]
    # Legacy entries without OperationType: the parameter is missing (both).
    assert _fails(lambda: op.modify(users=[friend])) == (
        "MissingParameter", "The request must contain the parameter operationType")
    assert _fails(lambda: op.modify(groups=["all"]))[0] == "MissingParameter"
    assert _fails(lambda: op.modify(op="replace", users=[friend]))[0] == \
        "InvalidParameterValue"
    assert _fails(lambda: op.modify(structured={"Add": [{"UserId": friend}],
                                                "Remove": [{"Group": "all"}]}))[0] == \
        "InvalidParameterCombination"
    # The legacy form's operation applies to its entries: add + a structured remove.
    assert _fails(lambda: op.modify(op="add", users=[friend],
                                    structured={"Remove": [{"Group": "all"}]}))[0] == \
        "InvalidParameterCombination"
    assert _fails(lambda: op.modify(structured={"Add": [{"Group": "friends"}]}))[0] == \
        "InvalidParameterValue"
    assert op.permissions() == []  # nothing was half-applied


def test_codes_aws_words_per_resource(op: _Op) -> None:
    bad_user = "InvalidAMIAttributeItemValue" if op.kind == "image" else \
        "InvalidUserID.Malformed"
    assert _fails(lambda: op.modify(structured={"Add": [{"UserId": "12"}]}))[0] == bad_user
    assert _fails(lambda: op.modify(op="add", users=["not-a-number"]))[0] == bad_user
    nothing = _fails(lambda: op.modify(structured={"Add": []}))
    if op.kind == "image":
        assert nothing == ("InvalidParameterCombination", "No attributes specified.")
    else:
        assert nothing[0] == "MissingParameter"
    assert op.permissions() == []

