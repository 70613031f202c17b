"""More list fields of templates (merged into ``TEMPLATE_FIELDS``).

Each is a predicate on ``Template`` taking the criterion's values, matched
with ``*``/``?`` wildcards unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import aliased

from engine.errors import InvalidParameter
from engine.models import Account, OsType, Snapshot, Template, TemplateZone
from engine.querying import FieldMap, match_values
from engine.services.instance_fields import time_pattern_match
from engine.services.template_access import launch_permission
from engine.states import TemplateState

GIB = 1024**3


def _availability(values: Sequence[str]) -> ColumnElement[bool]:
    """``ready`` (in some zone), ``failed`` (in every zone it went to), else
    ``pending``."""
    zone = select(TemplateZone).where(TemplateZone.template_uuid == Template.uuid)
    ready = exists(zone.where(TemplateZone.state == TemplateState.READY))
    unfailed = exists(zone.where(TemplateZone.state != TemplateState.ERROR))
    failed = and_(~ready, exists(zone), ~unfailed)
    conds = {"ready": ready, "failed": failed, "pending": and_(~ready, ~failed)}
    return or_(false(), *(c for name, c in conds.items()
                          if any(fnmatchcase(name, v) for v in values)))


def _error_text(values: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(TemplateZone.template_uuid == Template.uuid,
                          TemplateZone.state == TemplateState.ERROR,
                          match_values(TemplateZone.error_text, values, True))


def _os_platform(values: Sequence[str]) -> ColumnElement[bool]:
    return Template.os_type_uuid.in_(
        select(OsType.uuid).where(match_values(OsType.platform, values, True)))


def _size_gib(values: Sequence[str]) -> ColumnElement[bool]:
    """Size in whole GiB, rounded up, at least 1."""
    conds = []
    for v in values:
        try:
            n = int(v)
        except ValueError as exc:
            raise InvalidParameter("Filter", v, "size_gib expects whole numbers") from exc
        low = (n - 1) * GIB if n > 1 else -1
        conds.append(and_(Template.size_bytes > low, Template.size_bytes <= n * GIB))
    return or_(false(), *conds)


def _qualified_name(values: Sequence[str]) -> ColumnElement[bool]:
    """``<owner account number>/<name>``."""
    conds = []
    for v in values:
        number, slash, name = v.partition("/")
        if not slash:
            continue
        conds.append(and_(match_values(Template.name, [name], True),
                          Template.account_uuid.in_(select(Account.uuid).where(
                              match_values(Account.number, [number], True)))))
    return or_(false(), *conds)


_source = aliased(Template)

TEMPLATE_MORE_FIELDS: FieldMap = {
    "root_device_name": Template.root_device_name,
    "created_at": time_pattern_match(Template.created_at, "created_at"),
    "availability": _availability,
    "error_text": _error_text,
    "os_platform": _os_platform,
    "size_gib": _size_gib,
    "qualified_name": _qualified_name,
    "source_template_sid": lambda values: Template.source_template_uuid.in_(
        select(_source.uuid).where(match_values(_source.sid, values, True))),
    # The live snapshot the template was made with (or copied with).
    "source_snapshot_sid": lambda values: Template.source_snapshot_uuid.in_(
        select(Snapshot.uuid).where(Snapshot.removed_at.is_(None),
                                    match_values(Snapshot.sid, values, True))),
    # Who may launch it: see template_access.permission_match.
    "launch_permission": launch_permission,
}
