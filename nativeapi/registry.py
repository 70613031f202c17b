"""The CloudStack command registry: handlers plus their wire metadata.

A handler is registered with ``@command("listZones")``. Its metadata (sync or
async, response key, item key, list shape, typed parameters, response fields)
comes from ``nativeapi/spec/commands.json``; registering a name that is not
there raises ``RegistryError`` at import time unless ``meta=`` supplies the
entry explicitly (same schema as the JSON). The registry also produces
``listApis`` entries and validates a request's parameters against a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar

from nativeapi.protocol.parser import CsParams
from nativeapi.protocol.render import response_key, to_wire
from nativeapi.spec import load_commands

Handler = Callable[[Any, CsParams], object]
H = TypeVar("H", bound=Handler)

STYLES = ("sync", "async", "async-create")
PARAM_TYPES = frozenset(
    {
        "boolean",
        "date",
        "integer",
        "list",
        "long",
        "map",
        "object",
        "short",
        "string",
        "tzdate",
        "uuid",
    }
)


class RegistryError(Exception):
    """A registration that contradicts the command table (raised at import time)."""


@dataclass(frozen=True)
class ParamSpec:
    """One request parameter. ``name`` keeps the annotation's case (e.g. ``domainId``)."""

    name: str
    type: str
    required: bool
    admin_only: bool = False
    description: str = ""
    length: int = 255
    related: str = ""

    @property
    def key(self) -> str:
        """The lowercased name requests are matched on."""
        return self.name.lower()


@dataclass(frozen=True)
class CommandMeta:
    """Wire metadata of one command.

    ``shape`` is "list" (``{count, item: [...]}``), "object" (``{item: {...}}``),
    "success" (``{success, displaytext}``) or "flat" (fields under the key).
    ``itemkey`` is None for success/flat shapes.
    """

    name: str
    style: str
    responsekey: str
    itemkey: str | None
    shape: str
    params: tuple[ParamSpec, ...]
    responsefields: Mapping[str, str] = field(default_factory=dict)
    responseclass: str = ""
    description: str = ""
    related: str = ""
    since: str | None = None

    @property
    def is_async(self) -> bool:
        return self.style != "sync"

    @property
    def creates(self) -> bool:
        """Async-create: the submit response carries the new entity's ``id``."""
        return self.style == "async-create"

    @property
    def listshaped(self) -> bool:
        return self.shape == "list"

    def param(self, name: str) -> ParamSpec | None:
        """The parameter spec for a (case-insensitive) name, if declared."""
        key = name.lower()
        return next((p for p in self.params if p.key == key), None)

    @classmethod
    def from_json(cls, name: str, entry: Mapping[str, Any]) -> CommandMeta:
        """Build from a ``commands.json`` entry (missing keys get sync/object defaults)."""
        style = entry.get("style", "sync")
        if style not in STYLES:
            raise RegistryError(f"{name}: unknown style {style!r}")
        raw_item = str(entry.get("itemkey") or "")
        shape, itemkey = _shape(raw_item, bool(entry.get("listshaped")))
        admin = {str(a).lower() for a in entry.get("adminonly", ())}
        params = [
            ParamSpec(p, t, required, p.lower() in admin)
            for required, group in (
                (True, entry.get("required", {})),
                (False, entry.get("optional", {})),
            )
            for p, t in group.items()
        ]
        return cls(
            name=name,
            style=style,
            responsekey=entry.get("responsekey") or response_key(name),
            itemkey=itemkey,
            shape=shape,
            params=tuple(params),
            responsefields=MappingProxyType(dict(entry.get("responsefields", {}))),
            responseclass=str(entry.get("responseclass", "")),
            description=str(entry.get("description") or _humanize(name)),
            related=str(entry.get("related", "")),
            since=entry.get("since"),
        )


