"""CloudStack response envelopes in JSON and XML (``ApiResponseSerializer``'s shapes).

Every response has exactly one top-level key, ``<command lower>response`` (with
the historical exceptions in ``RESPONSE_KEY_OVERRIDES``). Shapes:

* list:    ``{"count": n, "<item>": [...]}``; nothing found -> ``{}`` exactly;
* object:  ``{"<item>": {...}}``;
* success: ``{"success": true[, "displaytext": ...]}``;
* flat:    fields directly under the key (async submit, queryAsyncJobResult, login);
* error:   ``{"uuidList": [...], "errorcode": n, "cserrorcode": m, "errortext": ...}``
  with HTTP status = errorcode and an ``X-Description`` header.

Values: None is omitted; datetimes become ``yyyy-MM-dd'T'HH:mm:ss+0000`` (UTC);
bools/numbers keep their JSON types. XML repeats the element of a list item
(no wrapper), renders nested dicts as child elements and starts with
``<?xml version="1.0" encoding="UTF-8"?>``. ``fmt`` is "json" or "xml" (default,
like CloudStack); anything else is treated as "xml".
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from nativeapi.errors_wire import ApiErrorCode, CloudStackError, UuidRef

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
ERROR_RESPONSE_KEY = "errorresponse"

# Commands whose class overrides getCommandName(); everything else is lower(name)+"response".
RESPONSE_KEY_OVERRIDES: Mapping[str, str] = {
    "resetSSHKeyForVirtualMachine": "resetSSHKeyforvirtualmachineresponse",
    "restoreVirtualMachine": "restorevmresponse",
    "addIpToNic": "addiptovmnicresponse",
    "enableStorageMaintenance": "prepareprimarystorageformaintenanceresponse",
    "cancelStorageMaintenance": "cancelprimarystoragemaintenanceresponse",
    "updateVMAffinityGroup": "updatevirtualmachineresponse",
    "activateProject": "activaterojectresponse",
    "scaleSystemVm": "changeserviceforsystemvmresponse",
    "archiveSnapshot": "createsnapshotresponse",
    "updateNetworkACLItem": "createnetworkaclresponse",
    "listPortableIpRanges": "listportableipresponse",
    "getUploadParamsForTemplate": "postuploadtemplateresponse",
    "getUploadParamsForIso": "postuploadisoresponse",
    "getUploadParamsForVolume": "postuploadvolumeresponse",
    "samlSso": "loginresponse",
    "samlSlo": "logoutresponse",
}


@dataclass(frozen=True)
class Rendered:
    """A finished HTTP response: the Flask layer copies these four fields out."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def response_key(command: str) -> str:
    """Top-level key for a command name, e.g. ``listZones`` -> ``listzonesresponse``."""
    return RESPONSE_KEY_OVERRIDES.get(command, command.lower() + "response")


