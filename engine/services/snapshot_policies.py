"""Recurring volume snapshots: policies and the scheduler step that runs them.

A policy (one per volume and interval) says when to snapshot the volume and how
many of its snapshots to keep. :meth:`SnapshotPolicyService.run_due` is called
from every server's periodic work: it claims each due policy by moving its
``next_run_at`` forward with a conditional UPDATE (only one server's UPDATE
matches), takes the snapshot through :class:`SnapshotService`, and deletes the
policy's oldest snapshots beyond ``max_snaps``.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import EngineError, InvalidParameter, NotFound, ResourceKind
from engine.models import PolicySnapshot, Snapshot, SnapshotPolicy, Volume
from engine.principal import SYSTEM, Principal
from engine.querying import Criterion, ListResult, Paging, list_owned
from engine.services.access import may_act
from engine.services.settings import Settings
from engine.services.snapshots import SnapshotService
from engine.states import SnapshotState, VolumeState

log = logging.getLogger("nimbostack.snapshot_policies")


class Interval(str, Enum):
    HOURLY = "HOURLY"
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"

    @property
    def code(self) -> int:
        """The interval's number (0 hourly ... 3 monthly)."""
        return list(Interval).index(self)


MAX_SNAPS = {i: 8 for i in Interval}  # the default snapshot.max.<interval> limits


@dataclass(frozen=True)
class PolicyRequest:
    volume_uuid: str
    interval: str
    schedule: str
    timezone: str
    max_snaps: int
    for_display: bool = True


@dataclass
class PolicyDetail:
    policy: SnapshotPolicy
    volume: Volume

    @property
    def interval(self) -> Interval:
        return Interval(self.policy.interval_type)


def parse_interval(value: str) -> Interval:
    try:
        return Interval(value.strip().upper())
    except ValueError:
        raise InvalidParameter("intervaltype", value, "unsupported interval type") from None


def zone_of(name: str) -> tuple[ZoneInfo, str]:
    """The time zone ``name``, or UTC (as "GMT") when it is unknown."""
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC"), "GMT"


def next_run(interval: Interval, schedule: str, tz_name: str, after: datetime) -> datetime:
    """The first run strictly after ``after`` (naive UTC in, naive UTC out).

    Raises InvalidParameter for a schedule that does not fit the interval.
    """
    parts = schedule.strip().split(":")
    want = {Interval.HOURLY: 1, Interval.DAILY: 2, Interval.WEEKLY: 3, Interval.MONTHLY: 3}
    try:
        if len(parts) != want[interval]:
            raise ValueError
        nums = [int(p) for p in parts]
    except ValueError:
        raise InvalidParameter("schedule", schedule, "invalid schedule") from None
    minute = nums[0]
    hour = nums[1] if len(nums) > 1 else 0
    day = nums[2] if len(nums) > 2 else 1
    limits = {Interval.WEEKLY: (1, 7), Interval.MONTHLY: (1, 28)}
    lo, hi = limits.get(interval, (1, 31))
    if not (0 <= minute <= 59 and 0 <= hour <= 23 and lo <= day <= hi):
        raise InvalidParameter("schedule", schedule, "invalid schedule")
    tz, _ = zone_of(tz_name)
    local = after.replace(tzinfo=UTC).astimezone(tz)
    if interval is Interval.HOURLY:
        cand = local.replace(minute=minute, second=0, microsecond=0)
        step = timedelta(hours=1)
    else:
        cand = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        step = timedelta(days=1)
    for _ in range(24 * 62):
        if cand > local and _day_matches(interval, cand, day):
            return cand.astimezone(UTC).replace(tzinfo=None)
        cand = (cand.replace(tzinfo=None) + step).replace(tzinfo=tz)
    raise InvalidParameter("schedule", schedule, "invalid schedule")  # pragma: no cover


def _day_matches(interval: Interval, when: datetime, day: int) -> bool:
    if interval is Interval.WEEKLY:
        return (when.isoweekday() % 7) + 1 == day  # 1 = Sunday ... 7 = Saturday
    if interval is Interval.MONTHLY:
        return when.day == day
    return True