def _shape(raw_item: str, listshaped: bool) -> tuple[str, str | None]:
    if listshaped:
        return "list", raw_item.split("|")[0] or None
    if raw_item.startswith("success"):
        return "success", None
    if raw_item.startswith("(fields inline"):
        return "flat", None
    if re.fullmatch(r"[A-Za-z0-9]+(\|[A-Za-z0-9]+)*", raw_item):
        return "object", raw_item.split("|")[0]  # e.g. "template|iso": first is the default
    return "object", None


def _humanize(name: str) -> str:
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Command:
    """A registered handler with its metadata and free-form ``options``."""

    meta: CommandMeta
    handler: Handler
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.meta.name


class Registry:
    """Name -> ``Command``. The module-level functions use ``default_registry``."""

    def __init__(self, table: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._table = load_commands() if table is None else table
        self._commands: dict[str, Command] = {}
        self._class_fields: dict[str, Mapping[str, str]] = {}
        for entry in self._table.values():
            cls_name = str(entry.get("responseclass", ""))
            if cls_name and cls_name not in self._class_fields:
                self._class_fields[cls_name] = entry.get("responsefields", {})

    def command(
        self,
        name: str,
        *,
        meta: Mapping[str, Any] | None = None,
        description: str | None = None,
        param_docs: Mapping[str, str] | None = None,
        is_async: bool | None = None,
        creates: str | None = None,
        **options: Any,
    ) -> Callable[[H], H]:
        """Decorator registering ``fn(ctx, params) -> object`` for command ``name``.

        ``is_async``/``creates`` (the item key of an async-create) are optional
        cross-checks against the table. ``description``/``param_docs`` feed
        listApis. Other keyword ``options`` are stored on the ``Command`` for
        the dispatcher (e.g. ``post_only=True``, ``session_only=True``).
        Raises ``RegistryError`` for unknown or duplicate names and mismatches.
        """
        entry = dict(meta) if meta is not None else self._table.get(name)
        if entry is None:
            raise RegistryError(f"{name!r} is not in nativeapi/spec/commands.json; pass meta=")
        if description:
            entry = {**entry, "description": description}
        info = CommandMeta.from_json(name, entry)
        if param_docs:
            docs = {k.lower(): v for k, v in param_docs.items()}
            info = _with_param_docs(info, docs)
        if is_async is not None and is_async != info.is_async:
            raise RegistryError(f"{name}: is_async={is_async} but the table says {info.style}")
        if creates is not None and not (info.creates and info.itemkey == creates):
            raise RegistryError(
                f"{name}: creates={creates!r} but table has {info.style}/{info.itemkey}"
            )

        def register(fn: H) -> H:
            if name in self._commands:
                raise RegistryError(f"{name} registered twice")
            self._commands[name] = Command(info, fn, MappingProxyType(dict(options)))
            return fn

        return register

    def lookup(self, name: str) -> Command | None:
        """The registered command (exact, case-sensitive name) or None."""
        return self._commands.get(name)

    def registered(self) -> Mapping[str, Command]:
        """Read-only view of all registered commands by name."""
        return MappingProxyType(self._commands)

    def metadata(self, name: str) -> CommandMeta:
        """Metadata of a registered command, else from the table; KeyError if neither."""
        found = self._commands.get(name)
        if found is not None:
            return found.meta
        if name in self._table:
            return CommandMeta.from_json(name, self._table[name])
        raise KeyError(name)

    def list_apis(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """listApis ``api`` entries for ``names`` (KeyError for an unknown name).

        Fields and types follow what cmk (Go), cloudmonkey 5.3 and marvin read:
        name/description/isasync(bool)/related(str)/params/response; each param
        has name/description/type/length(int)/required(bool)/related(str).
        """
        return [self._api_entry(self.metadata(n)) for n in names]

    def _api_entry(self, meta: CommandMeta) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": meta.name,
            "description": meta.description,
            "isasync": meta.is_async,
            "related": meta.related,
            "params": [
                {
                    "name": p.name,
                    "description": p.description or f"the {p.name} parameter",
                    "type": p.type,
                    "length": p.length,
                    "required": p.required,
                    "related": p.related,
                }
                for p in meta.params
            ],
            "response": self._response_fields(meta.responsefields, set()),
        }
        if meta.since:
            entry["since"] = meta.since
        return entry

    def _response_fields(self, fields: Mapping[str, str], seen: set[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for fname, ftype in fields.items():
            item: dict[str, Any] = {"name": fname, "description": fname, "type": _api_type(ftype)}
            nested = _nested_class(ftype)
            if nested and nested in self._class_fields and nested not in seen:
                item["response"] = self._response_fields(
                    self._class_fields[nested], seen | {nested}
                )
            out.append(item)
        return out


def _with_param_docs(info: CommandMeta, docs: Mapping[str, str]) -> CommandMeta:
    params = tuple(replace(p, description=docs.get(p.key, p.description)) for p in info.params)
    return replace(info, params=params)


_SIMPLE_TYPES = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "num": "double",
    "date-str": "date",
    "map": "map",
}


def _api_type(ftype: str) -> str:
    if ftype in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[ftype]
    if ftype.startswith("list["):
        return "list"
    if ftype.startswith("java.util.Set"):
        return "set"
    return ftype.rsplit(".", 1)[-1].lower()


def _nested_class(ftype: str) -> str | None:
    m = re.fullmatch(r"(?:list\[|java\.util\.Set<)(\w+)[\]>]", ftype)
    if m:
        return m.group(1)
    return ftype if ftype.endswith("Response") else None


# --- request validation ---------------------------------------------------------------


def validate(params: CsParams, meta: CommandMeta) -> None:
    """Check a request against a command, in CloudStack's order; raise its errors.

    Binds ``params`` to the command's response name (used in error texts), then:
    control characters (431) and bad map syntax (430); each declared parameter:
    missing required (431 "missing parameter"), and typed values — uuid, integer,
    long, short, date/tzdate, map — that do not parse (431). Undeclared
    parameters are ignored, as CloudStack does.
    """
    params.response_key = meta.responsekey
    params.check_request()
    for spec in meta.params:
        if not params.has(spec.key):
            if spec.required:
                raise params.missing(spec.name)
            continue
        check = _TYPE_CHECKS.get(spec.type)
        if check is not None:
            check(params, spec)


_TYPE_CHECKS: dict[str, Callable[[CsParams, ParamSpec], object]] = {
    "uuid": lambda p, s: p.uuid(s.name, required=s.required),
    "integer": lambda p, s: p.integer(s.name),
    "long": lambda p, s: p.long(s.name),
    "short": lambda p, s: p.short(s.name),
    "date": lambda p, s: p.date(s.name),
    "tzdate": lambda p, s: p.date(s.name),
    "map": lambda p, s: p.map(s.name),
}

_JSON_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "date-str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "map": lambda v: isinstance(v, dict),
}


def response_type_errors(
    meta: CommandMeta, obj: Mapping[str, Any], *, allow_unknown: bool = False
) -> list[str]:
    """Problems of one response object against the table's JSON types (for tests).

    Returns messages for fields whose rendered JSON type differs from the table
    (str/int/num/bool/map/date-str/list[...]) and, unless ``allow_unknown``,
    for fields the table does not list. Empty list = conforms.
    """
    problems: list[str] = []
    for key, value in to_wire(obj).items():
        expected = meta.responsefields.get(key)
        if expected is None:
            if not allow_unknown:
                problems.append(f"{key}: not a {meta.responseclass or meta.name} field")
            continue
        check = _JSON_CHECKS.get(expected)
        if check is None and expected.startswith("list["):
            check = lambda v: isinstance(v, list)  # noqa: E731
        if check is not None and not check(value):
            problems.append(f"{key}: expected {expected}, got {type(value).__name__}")
    return problems


default_registry = Registry()
command = default_registry.command
lookup = default_registry.lookup
registered = default_registry.registered
metadata = default_registry.metadata
list_apis = default_registry.list_apis
