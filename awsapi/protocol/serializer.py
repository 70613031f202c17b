"""Result dicts -> EC2 XML responses, driven by the operation's output shape.

A result is keyed by botocore *member names* (``{"Reservations": [...]}``).
Element names follow what botocore's EC2 response parser reads: the member's
``locationName``, else the member name. Lists are wrapped
(``<reservationSet><item>...</item></reservationSet>``, the item element being
the list member's ``locationName``, default ``item``); an empty list is an
empty wrapper element. Booleans are ``true``/``false``, timestamps ISO 8601
in UTC with milliseconds (``2026-11-22T00:01:02.000Z``), blobs base64.
Members whose value is None are omitted.

The XML is the document ``xmltodict.unparse`` produces for :func:`to_tree`'s
tree (``short_empty_elements=True``). For speed, :func:`success` writes that
document directly from per-shape plans built once (each non-string scalar
member gets its own element writer: booleans are two constant elements,
timestamps reuse the text of recently written equal instants and seconds,
from bounded per-process tables); the unit tests prove the bytes are identical to
``xmltodict.unparse``'s. A structure or list object
that a result holds in several places under the same member (views share
constant parts, such as one ``State`` dict per state, across the instances of
a listing) is written once and its text reused.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import xmltodict
from botocore.model import OperationModel, Shape

from awsapi.model import api_version

XML_HEADER: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'


def namespace() -> str:
    """The EC2 response namespace (``http://ec2.amazonaws.com/doc/2016-11-15/``)."""
    return f"http://ec2.amazonaws.com/doc/{api_version()}/"


def success(op: OperationModel, result: Mapping[str, Any], request_id: str) -> bytes:
    """The UTF-8 XML body of a successful ``op`` returning ``result``.

    Raises ValueError if ``result`` holds a key that is not a member of the
    output shape, or TypeError if a value has the wrong Python type.
    """
    root = f"{op.name}Response"
    out: list[str] = [
        XML_HEADER,
        f'<{root} xmlns="{namespace()}"><requestId>{_escape(request_id)}</requestId>',
    ]
    plan = _operation_plan(op)
    if plan is None:
        # QUIRK(ec2): actions without an output shape (CreateTags, DeleteVolume
        # ...) answer <return>true</return> on the wire.
        out.append("<return>true</return>")
    else:
        _write_document(plan, result, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def prepare(op: OperationModel) -> None:
    """Build ``op``'s serialization plan now rather than on its first response
    (a server does this before forking its workers, which then share it)."""
    _operation_plan(op)


def error(code: str, message: str, request_id: str) -> bytes:
    """The UTF-8 XML body of an EC2 error response."""
    # QUIRK(ec2): success documents use <requestId>, errors use <RequestID>.
    tree = {
        "Response": {
            "Errors": {"Error": {"Code": code, "Message": message}},
            "RequestID": request_id,
        }
    }
    body: str = xmltodict.unparse(tree, full_document=False, short_empty_elements=True)
    return (XML_HEADER + body).encode("utf-8")


def to_tree(op: OperationModel, result: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    """The xmltodict tree of the success document (the reference for :func:`success`)."""
    body: dict[str, Any] = {"@xmlns": namespace(), "requestId": request_id}
    plan = _operation_plan(op)
    if plan is None:
        body["return"] = "true"
    else:
        body.update(_tree_struct(plan, result))
    return {f"{op.name}Response": body}


# --- plans -------------------------------------------------------------------

# Member kinds; a member is the tuple (kind, "<tag>", "</tag>", "<tag/>", text,
# plan, element, extra): ``text`` gives a scalar's text, ``element`` (scalars
# other than strings) its whole element, e.g. ``<ebsOptimized>false</ebsOptimized>``;
# ``extra`` is a boolean's two elements (true, false). Kinds up to _SCALAR are
# scalars (the writer handles strings, booleans, integers and timestamps
# inline; _SCALAR are the other ones: floats, blobs).
_STRING, _BOOL, _INT, _STAMP, _SCALAR, _STRUCT, _LIST, _FLAT_LIST, _MAP = range(9)

_Member = tuple[int, str, str, str, "Callable[[Any], str]", "_Plan | None",
                "Callable[[Any], str]", "tuple[str, str] | None"]


@dataclass(slots=True)
class _Struct:
    shape_name: str
    members: dict[str, _Member] = field(default_factory=dict)


@dataclass(slots=True)
class _List:
    item: _Member | None = None


@dataclass(slots=True)
class _Map:
    key: _Member | None = None
    value: _Member | None = None


_Plan = _Struct | _List | _Map

_PLANS: dict[str, _Plan | Callable[[Any], str]] = {}
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
            shape = op.output_shape
            plan = None if shape is None else _plan(shape)
            assert plan is None or isinstance(plan, _Struct)
            _OP_PLANS[op.name] = plan
    return _OP_PLANS[op.name]


def _member(tag: str, shape: Shape, flattened_list: bool = False) -> _Member:
    plan = _plan(shape)
    open_tag, close_tag, empty_tag = f"<{tag}>", f"</{tag}>", f"<{tag}/>"
    if isinstance(plan, _Struct):
        kind = _STRUCT
    elif isinstance(plan, _List):
        kind = _FLAT_LIST if flattened_list else _LIST
    elif isinstance(plan, _Map):
        kind = _MAP
    else:
        if plan is _text_string:
            return (_STRING, open_tag, close_tag, empty_tag, plan, None, plan, None)
        scalar = _SCALAR_KINDS.get(plan, _SCALAR)
        extra = None
        if scalar == _BOOL:
            extra = (f"{open_tag}true{close_tag}", f"{open_tag}false{close_tag}")
        return (scalar, open_tag, close_tag, empty_tag, plan, None,
                _element_writer(tag, plan), extra)
    return (kind, open_tag, close_tag, empty_tag, _text_string, plan, _text_string, None)


def _plan(shape: Shape) -> _Plan | Callable[[Any], str]:
    """The plan of a container shape, or the text function of a scalar shape."""
    cached = _PLANS.get(shape.name)
    if cached is not None:
        return cached
    kind = shape.type_name
    if kind == "structure":
        struct = _Struct(shape.name)
        _PLANS[shape.name] = struct  # registered before recursing (recursive shapes)
        for name, member in shape.members.items():
            flat = member.type_name == "list" and bool(member.serialization.get("flattened"))
            struct.members[name] = _member(_element_name(member, name), member, flat)
        return struct
    if kind == "list":
        lst = _List()
        _PLANS[shape.name] = lst
        lst.item = _member(shape.member.serialization.get("name") or "item", shape.member)
        return lst
    if kind == "map":
        if shape.serialization.get("flattened"):  # EC2 has no maps at all today
            raise NotImplementedError(f"flattened map {shape.name}")
        mp = _Map()
        _PLANS[shape.name] = mp
        mp.key = _member(shape.key.serialization.get("name") or "key", shape.key)
        mp.value = _member(shape.value.serialization.get("name") or "value", shape.value)
        return mp
    text = _TEXT.get(kind, _text_string)
    _PLANS[shape.name] = text
    return text


def _element_name(member: Shape, member_name: str) -> str:
    if member.type_name == "list" and member.serialization.get("flattened"):
        item = member.member.serialization.get("name")
        if item:
            return str(item)
    return str(member.serialization.get("name") or member_name)


# --- scalar text -------------------------------------------------------------


def _text_string(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):  # str subclasses, e.g. StrEnum members
        return str.__str__(value)
    if type(value) is int:
        return str(value)
    raise TypeError(f"expected a str, got {type(value).__name__}: {value!r}")


def _text_int(value: Any) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {type(value).__name__}: {value!r}")
    return str(int(value))


def _text_float(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}: {value!r}")
    return repr(float(value))


def _text_bool(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise TypeError(f"expected a bool, got {type(value).__name__}: {value!r}")


def _text_timestamp(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
    zone = value.tzinfo
    if zone is not None and zone is not UTC:
        value = value.astimezone(UTC)
    # "YYYY-MM-DDThh:mm:ss.sss" (milliseconds truncated), then "Z" for UTC.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def _text_blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return base64.b64encode(value).decode("ascii")


# The scalar text functions the writer inlines (by kind).
_SCALAR_KINDS: Final[dict[Callable[[Any], str], int]] = {
    _text_bool: _BOOL, _text_int: _INT, _text_timestamp: _STAMP}

_TEXT: Final[dict[str, Callable[[Any], str]]] = {
    "string": _text_string,
    "character": _text_string,
    "integer": _text_int,
    "long": _text_int,
    "float": _text_float,
    "double": _text_float,
    "boolean": _text_bool,
    "timestamp": _text_timestamp,
    "blob": _text_blob,
}


def _element_writer(tag: str, text_of: Callable[[Any], str]) -> Callable[[Any], str]:
    """The function writing a whole element of a non-string scalar member
    ``tag`` (its text never needs escaping), specialised by type: booleans
    are two constant elements, timestamps reuse the text of recent values."""
    open_tag, close_tag, empty_tag = f"<{tag}>", f"</{tag}>", f"<{tag}/>"
    if text_of is _text_bool:
        true, false = f"{open_tag}true{close_tag}", f"{open_tag}false{close_tag}"

        def boolean(value: Any) -> str:
            if value is True:
                return true
            if value is False:
                return false
            return _text_bool(value)  # raises TypeError

        return boolean
    if text_of is _text_timestamp:
        return lambda value: f"{open_tag}{_stamp(value)}{close_tag}"

    def element(value: Any) -> str:
        text = text_of(value)
        return f"{open_tag}{text}{close_tag}" if text else empty_tag

    return element


# Text of recent timestamps (a listing has many equal moments, and more equal
# seconds: a second's "YYYY-MM-DDThh:mm:ss" is formatted once, its instants
# add their milliseconds). Bounded: each table is emptied when full.
_STAMPS: dict[datetime, str] = {}
_SECONDS: dict[datetime, str] = {}
_STAMPS_MAX: Final = 4096
_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))
_ONE_MICRO: Final = timedelta(microseconds=1)


def _stamp(value: Any) -> str:
    if type(value) is not datetime:
        return _text_timestamp(value)  # raises TypeError (or formats a subclass)
    text = _STAMPS.get(value)
    if text is not None:
        return text
    zone = value.tzinfo
    if zone is None or zone is UTC:  # (other zones' offsets may hold microseconds)
        micro = value.microsecond
        second = value - _ONE_MICRO * micro if micro else value
        head = _SECONDS.get(second)
        if head is None:
            if len(_SECONDS) >= _STAMPS_MAX:
                _SECONDS.clear()
            head = _SECONDS[second] = _text_timestamp(second)[:19]
        text = head + _MILLIS[micro // 1000]
    else:
        text = _text_timestamp(value)
    if len(_STAMPS) >= _STAMPS_MAX:
        _STAMPS.clear()
    _STAMPS[value] = text
    return text


def _escape(text: str) -> str:
    # Same escaping as xml.sax.saxutils.escape (what xmltodict's writer uses).
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _unknown_member(plan: _Struct, name: str) -> ValueError:
    return ValueError(f"{name!r} is not a member of output shape {plan.shape_name}")


# --- direct writer (fast path) -----------------------------------------------
# Scalars are handled inline in the loops below: most elements are scalars and a
# function call per element would dominate the cost of a large response.
#
# Text is written unescaped while ``note`` collects every string text; if any
# of them turns out to need escaping (rare: a tag value with "&", "<" or ">"),
# success() writes the document again with ``note=None``, which escapes as it
# goes. Checking the collected text once is much cheaper than checking each.

# Per call of success(): id of a container value -> the member it was written
# as, then (from its second time) (that member, its text). A plain member on
# first sight keeps the common case (every container seen once) free of a
# tuple allocation. Every value is held by the result for the whole call, so
# ids are not reused meanwhile.
_Memo = dict[int, "_Member | tuple[_Member, str]"]
_Note = Callable[[str], None] | None


def _write_document(plan: _Struct, result: Mapping[str, Any], out: list[str]) -> None:
    mark = len(out)
    texts: list[str] = []
    _write_struct(plan, result, out, {}, texts.append)
    collected = "".join(texts)
    if "&" in collected or "<" in collected or ">" in collected:
        del out[mark:]
        _write_struct(plan, result, out, {}, None)


def _write_struct(plan: _Struct, value: Mapping[str, Any], out: list[str], memo: _Memo,
                  note: _Note) -> None:
    members = plan.members
    append = out.append
    for name, item in value.items():
        if item is None:
            continue
        try:
            member = members[name]
        except KeyError:
            raise _unknown_member(plan, name) from None
        kind = member[0]
        if kind == _STRING:
            if item.__class__ is not str:
                item = _text_string(item)
            if item:
                if note is not None:
                    note(item)
                elif "&" in item or "<" in item or ">" in item:
                    item = _escape(item)
                append(member[1])
                append(item)
                append(member[2])
            else:
                append(member[3])
        elif kind == _BOOL:
            if item is True:
                append(member[7][0])  # type: ignore[index]
            elif item is False:
                append(member[7][1])  # type: ignore[index]
            else:
                _text_bool(item)  # raises TypeError
        elif kind == _INT and type(item) is int:
            append(member[1])
            append(str(item))
            append(member[2])
        elif kind == _STAMP:
            append(member[1])
            append(_STAMPS.get(item) or _stamp(item))
            append(member[2])
        elif kind <= _SCALAR:  # other numbers, base64: nothing to escape
            append(member[6](item))
        else:
            seen = memo.get(id(item))
            if seen is None and kind == _STRUCT:  # the common case, inline
                memo[id(item)] = member
                mark = len(out)
                append(member[1])
                _write_struct(member[5], item, out, memo, note)  # type: ignore[arg-type]
                if len(out) == mark + 1:
                    out[mark] = member[3]
                else:
                    append(member[2])
            elif seen is not None and seen[0] is member:  # a shared value's text
                append(seen[1])  # type: ignore[arg-type]
            elif seen is None and kind == _LIST:  # inline too
                memo[id(item)] = member
                mark = len(out)
                append(member[1])
                _write_items(member[5], item, out, False, memo, note)  # type: ignore[arg-type]
                if len(out) == mark + 1:
                    out[mark] = member[3]
                else:
                    append(member[2])
            else:
                _write_container(member, item, out, memo, note, seen)


def _write_container(member: _Member, value: Any, out: list[str], memo: _Memo,
                     note: _Note, seen: _Member | tuple[_Member, str] | None) -> None:
    """Write ``value`` as ``member``; ``seen`` is ``memo``'s entry for it
    (the caller has looked it up, and written the text itself if it had it)."""
    key = id(value)
    keep = False
    if seen is None:
        memo[key] = member
    elif seen is member:
        keep = True  # the second time: keep the text for the next ones
    elif seen[0] is member:  # (member, text): the third time on
        out.append(seen[1])  # type: ignore[arg-type]
        return
    mark = len(out)
    kind, open_tag, close_tag, empty_tag, _, plan, _, _ = member
    if kind == _STRUCT:
        out.append(open_tag)
        _write_struct(plan, value, out, memo, note)  # type: ignore[arg-type]
        if len(out) == mark + 1:
            out[mark] = empty_tag
        else:
            out.append(close_tag)
    elif kind == _MAP:
        _write_map(member, plan, value, out)  # type: ignore[arg-type]
    else:
        flat = kind == _FLAT_LIST
        if not flat:
            out.append(open_tag)
        _write_items(plan, value, out, flat, memo, note)  # type: ignore[arg-type]
        if not flat:
            if len(out) == mark + 1:
                out[mark] = empty_tag
            else:
                out.append(close_tag)
    if keep:
        memo[key] = (member, "".join(out[mark:]))


def _write_items(plan: _List, value: Any, out: list[str], skip_none: bool, memo: _Memo,
                 note: _Note) -> None:
    if type(value) is not list and isinstance(value, str | bytes | Mapping):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    item = plan.item
    assert item is not None
    append = out.append
    if item[0] <= _SCALAR:
        kind, open_tag, close_tag, empty_tag, text_of, _, _, _ = item
        is_string = kind == _STRING
        for element in value:
            if element is None:
                if not skip_none:
                    append(empty_tag)
                continue
            text = element if is_string and type(element) is str else text_of(element)
            if text:
                if is_string:
                    if note is not None:
                        note(text)
                    elif "&" in text or "<" in text or ">" in text:
                        text = _escape(text)
                append(open_tag + text + close_tag)
            else:
                append(empty_tag)
        return
    struct = item[5] if item[0] == _STRUCT else None
    for element in value:
        if element is None:
            if not skip_none:
                append(item[3])
            continue
        seen = memo.get(id(element))
        if seen is None and struct is not None:  # the common case, inline
            memo[id(element)] = item
            mark = len(out)
            append(item[1])
            _write_struct(struct, element, out, memo, note)  # type: ignore[arg-type]
            if len(out) == mark + 1:
                out[mark] = item[3]
            else:
                append(item[2])
        elif seen is not None and seen[0] is item:
            append(seen[1])  # type: ignore[arg-type]
        else:
            _write_container(item, element, out, memo, note, seen)


def _write_one(member: _Member, value: Any, out: list[str]) -> None:
    if member[0] > _SCALAR:
        _write_container(member, value, out, {}, None, None)
        return
    text = member[4](value)
    out.append(f"{member[1]}{_escape(text)}{member[2]}" if text else member[3])


def _write_map(member: _Member, plan: _Map, value: Mapping[Any, Any], out: list[str]) -> None:
    assert plan.key is not None
    assert plan.value is not None
    if not value:
        out.append(member[3])
        return
    out.append(member[1])
    for key, item in value.items():
        out.append("<entry>")
        _write_one(plan.key, key, out)
        if item is not None:
            _write_one(plan.value, item, out)
        out.append("</entry>")
    out.append(member[2])


# --- tree builder (reference path, for xmltodict) ----------------------------


def _tree_struct(plan: _Struct, value: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, item in value.items():
        if item is None:
            continue
        member = plan.members.get(name)
        if member is None:
            raise _unknown_member(plan, name)
        if member[0] == _FLAT_LIST:
            inner = member[5]
            assert isinstance(inner, _List)
            assert inner.item is not None
            tree[member[1][1:-1]] = [_tree_value(inner.item, e) for e in item if e is not None]
        else:
            tree[member[1][1:-1]] = _tree_value(member, item)
    return tree


def _tree_value(member: _Member, value: Any) -> Any:
    kind, plan = member[0], member[5]
    if kind <= _SCALAR:
        return member[4](value)
    if kind == _STRUCT:
        assert isinstance(plan, _Struct)
        return _tree_struct(plan, value) or None
    if kind == _MAP:
        assert isinstance(plan, _Map)
        assert plan.key is not None
        assert plan.value is not None
        key_m, value_m = plan.key, plan.value
        entries = [
            {
                key_m[1][1:-1]: _tree_value(key_m, k),
                **({} if v is None else {value_m[1][1:-1]: _tree_value(value_m, v)}),
            }
            for k, v in value.items()
        ]
        return {"entry": entries} if entries else None
    assert isinstance(plan, _List)
    assert plan.item is not None
    items = [None if e is None else _tree_value(plan.item, e) for e in value]
    return {plan.item[1][1:-1]: items} if items else None
