"""The XAPI double's database: tables of records keyed by ``OpaqueRef``, plus events.

One ``Store`` is shared by every request thread; callers hold ``store.lock`` (an
RLock with a condition) around any read-modify-write. Every change appends an event
(``add``/``mod``/``del`` with a snapshot of the record) that ``event.from`` returns.
"""

from __future__ import annotations

import copy
import threading
import uuid as uuidlib
from typing import Any

from tests.xapi.schema import BACKREFS, FIELDS, NULL


class XapiError(Exception):
    """A XAPI failure: ``ErrorDescription`` is ``[code, *params]``."""

    def __init__(self, code: str, *params: Any) -> None:
        super().__init__(code, *params)
        self.description = [code, *(str(p) for p in params)]


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


class Store:
    """Tables of records, back-reference upkeep and the event log."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in FIELDS}
        self.events: list[dict[str, Any]] = []
        self.event_id = 0

    # -- lookups --------------------------------------------------------------------

    def table(self, cls: str) -> dict[str, dict[str, Any]]:
        return self.tables[cls]

    def get(self, cls: str, ref: str) -> dict[str, Any]:
        """The record, or HANDLE_INVALID [class, ref] as XAPI answers."""
        rec = self.tables[cls].get(ref) if isinstance(ref, str) else None
        if rec is None:
            raise XapiError("HANDLE_INVALID", cls, ref)
        return rec

    def exists(self, cls: str, ref: object) -> bool:
        return isinstance(ref, str) and ref in self.tables[cls]

    def by_uuid(self, cls: str, value: str) -> str:
        for ref, rec in self.tables[cls].items():
            if rec["uuid"] == value:
                return ref
        raise XapiError("UUID_INVALID", cls, value)

    def where(self, cls: str, **match: Any) -> list[str]:
        return [r for r, rec in self.tables[cls].items()
                if all(rec.get(k) == v for k, v in match.items())]

    # -- changes --------------------------------------------------------------------

    def create(self, cls: str, fields: dict[str, Any], ref: str | None = None) -> str:
        """Insert a record with every field of the class (defaults for the missing ones)."""
        ref = ref or new_ref()
        rec = copy.deepcopy(FIELDS[cls])
        for key, value in fields.items():
            if key in rec or key == "uuid":
                rec[key] = value
        rec.setdefault("uuid", str(uuidlib.uuid4()))
        if not rec["uuid"]:
            rec["uuid"] = str(uuidlib.uuid4())
        self.tables[cls][ref] = rec
        for (owner, field), (target, listing) in BACKREFS.items():
            if owner == cls and self.exists(target, rec.get(field, NULL)):
                self._link(target, rec[field], listing, ref, add=True)
        self.emit(cls, "add", ref)
        return ref

    def update(self, cls: str, ref: str, **fields: Any) -> dict[str, Any]:
        rec = self.get(cls, ref)
        for key, value in fields.items():
            old = rec.get(key)
            rec[key] = value
            backref = BACKREFS.get((cls, key))
            if backref and old != value:
                target, listing = backref
                if self.exists(target, old):
                    self._link(target, str(old), listing, ref, add=False)
                if self.exists(target, value):
                    self._link(target, value, listing, ref, add=True)
        self.emit(cls, "mod", ref)
        return rec

    def destroy(self, cls: str, ref: str) -> None:
        rec = self.tables[cls].pop(ref, None)
        if rec is None:
            raise XapiError("HANDLE_INVALID", cls, ref)
        for (owner, field), (target, listing) in BACKREFS.items():
            if owner == cls and self.exists(target, rec.get(field, NULL)):
                self._link(target, rec[field], listing, ref, add=False)
        self.emit(cls, "del", ref, rec)

    def _link(self, cls: str, ref: str, listing: str, member: str, *, add: bool) -> None:
        items = self.tables[cls][ref][listing]
        if add and member not in items:
            items.append(member)
        elif not add and member in items:
            items.remove(member)
        self.emit(cls, "mod", ref)

    # -- events ---------------------------------------------------------------------

    def emit(self, cls: str, operation: str, ref: str, gone: dict[str, Any] | None = None) -> None:
        self.event_id += 1
        rec = gone if gone is not None else self.tables[cls].get(ref, {})
        self.events.append({"id": str(self.event_id), "class": cls.lower(),
                            "operation": operation, "ref": ref,
                            "snapshot": copy.deepcopy(rec)})
        if len(self.events) > 20000:
            del self.events[:10000]
        self.changed.notify_all()

    def token(self) -> str:
        return f"{self.event_id:020d}"


def int64(value: Any, field: str) -> int:
    """An ``int`` argument as XAPI takes it on the XML-RPC wire: a decimal string."""
    if not isinstance(value, str):
        raise XapiError("FIELD_TYPE_ERROR", field)
    try:
        return int(value)
    except ValueError:
        raise XapiError("FIELD_TYPE_ERROR", field) from None