class SnapshotPolicyService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings

    # ------------------------------------------------------------------ CRUD
    def create(self, principal: Principal, req: PolicyRequest) -> PolicyDetail:
        """Create the volume's policy for the interval, or replace its schedule.

        Raises NotFound (volume), IncorrectState-like InvalidParameter checks in
        this order: volume not Ready, interval, schedule, max_snaps <= 0 or
        above the interval's limit (``reason`` says which).
        """
        v = self._s.get(Volume, req.volume_uuid)
        if v is None or v.removed_at is not None or not may_act(self._s, principal,
                                                                 v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, req.volume_uuid)
        if v.state != VolumeState.READY:
            raise InvalidParameter("volumeid", v.uuid, f"the volume is in state {v.state.value}")
        interval = parse_interval(req.interval)
        _, tz_name = zone_of(req.timezone)
        first = next_run(interval, req.schedule, tz_name, utcnow())
        if req.max_snaps <= 0:
            raise InvalidParameter("maxsnaps", req.max_snaps, "must be greater than 0")
        if req.max_snaps > MAX_SNAPS[interval]:
            raise InvalidParameter("maxsnaps", req.max_snaps,
                                   f"exceeds limit: {MAX_SNAPS[interval]}")
        policy = self._s.scalar(select(SnapshotPolicy).where(
            SnapshotPolicy.volume_uuid == v.uuid,
            SnapshotPolicy.interval_type == interval.value).with_for_update())
        if policy is None:
            policy = SnapshotPolicy(account_uuid=v.account_uuid, volume_uuid=v.uuid,
                                    interval_type=interval.value)
            self._s.add(policy)
        policy.schedule, policy.timezone = req.schedule.strip(), tz_name
        policy.max_snaps, policy.for_display = req.max_snaps, req.for_display
        policy.next_run_at = first
        self._s.flush()
        return PolicyDetail(policy, v)

    def list(self, principal: Principal, *, uuid: str | None = None,
             volume_uuid: str | None = None, for_display: bool | None = None,
             paging: Paging | None = None, list_all: bool = True) -> ListResult:
        """Policies the principal may see, as :class:`PolicyDetail` items."""
        crit = []
        if uuid:
            crit.append(Criterion("uuid", (uuid,), False))
        if volume_uuid:
            crit.append(Criterion("volume_uuid", (volume_uuid,), False))
        if for_display is not None:
            crit.append(Criterion("for_display", ("true" if for_display else "false",), False))
        page = list_owned(self._s, SnapshotPolicy, principal, kind=ResourceKind.SNAPSHOT,
                          fields={"uuid": SnapshotPolicy.uuid,
                                  "volume_uuid": SnapshotPolicy.volume_uuid,
                                  "for_display": lambda vals: SnapshotPolicy.for_display.is_(
                                      vals[0] == "true")},
                          criteria=crit, paging=paging, list_all=list_all)
        vols = {v.uuid: v for v in self._s.scalars(select(Volume).where(
            Volume.uuid.in_({p.volume_uuid for p in page.items})))}
        page.items = [PolicyDetail(p, vols[p.volume_uuid]) for p in page.items]
        return page

    def update(self, principal: Principal, uuid: str, *,
               for_display: bool | None = None) -> PolicyDetail:
        policy = self._policy(principal, uuid)
        if for_display is not None:
            policy.for_display = for_display
        self._s.flush()
        return PolicyDetail(policy, self._s.get(Volume, policy.volume_uuid))  # type: ignore[arg-type]

    def delete(self, principal: Principal, uuids: builtins.list[str]) -> int:
        """Delete the policies (all or none: NotFound for any unknown one); its
        snapshots stay."""
        policies = [self._policy(principal, u) for u in dict.fromkeys(uuids)]
        for p in policies:
            self._s.delete(p)
        self._s.flush()
        return len(policies)

    def _policy(self, principal: Principal, uuid: str) -> SnapshotPolicy:
        policy = self._s.get(SnapshotPolicy, uuid)
        if policy is None or not may_act(self._s, principal, policy.account_uuid):
            raise NotFound(ResourceKind.SNAPSHOT, uuid)
        return policy

    # ------------------------------------------------------------- scheduler
    def run_due(self, now: datetime | None = None, limit: int = 20) -> int:
        """Take the snapshots that are due at ``now`` (default: the clock); return
        how many policies this call ran. Safe on many servers at once."""
        now = now or utcnow()
        due = list(self._s.execute(select(SnapshotPolicy.uuid, SnapshotPolicy.next_run_at).where(
            SnapshotPolicy.next_run_at <= now).order_by(SnapshotPolicy.next_run_at).limit(limit)))
        ran = 0
        for uuid, when in due:
            policy = self._s.get(SnapshotPolicy, uuid)
            if policy is None:
                continue
            following = next_run(Interval(policy.interval_type), policy.schedule,
                                 policy.timezone, max(now, when))
            claimed = self._s.execute(
                update(SnapshotPolicy).where(SnapshotPolicy.uuid == uuid,
                                             SnapshotPolicy.next_run_at == when)
                .values(next_run_at=following, last_run_at=now)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not claimed:
                continue  # another server took this run
            ran += 1
            self._take(policy)
        return ran

    def _take(self, policy: SnapshotPolicy) -> None:
        snapshots = SnapshotService(self._s, self._settings)
        try:
            with self._s.begin_nested():
                snap, _ = snapshots.create(SYSTEM, policy.volume_uuid, command="snapshotPolicy")
                self._s.add(PolicySnapshot(snapshot_uuid=snap.uuid, policy_uuid=policy.uuid,
                                           interval_type=policy.interval_type))
        except EngineError as exc:  # a busy or removed volume: skip this run
            log.info("scheduled snapshot of %s skipped: %s", policy.volume_uuid, exc.message)
            return
        kept = list(self._s.scalars(
            select(Snapshot).join(PolicySnapshot, PolicySnapshot.snapshot_uuid == Snapshot.uuid)
            .where(PolicySnapshot.policy_uuid == policy.uuid, Snapshot.removed_at.is_(None))
            .order_by(Snapshot.created_at.desc(), Snapshot.uuid.desc())))
        for old in kept[policy.max_snaps:]:
            if old.state not in (SnapshotState.BACKED_UP, SnapshotState.ERROR):
                continue
            try:
                with self._s.begin_nested():
                    snapshots.delete(SYSTEM, old.uuid, command="snapshotPolicy")
            except EngineError as exc:
                log.info("old scheduled snapshot %s kept: %s", old.uuid, exc.message)
