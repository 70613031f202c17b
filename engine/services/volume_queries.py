"""Reading volumes: list, get and load details, and list size/type changes.

The read side of :class:`engine.services.volumes.VolumeService`, which mixes
in :class:`VolumeQueries`; every name here is also importable from
``engine.services.volumes``. Identifiers: wherever a ``*_uuid`` names a
volume, its sid is accepted too.
"""

from __future__ import annotations

import builtins
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, and_, false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.jobs.queue import JobKind
from engine.models import (
    Account,
    DiskOffering,
    Domain,
    Instance,
    Job,
    Snapshot,
    StoragePool,
    Tag,
    Volume,
    Zone,
)
from engine.principal import Principal
from engine.querying import (
    ColumnLike,
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    decode_token,
    encode_token,
    list_owned,
    match_values,
    owner_scope,
    query_key,
    rows_by_uuid,
)
from engine.services.access import may_act
from engine.states import JobStatus, VolumeState

T = TypeVar("T")
GIB = 1024**3
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class AttachmentState(str, Enum):
    """Where a volume is in its attach/detach cycle."""

    DETACHED = "detached"
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"


@dataclass
class VolumeDetail:
    """A volume and the related facts both front ends render."""

    volume: Volume
    zone: Zone
    account: Account
    domain: Domain
    instance: Instance | None = None
    pool: StoragePool | None = None
    disk_offering: DiskOffering | None = None
    snapshot: Snapshot | None = None
    tags: list[Tag] = field(default_factory=list)
    pending: str | None = None  # kind of the unfinished job on the volume, if any

    @property
    def size_gib(self) -> int:
        return -(-self.volume.size_bytes // GIB)

    @property
    def attachment(self) -> AttachmentState:
        v = self.volume
        if self.pending == JobKind.ATTACH_VOLUME.value:
            return AttachmentState.ATTACHING
        if self.pending == JobKind.DETACH_VOLUME.value:
            return AttachmentState.DETACHING
        if v.instance_uuid is None:
            return AttachmentState.DETACHED
        return AttachmentState.ATTACHED


@dataclass(frozen=True)
class VolumeModification:
    """One change of a volume's size, type and/or provisioned IOPS and throughput
    (one resize job) and how far it got."""

    volume_uuid: str
    volume_sid: str
    old_size_bytes: int
    new_size_bytes: int
    old_volume_type: str
    new_volume_type: str
    status: JobStatus
    started_at: datetime
    completed_at: datetime | None = None
    message: str = ""
    old_iops: int | None = None
    new_iops: int | None = None
    old_throughput: int | None = None
    new_throughput: int | None = None

    @property
    def old_size_gib(self) -> int:
        return -(-self.old_size_bytes // GIB)

    @property
    def new_size_gib(self) -> int:
        return -(-self.new_size_bytes // GIB)


def modification_of(job: Job, v: Volume) -> VolumeModification:
    """The change recorded in resize job ``job`` of volume ``v``."""
    p = json.loads(job.payload or "{}")
    return VolumeModification(
        volume_uuid=v.uuid, volume_sid=v.sid,
        old_size_bytes=int(p.get("old_size_bytes", v.size_bytes)),
        new_size_bytes=int(p.get("new_size_bytes", v.size_bytes)),
        old_volume_type=str(p.get("old_volume_type", v.volume_type)),
        new_volume_type=str(p.get("new_volume_type", v.volume_type)),
        status=job.status, started_at=job.created_at, completed_at=job.completed_at,
        message=job.error_message or "",
        old_iops=p.get("old_iops", v.iops), new_iops=p.get("new_iops", v.iops),
        old_throughput=p.get("old_throughput", v.throughput),
        new_throughput=p.get("new_throughput", v.throughput))


# Modification fields matched in Python (they live in the job's payload).
_MODIFICATION_VALUES = {
    "status": lambda m: m.status.value,
    "old_size_gib": lambda m: str(m.old_size_gib),
    "new_size_gib": lambda m: str(m.new_size_gib),
    "old_volume_type": lambda m: m.old_volume_type,
    "new_volume_type": lambda m: m.new_volume_type,
    "old_type_size": lambda m: f"{m.old_volume_type}:{m.old_size_gib}",
    "new_type_size": lambda m: f"{m.new_volume_type}:{m.new_size_gib}",
}


def _modification_matches(m: VolumeModification, crit: Criterion) -> bool:
    value = _MODIFICATION_VALUES[crit.field](m)
    if crit.wildcards:
        return any(fnmatchcase(value, pattern) for pattern in crit.values)
    return value in crit.values


# ------------------------------------------------------------------ list fields
def _ints(name: str, values: Sequence[str], scale: int = 1) -> list[int]:
    try:
        return [int(v) * scale for v in values]
    except ValueError as exc:
        raise InvalidParameter("Filter", name, "expects whole numbers") from exc


def _instance_sid(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.instance_uuid.in_(select(Instance.uuid).where(
        match_values(Instance.sid, values, True)))


def _snapshot_sid(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.snapshot_uuid.in_(select(Snapshot.uuid).where(
        match_values(Snapshot.sid, values, True)))


def _zone_name(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.zone_uuid.in_(select(Zone.uuid).where(Zone.name.in_(values)))


def _attached(values: Sequence[str]) -> ColumnElement[bool]:
    conds = []
    for v in values:
        if v.lower() in ("true", "1", "yes"):
            conds.append(Volume.instance_uuid.is_not(None))
        elif v.lower() in ("false", "0", "no"):
            conds.append(Volume.instance_uuid.is_(None))
        else:
            raise InvalidParameter("Filter", "attached", "expects true or false")
    return or_(*conds) if conds else false()


def _unfinished(kind: JobKind) -> ColumnElement[bool]:
    return Volume.uuid.in_(select(Job.resource_uuid).where(
        Job.kind == kind.value, Job.status.in_(UNFINISHED)))


def _attachment(values: Sequence[str]) -> ColumnElement[bool]:
    """Volumes in any of the given :class:`AttachmentState` values."""
    attaching, detaching = _unfinished(JobKind.ATTACH_VOLUME), _unfinished(JobKind.DETACH_VOLUME)
    conds = []
    for v in values:
        if v == AttachmentState.ATTACHING.value:
            conds.append(attaching)
        elif v == AttachmentState.DETACHING.value:
            conds.append(detaching)
        elif v == AttachmentState.ATTACHED.value:
            conds.append(and_(Volume.instance_uuid.is_not(None), ~attaching, ~detaching))
        elif v == AttachmentState.DETACHED.value:
            conds.append(Volume.instance_uuid.is_(None))
        else:
            raise InvalidParameter("Filter", v, "not an attachment state")
    return or_(*conds) if conds else false()


def _state_attachment(values: Sequence[str]) -> ColumnElement[bool]:
    """``<VolumeState>/attached`` or ``<VolumeState>/detached`` pairs."""
    conds = []
    for v in values:
        state, _, attached = v.partition("/")
        try:
            wanted = VolumeState(state)
        except ValueError as exc:
            raise InvalidParameter("Filter", v, "not a volume state") from exc
        if attached not in ("attached", "detached"):
            raise InvalidParameter("Filter", v, "expects <state>/attached or <state>/detached")
        holder = (Volume.instance_uuid.is_not(None) if attached == "attached"
                  else Volume.instance_uuid.is_(None))
        conds.append(and_(Volume.state == wanted, holder))
    return or_(*conds) if conds else false()


def _delete_on_termination(values: Sequence[str]) -> ColumnElement[bool]:
    """Attached volumes whose flag is any of ``values`` (true/false)."""
    conds = []
    for v in values:
        if v.lower() not in ("true", "false"):
            raise InvalidParameter("Filter", v, "expects true or false")
        conds.append(Volume.delete_on_termination.is_(v.lower() == "true"))
    return and_(Volume.instance_uuid.is_not(None), or_(*conds)) if conds else false()


def timestamp_match(column: ColumnLike, name: str):  # type: ignore[no-untyped-def]
    """A field matching ISO 8601 timestamps at the precision they are written
    in: ``2026-01-02T03:04:05Z`` matches that whole second, ``...05.250Z``
    that millisecond. Raises InvalidParameter for text that is no timestamp."""

    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        conds = []
        for v in values:
            text = v.strip().replace("Z", "+00:00").replace("z", "+00:00")
            try:
                when = datetime.fromisoformat(text)
            except ValueError as exc:
                raise InvalidParameter("Filter", v, f"{name} expects an ISO 8601 time") from exc
            if when.tzinfo is not None:
                when = when.replace(tzinfo=None) - (when.utcoffset() or timedelta())
            step = timedelta(milliseconds=1) if "." in text else timedelta(seconds=1)
            conds.append(and_(column >= when, column < when + step))
        return or_(*conds) if conds else false()

    return cond


class iso_millis(FunctionElement[str]):  # a SQL function, named as one
    """A timestamp column as ``YYYY-MM-DDThh:mm:ss.sssZ`` text."""

    type = String()
    inherit_cache = True


@compiles(iso_millis, "sqlite")
def _iso_sqlite(element: iso_millis, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return str(compiler.process(func.strftime("%Y-%m-%dT%H:%M:%fZ", column), **kw))


@compiles(iso_millis)
def _iso_mysql(element: iso_millis, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    text = func.left(func.date_format(column, "%Y-%m-%dT%H:%i:%s.%f"), 23)
    return str(compiler.process(func.concat(text, "Z"), **kw))


def time_pattern_match(column: ColumnLike, name: str) -> Callable[[Sequence[str]], ColumnElement[bool]]:
    """Like :func:`timestamp_match`, and a value with ``*``/``?`` matches the
    time's ``YYYY-MM-DDThh:mm:ss.sssZ`` text (``2026-01-02T*`` is that day)."""
    exact = timestamp_match(column, name)

    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        patterns = [v for v in values if "*" in v or "?" in v]
        plain = [v for v in values if v not in patterns]
        conds = [exact(plain)] if plain else []
        if patterns:
            conds.append(match_values(iso_millis(column), patterns, True))
        return or_(*conds) if conds else false()

    return cond


VOLUME_FIELDS: FieldMap = {
    "uuid": Volume.uuid,
    "sid": Volume.sid,
    "name": Volume.name,
    "state": Volume.state,
    "kind": Volume.kind,
    "zone_uuid": Volume.zone_uuid,
    "zone_name": _zone_name,
    "zone_pattern": lambda vs: Volume.zone_uuid.in_(
        select(Zone.uuid).where(match_values(Zone.name, vs, True))),
    "instance_uuid": Volume.instance_uuid,
    "instance_sid": _instance_sid,
    "attached": _attached,
    "device_id": lambda vs: Volume.device_id.in_(_ints("device_id", vs)),
    "account_uuid": Volume.account_uuid,
    "pool_uuid": Volume.pool_uuid,
    "disk_offering_uuid": Volume.disk_offering_uuid,
    "snapshot_uuid": Volume.snapshot_uuid,
    "snapshot_sid": _snapshot_sid,
    "volume_type": Volume.volume_type,
    "size_bytes": lambda vs: Volume.size_bytes.in_(_ints("size_bytes", vs)),
    "size_gib": lambda vs: Volume.size_bytes.in_(_ints("size_gib", vs, GIB)),
    "attachment": _attachment,
    "state_attachment": _state_attachment,
    "delete_on_termination": _delete_on_termination,
    "created_at": time_pattern_match(Volume.created_at, "created_at"),
    "attached_at": time_pattern_match(Volume.attached_at, "attached_at"),
}


# ------------------------------------------------------------ shared helpers
def by_ident(column_uuid: ColumnLike, column_sid: ColumnLike, ident: str) -> ColumnElement[bool]:
    """Match a row by its uuid or its sid."""
    return or_(column_uuid == ident, column_sid == ident)


def pending_jobs(session: Session, uuids: Sequence[str]) -> dict[str, str]:
    """Kind of the oldest unfinished job on each of ``uuids`` (those that have one)."""
    if not uuids:
        return {}
    out: dict[str, str] = {}
    for resource_uuid, kind in session.execute(
        select(Job.resource_uuid, Job.kind)
        .where(Job.resource_uuid.in_(uuids), Job.status.in_(UNFINISHED))
        .order_by(Job.created_at)
    ).all():
        out.setdefault(str(resource_uuid), kind)
    return out


# -------------------------------------------------------------------- reader
class VolumeQueries:
    """The read methods of the volume service; the host class sets ``_s``."""

    _s: Session

    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging | None = None, *, list_all: bool = True,
             count: bool = True) -> ListResult:
        """Live volumes the principal may see, as :class:`VolumeDetail` items."""
        page = list_owned(self._s, Volume, principal, kind=ResourceKind.VOLUME,
                          fields=VOLUME_FIELDS, criteria=criteria, paging=paging,
                          list_all=list_all, count=count, where=(Volume.removed_at.is_(None),))
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, ident: str) -> VolumeDetail:
        """One live volume (by uuid or sid) the principal may see, or NotFound."""
        v = self._s.scalar(select(Volume).where(by_ident(Volume.uuid, Volume.sid, ident)))
        if v is None or v.removed_at is not None or not may_act(self._s, principal,
                                                                v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, ident)
        return self.details([v])[0]

    def details(self, volumes: Sequence[Volume]) -> builtins.list[VolumeDetail]:
        """Load the related rows of ``volumes`` with one query per relation."""
        if not volumes:
            return []
        s = self._s
        uuids = [v.uuid for v in volumes]
        zones = rows_by_uuid(s, Zone, {v.zone_uuid for v in volumes})
        accounts = rows_by_uuid(s, Account, {v.account_uuid for v in volumes})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        instances = rows_by_uuid(s, Instance, {v.instance_uuid for v in volumes if v.instance_uuid})
        pools = rows_by_uuid(s, StoragePool, {v.pool_uuid for v in volumes if v.pool_uuid})
        offerings = rows_by_uuid(s, DiskOffering,
                             {v.disk_offering_uuid for v in volumes if v.disk_offering_uuid})
        snapshots = rows_by_uuid(s, Snapshot, {v.snapshot_uuid for v in volumes if v.snapshot_uuid})
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids),
                                             Tag.resource_kind == ResourceKind.VOLUME)
                           .order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        pending = pending_jobs(s, uuids)
        out = []
        for v in volumes:
            account = accounts[v.account_uuid]
            out.append(VolumeDetail(
                volume=v, zone=zones[v.zone_uuid], account=account,
                domain=domains[account.domain_uuid],
                instance=instances.get(v.instance_uuid) if v.instance_uuid else None,
                pool=pools.get(v.pool_uuid) if v.pool_uuid else None,
                disk_offering=offerings.get(v.disk_offering_uuid) if v.disk_offering_uuid
                else None,
                snapshot=snapshots.get(v.snapshot_uuid) if v.snapshot_uuid else None,
                tags=tags.get(v.uuid, []), pending=pending.get(v.uuid)))
        return out

    def modifications(self, principal: Principal, criteria: Sequence[Criterion] = (),
                      paging: Paging | None = None) -> ListResult:
        """Size/type changes (resize jobs) of live volumes the principal may
        see, oldest first, as :class:`VolumeModification` items.

        Criterion fields: ``volume_sid``, ``volume_uuid``, ``started_at``
        (ISO times, see :func:`timestamp_match`), ``status`` (job status
        values), ``old_size_gib``, ``new_size_gib``, ``old_volume_type``,
        ``new_volume_type``. Paging tokens are keyset tokens as elsewhere.
        """
        paging = paging or Paging()
        stmt = select(Job, Volume).join(Volume, Volume.uuid == Job.resource_uuid).where(
            Job.kind == JobKind.RESIZE_VOLUME.value, Volume.removed_at.is_(None),
            owner_scope(Volume.account_uuid, principal)).order_by(Job.created_at, Job.uuid)
        in_python = []
        for c in criteria:
            if c.field in ("volume_sid", "volume_uuid"):
                column = Volume.sid if c.field == "volume_sid" else Volume.uuid
                stmt = stmt.where(match_values(column, c.values, c.wildcards))
            elif c.field == "started_at":
                stmt = stmt.where(time_pattern_match(Job.created_at, "started_at")(c.values))
            elif c.field in _MODIFICATION_VALUES:
                in_python.append(c)
            else:
                raise InvalidParameter("Filter", c.field, f"The filter '{c.field}' is invalid")
        key = query_key("volume-modifications", principal.account_uuid, tuple(criteria))
        after = decode_token(paging.token, key) if paging.token else None
        rows: builtins.list[tuple[Job, VolumeModification]] = []
        for job, v in self._s.execute(stmt).all():
            if after is not None and (job.created_at, job.uuid) <= after:
                continue
            m = modification_of(job, v)
            if all(_modification_matches(m, c) for c in in_python):
                rows.append((job, m))
        next_token = None
        if paging.limit is not None and len(rows) > paging.limit:
            rows = rows[:paging.limit]
            next_token = encode_token(rows[-1][0].created_at, rows[-1][0].uuid, key)
        return ListResult(items=[m for _, m in rows], next_token=next_token)