def format_date(value: datetime | date) -> str:
    """``yyyy-MM-dd'T'HH:mm:ssZ`` in UTC, e.g. ``2025-10-30T19:21:39+0000``.

    Naive datetimes are taken as UTC; a bare date is midnight UTC.
    """
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def to_wire(value: Any) -> Any:
    """Convert a view value to JSON-ready data: drop None, format dates, unwrap enums."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Enum):
        return to_wire(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return format_date(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(v) for v in value if v is not None]
    return str(value)


# --- XML ------------------------------------------------------------------------------

_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):  # a map with keys that cannot be element names
        text = "{" + ", ".join(f"{k}={_xml_text(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(_xml_text(v) for v in value) + "]"
    else:
        text = str(value)
    return _XML_INVALID.sub("", text)


def _xml_add(parent: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _xml_add(parent, name, item)
        return
    child = ET.SubElement(parent, name)
    if isinstance(value, dict) and all(_XML_NAME.match(k) for k in value):
        _xml_fill(child, value)
    else:
        child.text = _xml_text(value)


def _xml_fill(parent: ET.Element, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        _xml_add(parent, name, value)


# --- envelopes ------------------------------------------------------------------------


def _render(
    key: str,
    fields: Mapping[str, Any],
    fmt: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    xml_root: ET.Element | None = None,
) -> Rendered:
    hdrs = dict(headers or {})
    if fmt == "json":
        body = json.dumps({key: fields}, ensure_ascii=False, separators=(",", ":"))
        return Rendered(status, JSON_CONTENT_TYPE, body.encode("utf-8"), hdrs)
    if xml_root is None:
        xml_root = ET.Element(key)
        _xml_fill(xml_root, fields)
    text = XML_DECLARATION + ET.tostring(xml_root, encoding="unicode", short_empty_elements=False)
    return Rendered(status, XML_CONTENT_TYPE, text.encode("utf-8"), hdrs)


def list_response(
    command: str, item_key: str, items: Sequence[Any], count: int, *, fmt: str = "xml"
) -> Rendered:
    """A list body. ``count`` is the total number of matches (not the page size).

    ``count`` 0 and no items gives ``{}``; a page past the end gives ``{"count": n}``.
    """
    fields: dict[str, Any] = {}
    if count:
        fields["count"] = int(count)
    wire_items = [to_wire(item) for item in items if item is not None]
    if wire_items:
        fields[item_key] = wire_items
    return _render(response_key(command), fields, fmt)


def object_response(
    command: str, item_key: str, obj: Mapping[str, Any], *, fmt: str = "xml"
) -> Rendered:
    """A single object: ``{"<key>": {"<item_key>": {...}}}``."""
    return _render(response_key(command), {item_key: to_wire(obj)}, fmt)


def success_response(command: str, displaytext: str | None = None, *, fmt: str = "xml") -> Rendered:
    """``{"success": true}`` plus ``displaytext`` when given."""
    return _render(
        response_key(command), to_wire({"success": True, "displaytext": displaytext}), fmt
    )


def async_response(
    command: str, job_id: str, object_id: str | None = None, *, fmt: str = "xml"
) -> Rendered:
    """Async submit: ``{"jobid": ...}``, or ``{"id": ..., "jobid": ...}`` for async-create."""
    return _render(response_key(command), to_wire({"id": object_id, "jobid": job_id}), fmt)


def flat_response(command: str, fields: Mapping[str, Any], *, fmt: str = "xml") -> Rendered:
    """Fields directly under the key (queryAsyncJobResult, login, logout)."""
    return _render(response_key(command), to_wire(fields), fmt)


def _ascii_header(text: str) -> str:
    return "".join(c if 0x20 <= ord(c) < 0x7F else (" " if ord(c) < 0x20 else "?") for c in text)


def error_response(
    command: str | None,
    errorcode: int,
    cserrorcode: int | None,
    errortext: str,
    uuid_list: Iterable[UuidRef] = (),
    *,
    fmt: str = "xml",
) -> Rendered:
    """The error envelope; HTTP status = ``errorcode``.

    The key is ``errorresponse`` when ``command`` is None (pass None for an
    unknown command) or the code is 432.
    ``cserrorcode`` is left out when None and always on 401 (auth failures).
    """
    errorcode = int(errorcode)
    key = (
        ERROR_RESPONSE_KEY
        if command is None or errorcode == ApiErrorCode.UNSUPPORTED_ACTION_ERROR
        else response_key(command)
    )
    refs = list(uuid_list)
    fields: dict[str, Any] = {
        "uuidList": [to_wire({"uuid": uuid, "description": desc}) for uuid, desc in refs],
        "errorcode": errorcode,
    }
    if cserrorcode is not None and errorcode != ApiErrorCode.UNAUTHORIZED:
        fields["cserrorcode"] = int(cserrorcode)
    fields["errortext"] = errortext
    headers = {"X-Description": _ascii_header(errortext)}
    return _render(key, fields, fmt, errorcode, headers, _error_xml(key, fields, refs))


def _error_xml(key: str, fields: Mapping[str, Any], refs: Sequence[UuidRef]) -> ET.Element:
    # QUIRK(cloudstack): XML has one <uuidList> holding <uuid>/<uuidProperty> pairs,
    # and no <uuidList> at all when it is empty.
    root = ET.Element(key)
    if refs:
        holder = ET.SubElement(root, "uuidList")
        for uuid, desc in refs:
            ET.SubElement(holder, "uuid").text = _xml_text(uuid)
            if desc is not None:
                ET.SubElement(holder, "uuidProperty").text = _xml_text(desc)
    _xml_fill(root, {k: v for k, v in fields.items() if k != "uuidList"})
    return root


def error_from(exc: CloudStackError, command: str | None, *, fmt: str = "xml") -> Rendered:
    """``error_response`` for a raised ``CloudStackError``."""
    return error_response(
        command, exc.errorcode, exc.cserrorcode, exc.errortext, exc.uuid_list, fmt=fmt
    )
