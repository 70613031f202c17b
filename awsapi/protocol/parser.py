"""EC2 query parameters -> a dict keyed by botocore member names.

This is the inverse of botocore's EC2 request serializer. Wire names:

* a member's wire name is its ``queryName``, else its ``locationName`` with the
  first letter capitalized, else the member name;
* lists are flattened with 1-based indexes (``InstanceId.1``, ``InstanceId.2``);
  the list member's own ``locationName`` is not used on EC2 input;
* structures nest with dots (``Placement.AvailabilityZone``);
* maps use ``Name.entry.N.key`` / ``Name.entry.N.value`` as botocore sends them
  (``Name.N.Key`` accepted too; EC2's model has no maps today).

Scalars are converted to Python values (int, bool, aware datetime, bytes, float);
enum strings are checked against the model. Request-level keys (``Action``,
``Version``, SigV2/SigV4 auth parameters, every ``X-Amz-*``) are skipped.

Errors, as ``Ec2Error``: ``UnknownParameter`` for a key the operation does not
model, ``InvalidParameterValue`` for a bad scalar or out-of-range integer,
``MissingParameter`` for an absent required member.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from botocore.model import OperationModel, Shape

from awsapi.errors_wire import Ec2Error

IGNORED_KEYS: Final = frozenset(
    {
        "Action",
        "Version",
        "AWSAccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
        "Expires",
        "SecurityToken",
    }
)

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_EMPTY_LIST: Final = object()  # marker for "Name=" given for a list member
# QUIRK(ec2): lists whose values AWS looks up instead of checking against the
# model's enum: DescribeInstanceTypes answers InvalidInstanceType for an unknown
# type where RunInstances (same enum) answers InvalidParameterValue.
_UNCHECKED_ENUM_LISTS: Final = frozenset({"RequestInstanceTypeList"})


@dataclass(slots=True)
class _Scalar:
    convert: Callable[[str, str, _Scalar], Any]
    enum: frozenset[str] | None = None
    min: int | float | None = None
    max: int | float | None = None


@dataclass(slots=True)
class _Struct:
    # wire name -> (member name, plan)
    members: dict[str, tuple[str, _Plan]] = field(default_factory=dict)
    # member name -> (wire name, plan)
    by_member: dict[str, tuple[str, _Plan]] = field(default_factory=dict)
    # (member name, wire name) of required members
    required: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _List:
    member: _Plan | None = None


@dataclass(slots=True)
class _Map:
    key_name: str = "key"
    value_name: str = "value"
    key: _Plan | None = None
    value: _Plan | None = None


_Plan = _Scalar | _Struct | _List | _Map


def parse(op: OperationModel, params: Mapping[str, str]) -> dict[str, Any]:
    """Parse the decoded query/form ``params`` of one request for ``op``.

    Returns the input as boto3 would accept it: keys are member names, lists
    are in index order, scalars converted. Raises ``Ec2Error`` as described in
    the module docstring.
    """
    plan = _operation_plan(op)
    raw: dict[str, Any] = {}
    for key, value in params.items():
        if key in IGNORED_KEYS or key[:6].lower() == "x-amz-":
            continue
        if plan is None:
            raise _unknown(key)
        _place(plan, raw, key, value)
    if plan is None:
        return {}
    return _convert_struct(plan, raw, "")


# --- placing flat keys into a nested raw tree --------------------------------


def _place(plan: _Struct, root: dict[str, Any], key: str, value: str) -> None:
    parts = key.split(".")
    last = len(parts) - 1
    node: _Plan = plan
    container: dict[Any, Any] = root
    i = 0
    while True:
        part = parts[i]
        slot: Any  # member name (struct), index (list) or "key"/"value" (map entry)
        child: _Plan | None
        if isinstance(node, _Struct):
            entry = node.members.get(part)
            if entry is None:
                raise _unknown(key)
            slot, child = entry
        elif isinstance(node, _List) and _is_index(part):
            slot, child = int(part), node.member
        elif isinstance(node, _Map):
            # botocore sends Name.entry.N.key (Name.N.key for a flattened map);
            # Name.N.Key is accepted too. Key/value names match case-insensitively.
            if part == "entry" and i < last:
                i += 1
                part = parts[i]
            if not _is_index(part) or i >= last:
                raise _unknown(key)
            container = _descend(container, int(part))
            i += 1
            half = parts[i].lower()
            if half == node.key_name.lower():
                slot, child = "key", node.key
            elif half == node.value_name.lower():
                slot, child = "value", node.value
            else:
                raise _unknown(key)
        else:  # a scalar with more parts after it, or a bad list index
            raise _unknown(key)
        if child is None:
            raise _unknown(key)
        if i == last:
            _set_leaf(child, container, slot, key, value)
            return
        if isinstance(child, _Scalar):
            raise _unknown(key)
        container, node = _descend(container, slot), child
        i += 1


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _descend(container: dict[Any, Any], slot: Any) -> dict[Any, Any]:
    existing = container.get(slot)
    if existing is None or existing is _EMPTY_LIST:
        existing = container[slot] = {}
    return existing


def _set_leaf(node: _Plan, container: dict[Any, Any], slot: Any, key: str, value: str) -> None:
    if isinstance(node, _Scalar):
        container[slot] = value
    elif isinstance(node, _List) and value == "":
        # The generic query protocol sends "Name=" for an empty list.
        container.setdefault(slot, _EMPTY_LIST)
    else:
        raise _unknown(key)


# --- converting the raw tree -------------------------------------------------


def _convert(node: _Plan, raw: Any, path: str) -> Any:
    if isinstance(node, _Scalar):
        return node.convert(raw, path, node)
    if isinstance(node, _Struct):
        return _convert_struct(node, raw, path)
    if isinstance(node, _List):
        if raw is _EMPTY_LIST:
            return []
        member = node.member
        assert member is not None
        return [_convert(member, raw[i], f"{path}.{i}") for i in sorted(raw)]
    assert node.key is not None
    assert node.value is not None
    out: dict[Any, Any] = {}
    for i in sorted(raw):
        entry = raw[i]
        if "key" not in entry:
            raise _missing(f"{path}.{i}.{node.key_name}")
        k = _convert(node.key, entry["key"], f"{path}.{i}.{node.key_name}")
        v = entry.get("value")
        out[k] = None if v is None else _convert(node.value, v, f"{path}.{i}.{node.value_name}")
    return out


def _convert_struct(node: _Struct, raw: dict[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_member = node.by_member
    for member_name, value in raw.items():
        wire, child = by_member[member_name]
        out[member_name] = _convert(child, value, f"{path}.{wire}" if path else wire)
    for member_name, wire in node.required:
        if member_name not in out:
            raise _missing(f"{path}.{wire}" if path else wire)
    return out


def _unknown(key: str) -> Ec2Error:
    return Ec2Error("UnknownParameter", f"The parameter {key} is not recognized")


def _missing(wire_path: str) -> Ec2Error:
    return Ec2Error("MissingParameter", f"The request must contain the parameter {wire_path}")


def _invalid(message: str) -> Ec2Error:
    return Ec2Error("InvalidParameterValue", message)


# --- scalar converters -------------------------------------------------------


def _to_string(value: str, path: str, node: _Scalar) -> str:
    if node.enum is not None and value not in node.enum:
        raise _invalid(f"Invalid value '{value}' for {path}")
    return value


def _to_int(value: str, path: str, node: _Scalar) -> int:
    if _INT_RE.fullmatch(value) is None or len(value) > 24:
        raise _invalid(f"Invalid value '{value}' for {path}. Expected an integer.")
    number = int(value)
    _check_range(number, value, path, node)
    return number


def _to_float(value: str, path: str, node: _Scalar) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _invalid(f"Invalid value '{value}' for {path}. Expected a number.") from None
    _check_range(number, value, path, node)
    return number


def _check_range(number: float, value: str, path: str, node: _Scalar) -> None:
    if node.min is not None and number < node.min:
        raise _invalid(
            f"Value ( {value} ) for parameter {path} is invalid. "
            f"Expecting a value greater than or equal to {node.min}."
        )
    if node.max is not None and number > node.max:
        raise _invalid(
            f"Value ( {value} ) for parameter {path} is invalid. "
            f"Expecting a value less than or equal to {node.max}."
        )


def _to_bool(value: str, path: str, node: _Scalar) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise _invalid(f"Invalid value '{value}' for {path}. Expected 'true' or 'false'.")


def _to_timestamp(value: str, path: str, node: _Scalar) -> datetime:
    try:
        if _INT_RE.fullmatch(value):
            return datetime.fromtimestamp(int(value), UTC)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise _invalid(
            f"Invalid value '{value}' for {path}. Expected an ISO 8601 timestamp."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _to_blob(value: str, path: str, node: _Scalar) -> bytes:
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"Invalid value for {path}. Expected base64-encoded data.") from None


_CONVERTERS: Final[dict[str, Callable[[str, str, _Scalar], Any]]] = {
    "string": _to_string,
    "character": _to_string,
    "integer": _to_int,
    "long": _to_int,
    "float": _to_float,
    "double": _to_float,
    "boolean": _to_bool,
    "timestamp": _to_timestamp,
    "blob": _to_blob,
}


# --- plans (built once per shape, cached by shape name) ----------------------

# Integers are 32-bit and longs 64-bit on the wire (Java int/long behind EC2).
_INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}

_PLANS: dict[str, _Plan] = {}
_OP_PLANS: dict[str, _Struct | None] = {}
_BUILD_LOCK = threading.Lock()


def _operation_plan(op: OperationModel) -> _Struct | None:
    try:
        return _OP_PLANS[op.name]
    except KeyError:
        pass
    # Plans are published in _OP_PLANS only once complete; building is serialized
    # so no thread ever sees a half-built (recursively registered) plan.
    with _BUILD_LOCK:
        if op.name not in _OP_PLANS:
            shape = op.input_shape
            plan = None if shape is None else _plan(shape)
            assert plan is None or isinstance(plan, _Struct)
            _OP_PLANS[op.name] = plan
    return _OP_PLANS[op.name]


def _wire_name(shape: Shape, default: str) -> str:
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    name = serialization.get("name")
    if name:
        return str(name[0].upper() + name[1:])
    return default


def _plan(shape: Shape) -> _Plan:
    cached = _PLANS.get(shape.name)
    if cached is not None:
        return cached
    kind = shape.type_name
    if kind == "structure":
        struct = _Struct()
        _PLANS[shape.name] = struct  # registered before recursing (recursive shapes)
        required = set(shape.required_members)
        req: list[tuple[str, str]] = []
        for member_name, member_shape in shape.members.items():
            wire = _wire_name(member_shape, member_name)
            child = _plan(member_shape)
            struct.members[wire] = (member_name, child)
            struct.by_member[member_name] = (wire, child)
            if member_name in required:
                req.append((member_name, wire))
        struct.required = tuple(req)
        return struct
    if kind == "list":
        lst = _List()
        _PLANS[shape.name] = lst
        lst.member = _plan(shape.member)
        if shape.name in _UNCHECKED_ENUM_LISTS and isinstance(lst.member, _Scalar):
            lst.member = replace(lst.member, enum=None)  # the shared plan stays checked
        return lst
    if kind == "map":
        mp = _Map(
            key_name=_wire_name(shape.key, "key"), value_name=_wire_name(shape.value, "value")
        )
        _PLANS[shape.name] = mp
        mp.key, mp.value = _plan(shape.key), _plan(shape.value)
        return mp
    converter = _CONVERTERS.get(kind, _to_string)
    metadata = shape.metadata
    enum = metadata.get("enum")
    numeric = kind in ("integer", "long", "float", "double")
    low, high = _INT_RANGES.get(kind, (None, None))
    scalar = _Scalar(
        convert=converter,
        enum=frozenset(enum) if enum and kind == "string" else None,
        min=metadata.get("min", low) if numeric else None,
        max=metadata.get("max", high) if numeric else None,
    )
    _PLANS[shape.name] = scalar
    return scalar
