"""Response shape checks against botocore's EC2 service model.

Two walks, both returning a list of human-readable problems (empty = conforms):

* :func:`check_xml` walks the raw XML body of a response against the
  operation's output shape the way EC2's wire format lays it out (``locationName``
  element names, ``<item>`` list members, the ``<{Op}Response>`` envelope with
  ``requestId``). This is the check that matters: botocore's parser silently
  drops unknown elements and lenient about scalars, so a wrong element name or a
  bad integer would otherwise go unnoticed. Error bodies are checked with
  :func:`check_error_xml` (``Response/Errors/Error/Code,Message`` + ``RequestID``).
* :func:`check_parsed` walks an already-parsed response (boto3's dict, or
  awscli's JSON output with ``json_mode=True``) against the output shape:
  member names known, Python types right, required members present.

Scalars are checked by type: integers/longs parse as int, booleans are exactly
``true``/``false``, timestamps are ISO 8601, doubles parse as float, blobs are
base64, strings with an enum in the model take one of its values.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
_ISO8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")
_INT = re.compile(r"^-?\d+$")
_NS = re.compile(r"^\{.*\}")
# Values AWS itself sends outside the model's enum (documented behaviour):
# an internet gateway's attachment is "available" while attached.
AWS_ENUM_EXTRAS: dict[str, frozenset[str]] = {"AttachmentStatus": frozenset({"available"})}


def _enum_ok(shape: Shape, value: str) -> bool:
    enum = shape.enum
    return not enum or value in enum or value in AWS_ENUM_EXTRAS.get(shape.name, ())


def _tag(elem: ET.Element) -> str:
    return _NS.sub("", elem.tag)


def _ns(elem: ET.Element) -> str:
    match = re.match(r"^\{(.*)\}", elem.tag)
    return match.group(1) if match else ""


def _xml_name(member: Shape, member_name: str) -> str:
    """The element name a structure member travels under (botocore's rule)."""
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        inner = member.member.serialization.get("name")
        if inner:
            return str(inner)
    return str(member.serialization.get("name") or member_name)


# ---------------------------------------------------------------- raw XML


def check_xml(operation: OperationModel, body: bytes) -> list[str]:
    """Problems with a successful response body of ``operation``."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return [f"body is not XML ({exc}): {body[:200]!r}"]
    problems: list[str] = []
    expected_root = f"{operation.name}Response"
    if _tag(root) != expected_root:
        problems.append(f"root element is <{_tag(root)}>, expected <{expected_root}>")
    if _ns(root).rstrip("/") != EC2_NAMESPACE.rstrip("/"):
        problems.append(f"root namespace is {_ns(root)!r}, expected {EC2_NAMESPACE!r}")
    request_ids = [c for c in root if _tag(c) == "requestId"]
    if len(request_ids) != 1 or not (request_ids[0].text or "").strip():
        problems.append("envelope must carry exactly one non-empty <requestId>")
    body_children = [c for c in root if _tag(c) != "requestId"]
    shape = operation.output_shape
    if shape is None:
        # Operations without an output shape: AWS sends at most <return>true</return>.
        for child in body_children:
            if _tag(child) != "return" or (child.text or "") not in ("true", "false"):
                problems.append(f"unexpected element <{_tag(child)}> (no output shape)")
        return problems
    _walk_struct_children(shape, body_children, operation.name, problems)
    return problems


def _walk_xml(shape: Shape, elem: ET.Element | list[ET.Element], path: str,
              problems: list[str]) -> None:
    if isinstance(shape, ListShape):
        _walk_list(shape, elem, path, problems)
        return
    if isinstance(elem, list):
        problems.append(f"{path}: element repeated {len(elem)} times (not a flattened list)")
        elem = elem[0]
    if isinstance(shape, StructureShape):
        _walk_struct_children(shape, list(elem), path, problems)
        if elem.text and elem.text.strip():
            problems.append(f"{path}: structure has text {elem.text.strip()[:40]!r}")
    elif isinstance(shape, MapShape):
        _walk_map(shape, elem, path, problems)
    else:
        if len(elem):
            problems.append(f"{path}: scalar ({shape.type_name}) has child elements "
                            f"{[_tag(c) for c in elem][:5]}")
            return
        problems.extend(_scalar_text_problems(shape, elem.text or "", path))


def _walk_struct_children(shape: StructureShape, children: list[ET.Element], path: str,
                          problems: list[str]) -> None:
    by_name: dict[str, list[ET.Element]] = {}
    for child in children:
        by_name.setdefault(_tag(child), []).append(child)
    known: dict[str, tuple[str, Shape]] = {}
    for member_name, member in shape.members.items():
        known[_xml_name(member, member_name)] = (member_name, member)
    for name, elems in by_name.items():
        if name not in known:
            problems.append(f"{path}: unknown element <{name}> (not in {shape.name})")
            continue
        member_name, member = known[name]
        flattened = isinstance(member, ListShape) and member.serialization.get("flattened")
        value: ET.Element | list[ET.Element] = elems if (flattened or len(elems) > 1) \
            else elems[0]
        _walk_xml(member, value, f"{path}.{member_name}", problems)
    for required in shape.required_members:
        if _xml_name(shape.members[required], required) not in by_name:
            problems.append(f"{path}: required member {required} missing")


def _walk_list(shape: ListShape, elem: ET.Element | list[ET.Element], path: str,
               problems: list[str]) -> None:
    if shape.serialization.get("flattened"):
        items = elem if isinstance(elem, list) else [elem]
    else:
        if isinstance(elem, list):
            problems.append(f"{path}: list wrapper repeated {len(elem)} times")
            elem = elem[0]
        if elem.text and elem.text.strip():
            problems.append(f"{path}: list wrapper has text {elem.text.strip()[:40]!r}")
        item_name = shape.member.serialization.get("name") or "member"
        items = []
        for child in elem:
            if _tag(child) != item_name:
                problems.append(f"{path}: list child <{_tag(child)}>, expected <{item_name}>")
            else:
                items.append(child)
    for i, item in enumerate(items):
        _walk_xml(shape.member, item, f"{path}[{i}]", problems)


def _walk_map(shape: MapShape, elem: ET.Element, path: str, problems: list[str]) -> None:
    key_name = shape.key.serialization.get("name") or "key"
    value_name = shape.value.serialization.get("name") or "value"
    entries = [elem] if shape.serialization.get("flattened") else list(elem)
    for entry in entries:
        for part in entry:
            if _tag(part) == key_name:
                _walk_xml(shape.key, part, f"{path}<key>", problems)
            elif _tag(part) == value_name:
                _walk_xml(shape.value, part, f"{path}<value>", problems)
            else:
                problems.append(f"{path}: unknown map element <{_tag(part)}>")


def _scalar_text_problems(shape: Shape, text: str, path: str) -> list[str]:
    kind = shape.type_name
    if kind in ("integer", "long"):
        if not _INT.match(text.strip()):
            return [f"{path}: {kind} expected, got {text!r}"]
    elif kind == "boolean":
        if text not in ("true", "false"):
            return [f"{path}: boolean must be 'true' or 'false', got {text!r}"]
    elif kind == "timestamp":
        if not _ISO8601.match(text.strip()):
            return [f"{path}: ISO 8601 timestamp expected, got {text!r}"]
    elif kind in ("double", "float"):
        try:
            float(text)
        except ValueError:
            return [f"{path}: {kind} expected, got {text!r}"]
    elif kind == "blob":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return [f"{path}: base64 blob expected, got {text[:40]!r}"]
    elif kind == "string":
        if not _enum_ok(shape, text):
            return [f"{path}: {text!r} is not one of {shape.name}'s values"]
    return []


def check_error_xml(body: bytes) -> list[str]:
    """Problems with an error body (AWS: Response/Errors/Error/Code,Message + RequestID)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return [f"error body is not XML ({exc}): {body[:200]!r}"]
    problems: list[str] = []
    if _tag(root) != "Response":
        problems.append(f"error root is <{_tag(root)}>, expected <Response>")
    names = [_tag(c) for c in root]
    if sorted(names) != ["Errors", "RequestID"]:
        problems.append(f"error envelope children are {names}, expected Errors + RequestID")
    for child in root:
        if _tag(child) == "RequestID" and not (child.text or "").strip():
            problems.append("empty <RequestID>")
        if _tag(child) == "Errors":
            errors = list(child)
            if not errors or any(_tag(e) != "Error" for e in errors):
                problems.append("<Errors> must hold one or more <Error>")
            for err in errors:
                parts = {_tag(p): (p.text or "") for p in err}
                if set(parts) != {"Code", "Message"}:
                    problems.append(f"<Error> children are {sorted(parts)}, "
                                    "expected Code + Message")
                if not parts.get("Code", "").strip():
                    problems.append("empty error <Code>")
    return problems


# ---------------------------------------------------------------- parsed


def check_parsed(operation: OperationModel, parsed: dict[str, Any], *,
                 json_mode: bool = False) -> list[str]:
    """Problems with a parsed response (boto3's dict, or awscli's JSON if ``json_mode``)."""
    problems: list[str] = []
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    shape = operation.output_shape
    if shape is None:
        if body:
            problems.append(f"{operation.name}: keys {sorted(body)} but no output shape")
        return problems
    _walk_value(shape, body, operation.name, problems, json_mode)
    return problems


def _walk_value(shape: Shape, value: Any, path: str, problems: list[str],
                json_mode: bool) -> None:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: structure expected, got {type(value).__name__}")
            return
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}: unknown member {key!r} (not in {shape.name})")
            else:
                _walk_value(shape.members[key], item, f"{path}.{key}", problems, json_mode)
        for required in shape.required_members:
            if required not in value:
                problems.append(f"{path}: required member {required} missing")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{path}: list expected, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _walk_value(shape.member, item, f"{path}[{i}]", problems, json_mode)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: map expected, got {type(value).__name__}")
            return
        for key, item in value.items():
            _walk_value(shape.key, key, f"{path}<key>", problems, json_mode)
            _walk_value(shape.value, item, f"{path}[{key!r}]", problems, json_mode)
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: int expected, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: bool expected, got {value!r}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: number expected, got {value!r}")
    elif kind == "timestamp":
        ok = isinstance(value, str) and _ISO8601.match(value.replace(" ", "T")) \
            if json_mode else isinstance(value, dt.datetime)
        if not ok:
            problems.append(f"{path}: timestamp expected, got {value!r}")
    elif kind == "blob":
        if not isinstance(value, (bytes, str) if json_mode else bytes):
            problems.append(f"{path}: blob expected, got {type(value).__name__}")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: str expected, got {value!r}")
        elif not _enum_ok(shape, value):
            problems.append(f"{path}: {value!r} is not one of {shape.name}'s values")
