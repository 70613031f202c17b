"""awsapi.permissions: one reading of a permission-list change for
ModifyImageAttribute and ModifySnapshotAttribute."""

from __future__ import annotations

from typing import Any

import pytest

from awsapi.errors_wire import Ec2Error
from awsapi.permissions import Dialect, PermissionEdit, permission_edit

DIALECT = Dialect(member="LaunchPermission", groups="UserGroups",
                  bad_user=lambda user: Ec2Error("BadUser", user),
                  nothing=lambda: Ec2Error("Nothing", "nothing"))
A, B = "111122223333", "444455556666"


def _code(p: dict[str, Any]) -> str:
    with pytest.raises(Ec2Error) as err:
        permission_edit(p, DIALECT)
    return err.value.code


@pytest.mark.parametrize(("params", "edit"), [
    ({"LaunchPermission": {"Add": [{"UserId": A}, {"UserId": B}]}},
     PermissionEdit(True, (A, B), None)),
    ({"LaunchPermission": {"Remove": [{"Group": "all"}]}}, PermissionEdit(False, (), False)),
    ({"LaunchPermission": {"Add": [{"Group": "all"}]}}, PermissionEdit(True, (), True)),
    ({"OperationType": "add", "UserIds": [A], "UserGroups": ["all"]},
     PermissionEdit(True, (A,), True)),
    ({"OperationType": "remove", "UserIds": [A]}, PermissionEdit(False, (A,), None)),
    # The legacy entries join the structured ones of the same operation.
    ({"OperationType": "add", "UserIds": [A], "LaunchPermission": {"Add": [{"UserId": B}]}},
     PermissionEdit(True, (B, A), None)),
    # OperationType without legacy entries is not needed and does no harm.
    ({"OperationType": "remove", "LaunchPermission": {"Add": [{"UserId": B}]}},
     PermissionEdit(True, (B,), None)),
])
def test_both_forms(params: dict[str, Any], edit: PermissionEdit) -> None:
    assert permission_edit(params, DIALECT) == edit


@pytest.mark.parametrize(("params", "code"), [
    ({"UserIds": [A]}, "MissingParameter"),
    ({"UserGroups": ["all"], "OperationType": ""}, "MissingParameter"),
    ({"UserIds": [A], "OperationType": "Add"}, "InvalidParameterValue"),
    ({"UserIds": [A], "OperationType": "replace"}, "InvalidParameterValue"),
    ({"LaunchPermission": {"Add": [{"UserId": A}], "Remove": [{"UserId": B}]}},
     "InvalidParameterCombination"),
    ({"OperationType": "remove", "UserIds": [A],
      "LaunchPermission": {"Add": [{"UserId": B}]}}, "InvalidParameterCombination"),
    ({"LaunchPermission": {"Add": [{"Group": "everyone"}]}}, "InvalidParameterValue"),
    ({"LaunchPermission": {"Add": [{"OrganizationArn": "arn:aws:organizations::1:o"}]}},
     "InvalidParameterValue"),
    ({"LaunchPermission": {"Add": [{"UserId": "1234"}]}}, "BadUser"),
    ({"OperationType": "add", "UserIds": ["12345678901x"]}, "BadUser"),
    ({}, "Nothing"),
    ({"OperationType": "add"}, "Nothing"),
    ({"LaunchPermission": {"Add": [], "Remove": []}}, "Nothing"),
])
def test_mistakes(params: dict[str, Any], code: str) -> None:
    assert _code(params) == code


def test_the_dialect_names_the_members() -> None:
    snapshots = Dialect(member="CreateVolumePermission", groups="GroupNames",
                        bad_user=lambda user: Ec2Error("BadUser", user),
                        nothing=lambda: Ec2Error("Nothing", "nothing"))
    assert permission_edit({"OperationType": "add", "GroupNames": ["all"]},
                           snapshots) == PermissionEdit(True, (), True)
    # Another operation's member names are not read.
    with pytest.raises(Ec2Error) as err:
        permission_edit({"LaunchPermission": {"Add": [{"UserId": A}]}}, snapshots)
    assert err.value.code == "Nothing"
