"""Wire-shape checks for CloudStack API responses, from product-independent expectations.

``expected_types.json`` (beside this file) gives, per command, the response key,
item key, list shape and the JSON type of every response field as CloudStack
sends them. Typed clients (cloudstack-go/Terraform, marvin, cmk) break when a
type is wrong, so: ``int`` must be a JSON number (not a bool, not a string),
``bool`` a JSON boolean, ``list[...]`` an array, ``map``/``*Response`` an object,
``str``/``date-str``/enums a string. Fields a server sends but the table does
not list are not judged; ``null`` is never valid (CloudStack omits nulls).

Public functions return lists of human-readable problems (empty: conforms).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent
_FLAT = "(fields inline"
_SUCCESS = "success("


@cache
def table() -> dict[str, dict[str, Any]]:
    data = json.loads((_HERE / "expected_types.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


@cache
def fields_by_class() -> dict[str, dict[str, str]]:
    """Response class -> field types (union over every command returning it)."""
    out: dict[str, dict[str, str]] = {}
    for spec in table().values():
        out.setdefault(spec["responseclass"], {}).update(spec["responsefields"])
    return out


@cache
def class_by_itemkey() -> dict[str, str]:
    """Item key (as in an async job's ``jobresult``) -> response class."""
    out: dict[str, str] = {}
    for spec in table().values():
        key = spec["itemkey"]
        if key and not key.startswith((_FLAT, _SUCCESS)):
            out.setdefault(key, spec["responseclass"])
    return out


def response_key(command: str) -> str:
    spec = table().get(command)
    return spec["responsekey"] if spec else f"{command.lower()}response"


_LIST = re.compile(r"^(?:list\[(.+)\]|java\.util\.(?:Set|List)<(.+)>)$")
_SCALARS = {"str", "date-str"}


def type_problems(expected: str, value: Any, where: str, depth: int = 0) -> list[str]:
    """Problems with ``value`` against one expected type (nested responses checked)."""
    if value is None:
        return [f"{where}: null (CloudStack omits null fields)"]
    if expected in _SCALARS:
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string"]
    if expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not an integer"]
    if expected == "num":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if expected == "bool":
        return [] if isinstance(value, bool) else [f"{where}: {value!r} is not a boolean"]
    if expected == "map" or expected == "ResponseObject":
        return [] if isinstance(value, dict) else [f"{where}: {value!r} is not an object"]
    m = _LIST.match(expected)
    if m:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        inner = m.group(1) or m.group(2)
        problems: list[str] = []
        for i, item in enumerate(value):
            if inner == "String":
                if not isinstance(item, str):
                    problems.append(f"{where}[{i}]: {item!r} is not a string")
            elif inner.endswith("Response") and depth < 4:
                problems += object_problems(inner, item, f"{where}[{i}]", depth + 1)
        return problems
    if expected.endswith("Response"):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        return object_problems(expected, value, where, depth + 1) if depth < 4 else []
    # Java enums (State, ImageFormat, Host.Type, ...) serialize as strings.
    return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string (enum)"]


def object_problems(response_class: str, item: Any, where: str, depth: int = 0) -> list[str]:
    """Type problems of one response object against its class's field table."""
    if not isinstance(item, dict):
        return [f"{where}: {item!r} is not an object"]
    fields = fields_by_class().get(response_class, {})
    problems: list[str] = []
    for name, value in item.items():
        if name in fields:
            problems += type_problems(fields[name], value, f"{where}.{name}", depth)
    return problems


def error_problems(status: int, body: Any) -> list[str]:
    """An error body: one top key, int ``errorcode`` == HTTP status, ``errortext``."""
    if not isinstance(body, dict) or len(body) != 1:
        return [f"error body is not a one-key object: {body!r}"]
    key, inner = next(iter(body.items()))
    problems = []
    if not key.endswith("response"):
        problems.append(f"error envelope key {key!r}")
    if not isinstance(inner, dict):
        return problems + [f"error body {inner!r}"]
    code = inner.get("errorcode")
    if not (isinstance(code, int) and not isinstance(code, bool)):
        problems.append(f"errorcode {code!r} is not an integer")
    elif code != status:
        problems.append(f"HTTP status {status} != errorcode {code}")
    if not isinstance(inner.get("errortext"), str):
        problems.append(f"errortext {inner.get('errortext')!r}")
    cs_code = inner.get("cserrorcode")
    if cs_code is not None and (not isinstance(cs_code, int) or isinstance(cs_code, bool)):
        problems.append(f"cserrorcode {cs_code!r} is not an integer")
    if status >= 500 and status not in range(530, 538):
        problems.append(f"HTTP {status} is not a CloudStack error code")
    return problems


def success_problems(command: str, body: Any) -> list[str]:
    """A 200 body for ``command``: envelope key, list/object/async shape, field types."""
    expected_key = response_key(command)
    if not isinstance(body, dict) or len(body) != 1:
        return [f"{command}: body is not a one-key object: {str(body)[:200]}"]
    key, inner = next(iter(body.items()))
    if key != expected_key:
        return [f"{command}: envelope key {key!r}, expected {expected_key!r}"]
    if not isinstance(inner, dict):
        return [f"{command}: {key} holds {inner!r}"]
    spec = table().get(command)
    if spec is None:
        return []
    where = f"{command}"
    if spec["style"] in ("async", "async-create"):
        problems = type_problems("str", inner.get("jobid"), f"{where}.jobid")
        if spec["style"] == "async-create":
            problems += type_problems("str", inner.get("id"), f"{where}.id")
        return problems
    itemkey: str = spec["itemkey"]
    cls = spec["responseclass"]
    if command == "queryAsyncJobResult":
        return job_problems(inner, where)
    if spec["listshaped"]:
        if inner == {}:
            return []
        count = inner.get("count")
        problems = []
        if not isinstance(count, int) or isinstance(count, bool):
            problems.append(f"{where}: count {count!r} missing or not an integer")
        items = inner.get(itemkey)
        if not isinstance(items, list) or not items:
            problems.append(f"{where}: non-empty list body without a {itemkey!r} array "
                            f"(empty lists must be {{}}): {str(inner)[:200]}")
            return problems
        if isinstance(count, int) and count < len(items):
            problems.append(f"{where}: count {count} < {len(items)} items")
        for i, item in enumerate(items):
            problems += object_problems(cls, item, f"{where}.{itemkey}[{i}]")
        return problems
    if itemkey.startswith(_SUCCESS):
        return type_problems("bool", inner.get("success"), f"{where}.success")
    if itemkey.startswith(_FLAT):
        return object_problems(cls, inner, where)
    if itemkey not in inner:
        return [f"{where}: no {itemkey!r} object in {str(inner)[:200]}"]
    return object_problems(cls, inner[itemkey], f"{where}.{itemkey}")


def job_problems(job: dict[str, Any], where: str = "queryAsyncJobResult") -> list[str]:
    """An async job object (queryAsyncJobResult / listAsyncJobs item) and its result."""
    problems = object_problems("AsyncJobResponse", job, where)
    for name, kind in (("jobid", "str"), ("jobstatus", "int"), ("jobresultcode", "int")):
        if name not in job:
            problems.append(f"{where}: no {name}")
        else:
            problems += type_problems(kind, job[name], f"{where}.{name}")
    result = job.get("jobresult")
    if job.get("jobstatus") == 1 and isinstance(result, dict):
        for key, value in result.items():
            cls = class_by_itemkey().get(key)
            if key == "success":
                problems += type_problems("bool", value, f"{where}.jobresult.success")
            elif cls:
                problems += object_problems(cls, value, f"{where}.jobresult.{key}")
    if job.get("jobstatus") == 2 and isinstance(result, dict):
        problems += type_problems("int", result.get("errorcode"), f"{where}.jobresult.errorcode")
        problems += type_problems("str", result.get("errortext"), f"{where}.jobresult.errortext")
    return problems


def reply_problems(command: str, status: int, body: Any) -> list[str]:
    """Everything checkable about one JSON reply to ``command``."""
    if status == 200:
        return success_problems(command, body)
    return [f"{command}: {p}" for p in error_problems(status, body)]


def api_problems(api: dict[str, Any]) -> list[str]:
    """One ``listApis`` entry as cloudmonkey 5.x, Go cmk and marvin's codegen read it."""
    name = api.get("name")
    where = f"listApis[{name}]"
    problems = []
    for field, kind in (("name", "str"), ("description", "str"), ("isasync", "bool")):
        problems += type_problems(kind, api.get(field), f"{where}.{field}")
    if "related" in api:
        problems += type_problems("str", api["related"], f"{where}.related")
    for field in ("params", "response"):
        if not isinstance(api.get(field), list):
            problems.append(f"{where}.{field}: {api.get(field)!r} is not an array")
    for p in api.get("params") or []:
        pw = f"{where}.params[{p.get('name')}]"
        for field, kind in (("name", "str"), ("type", "str"), ("description", "str"),
                            ("required", "bool"), ("length", "int")):
            problems += type_problems(kind, p.get(field), f"{pw}.{field}")
    for r in api.get("response") or []:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            problems.append(f"{where}.response item without a name: {r!r}")
    return problems
