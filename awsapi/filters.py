"""EC2 filter names -> engine criteria, per Describe operation.

Each entry maps a wire filter name to an engine field and a value transform
(EC2 ids -> sids, EC2 state names -> engine states ...). ``tag:<key>``,
``tag-key`` and ``tag-value`` pass straight through; a name not in the map
gets AWS's ``InvalidParameterValue`` ("The filter 'x' is invalid").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
from awsapi.views import STATE_BY_CODE, STATE_BY_NAME
from engine.querying import Criterion

Transform = Callable[[Sequence[str]], tuple[str, ...]]


def same(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def strip_prefix(kind: Kind) -> Transform:
    prefix = kind.prefix + "-"

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        return tuple(v[len(prefix):] if v.startswith(prefix) else "\x00" + v for v in values)

    return transform


def lookup(table: Mapping[str, tuple[str, ...]]) -> Transform:
    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: tuple[str, ...] = ()
        for v in values:
            out += table.get(v, ("\x00" + v,))
        return out

    return transform


def booleans(values: Sequence[str]) -> tuple[str, ...]:
    return tuple("1" if v.lower() == "true" else "0" for v in values)


FilterSpec = tuple[str, Transform, bool]  # engine field, value transform, wildcards allowed

INSTANCE_FILTERS: Final[dict[str, FilterSpec]] = {
    "instance-id": ("sid", strip_prefix(Kind.INSTANCE), True),
    "image-id": ("template_sid", strip_prefix(Kind.IMAGE), False),
    "instance-state-name": ("state", lookup(STATE_BY_NAME), False),
    "instance-state-code": ("state", lookup(STATE_BY_CODE), False),
    "instance-type": ("offering_name", same, False),
    "key-name": ("key_name", same, True),
    "availability-zone": ("zone_name", same, False),
    "private-ip-address": ("private_ip", same, False),
    "network-interface.addresses.private-ip-address": ("private_ip", same, False),
    "ip-address": ("public_ip", same, False),
    "reservation-id": ("reservation_sid", strip_prefix(Kind.RESERVATION), False),
    "launch-index": ("launch_index", same, False),
    "group-name": ("security_group", same, False),
    "instance.group-name": ("security_group", same, False),
    "group-id": ("security_group", strip_prefix(Kind.SECURITY_GROUP), False),
    "instance.group-id": ("security_group", strip_prefix(Kind.SECURITY_GROUP), False),
}

IMAGE_FILTERS: Final[dict[str, FilterSpec]] = {
    "image-id": ("sid", strip_prefix(Kind.IMAGE), True),
    "name": ("name", same, True),
    "description": ("description", same, True),
    "is-public": ("is_public", booleans, False),
    "architecture": ("arch", same, False),
    "owner-id": ("owner_number", same, False),
}


def criteria(filters: Iterable[Mapping[str, Any]] | None,
             table: Mapping[str, FilterSpec]) -> tuple[Criterion, ...]:
    """Engine criteria for the request's ``Filters`` member."""
    out: list[Criterion] = []
    for f in filters or ():
        name = f.get("Name")
        values = tuple(f.get("Values") or ())
        if not name:
            raise Ec2Error("InvalidParameterValue", "The filter name must not be empty")
        if name.startswith("tag:") or name in ("tag-key", "tag-value"):
            out.append(Criterion(name, values))
            continue
        spec = table.get(name)
        if spec is None:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        field, transform, wildcards = spec
        out.append(Criterion(field, transform(values), wildcards))
    return tuple(out)
