"""The change a Modify*Attribute request makes to a permission list (a
snapshot's createVolumePermission, an image's launchPermission), read from
either of the forms EC2 takes:

* the structured one: ``<Member>.Add.N`` or ``<Member>.Remove.N`` entries,
  each a ``UserId`` (an account number) or a ``Group`` (only ``all``: public);
* the legacy one: ``OperationType`` (``add`` or ``remove``) with ``UserId.N``
  and ``UserGroup.N``.

Both operations document the two forms alike and answer alike where the
documentation says nothing of a difference: legacy entries without an
``OperationType`` are MissingParameter (the parameter the request lacks), an
``OperationType`` other than add/remove is InvalidParameterValue, adding and
removing in one request is InvalidParameterCombination, a group other than
``all`` is InvalidParameterValue. What differs is spelled by :class:`Dialect`:
the members' names, the code for a malformed account number
(InvalidAMIAttributeItemValue for images, InvalidUserID.Malformed for
snapshots) and the answer to a request that changes nothing (for images AWS
answers InvalidParameterCombination "No attributes specified.").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awsapi.errors_wire import Ec2Error

ACCOUNT_NUMBER = re.compile(r"[0-9]{12}")
_OPS = ("add", "remove")


@dataclass(frozen=True)
class Dialect:
    """How one operation names and words its permission parameters.

    ``member``: the structured form's parameter (``LaunchPermission``);
    ``groups``: the legacy form's group list (``UserGroups``); ``bad_user(id)``
    and ``nothing()``: the errors for a malformed account number and for a
    request without any entry."""

    member: str
    groups: str
    bad_user: Callable[[str], Ec2Error]
    nothing: Callable[[], Ec2Error]


@dataclass(frozen=True)
class PermissionEdit:
    """One parsed change: add (or remove) ``users`` (account numbers, in the
    order given) and make the resource public (True) or private (False) when a
    ``Group`` entry says so (None: unchanged)."""

    add: bool
    users: tuple[str, ...]
    public: bool | None


def permission_edit(p: dict[str, Any], dialect: Dialect) -> PermissionEdit:
    """The change ``p`` (a parsed request) asks for, or an :class:`Ec2Error`."""
    structured = p.get(dialect.member) or {}
    adds, removes = list(structured.get("Add") or []), list(structured.get("Remove") or [])
    legacy = [{"UserId": u} for u in p.get("UserIds") or []] + \
        [{"Group": g} for g in p.get(dialect.groups) or []]
    if legacy:
        op = p.get("OperationType")
        if op is None or op == "":
            raise Ec2Error("MissingParameter",
                           "The request must contain the parameter operationType")
        if op not in _OPS:
            raise Ec2Error("InvalidParameterValue",
                           f"Value ({op}) for parameter operationType is invalid. "
                           f"Valid values are add and remove.")
        (adds if op == "add" else removes).extend(legacy)
    if adds and removes:
        raise Ec2Error("InvalidParameterCombination",
                       f"{dialect.member}.Add and {dialect.member}.Remove cannot be "
                       f"combined in one request")
    entries = adds or removes
    if not entries:
        raise dialect.nothing()
    public: bool | None = None
    users: list[str] = []
    for entry in entries:
        group, user = entry.get("Group"), entry.get("UserId")
        if group is not None:
            if group != "all":
                raise Ec2Error("InvalidParameterValue",
                               f"Value ({group}) for parameter group is invalid. "
                               f"Only 'all' is supported.")
            public = bool(adds)
        elif user is not None:
            if not ACCOUNT_NUMBER.fullmatch(user):
                raise dialect.bad_user(user)
            users.append(user)
        elif entry.get("OrganizationArn") or entry.get("OrganizationalUnitArn"):
            raise Ec2Error("InvalidParameterValue",
                           "Organization launch permissions are not supported")
    return PermissionEdit(bool(adds), tuple(users), public)
