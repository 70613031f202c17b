"""Sharing snapshots: which accounts besides the owner may make volumes from a
snapshot (:class:`~engine.models.SnapshotPermission`), or everyone (public).

Only the owner (or an admin over it) reads or changes the sharing; accounts
are named by number. Accounts a snapshot is shared with see it in listings
that ask for shared snapshots and may create volumes from (and copy) it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, PermissionDenied, ResourceKind
from engine.models import Account, Snapshot, SnapshotPermission
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.sharing import PermissionRows, ShareOp, may_use_shared
from engine.services.template_access import permission_match
from engine.services.volume_queries import by_ident

# add, remove, reset (shared with nobody, not public).
SharingOp = ShareOp


@dataclass(frozen=True)
class SharingChange:
    """Add or remove ``account_numbers`` (and make public or private when
    ``is_public`` is given), or reset."""

    op: SharingOp
    account_numbers: tuple[str, ...] = ()
    is_public: bool | None = None


@dataclass
class SnapshotSharing:
    """A snapshot and the accounts (other than its owner) it is shared with."""

    snapshot: Snapshot
    accounts: list[Account]


def shared_with(accounts: object) -> ColumnElement[bool]:
    """SQL: the snapshot is shared with one of ``accounts`` (a select of account uuids)."""
    return exists().where(SnapshotPermission.snapshot_uuid == Snapshot.uuid,
                          SnapshotPermission.account_uuid.in_(accounts))  # type: ignore[arg-type]


def usable_by(principal: Principal) -> ColumnElement[bool]:
    """SQL: the snapshot is public or shared with the principal's account."""
    return or_(Snapshot.is_public.is_(True),
               shared_with(select(Account.uuid).where(Account.uuid == principal.account_uuid)))


def restore_permission(values: Sequence[str]) -> ColumnElement[bool]:
    """List field "who may make volumes from it" (values as
    :func:`~engine.services.template_access.permission_match`)."""
    return permission_match(values, owner=Snapshot.account_uuid, public=Snapshot.is_public,
                            shared=shared_with)


def may_use(session: Session, principal: Principal, snap: Snapshot) -> bool:
    """Whether ``principal`` may make volumes from (or copy) the live ``snap``."""
    return may_use_shared(session, principal, snap, SnapshotPermission,
                          SnapshotPermission.snapshot_uuid)


def usable_snapshot(session: Session, principal: Principal, ident: str) -> Snapshot:
    """The live snapshot ``ident`` (uuid or sid) the principal owns or that is
    shared with it, else NotFound."""
    snap = session.scalar(select(Snapshot).where(by_ident(Snapshot.uuid, Snapshot.sid, ident)))
    if snap is None or not may_use(session, principal, snap):
        raise NotFound(ResourceKind.SNAPSHOT, ident)
    return snap


class SnapshotPermissionService:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = PermissionRows(session, SnapshotPermission,
                                    SnapshotPermission.snapshot_uuid, Account.number)

    def get(self, principal: Principal, ident: str) -> SnapshotSharing:
        """Who may use the snapshot. Raises NotFound, PermissionDenied (a
        snapshot shared with the caller but not its own)."""
        snap = self._owned(principal, ident, "list the snapshot's permissions")
        return SnapshotSharing(snap, self._accounts(snap.uuid))

    def change(self, principal: Principal, ident: str, change: SharingChange) -> SnapshotSharing:
        """Apply ``change``. Raises NotFound, PermissionDenied (not the
        owner's) and InvalidParameter (``account_number``: no account has that number)."""
        snap = self._owned(principal, ident, "change the snapshot's permissions")
        if change.op is SharingOp.RESET:
            snap.is_public = False
            self.drop_all(snap.uuid)
        elif change.account_numbers:
            self._rows.apply(change.op, snap.uuid, self._resolve(snap, change.account_numbers))
        if change.is_public is not None and change.op is not SharingOp.RESET:
            snap.is_public = change.is_public
        self._s.flush()
        return SnapshotSharing(snap, self._accounts(snap.uuid))

    def drop_all(self, snapshot_uuid: str) -> None:
        """Share the snapshot with nobody (it stays public if it is)."""
        self._rows.drop_all(snapshot_uuid)

    def _owned(self, principal: Principal, ident: str, action: str) -> Snapshot:
        snap = usable_snapshot(self._s, principal, ident)
        if not may_act(self._s, principal, snap.account_uuid):
            raise PermissionDenied(action, ResourceKind.SNAPSHOT, ident)
        return snap

    def _accounts(self, snapshot_uuid: str) -> list[Account]:
        return self._rows.accounts(snapshot_uuid)

    def _resolve(self, snap: Snapshot, numbers: tuple[str, ...]) -> list[Account]:
        out = []
        for number in dict.fromkeys(numbers):
            account = self._s.scalar(select(Account).where(
                Account.number == number, Account.removed_at.is_(None)))
            if account is None:
                raise InvalidParameter("account_number", number, "no such account")
            if account.uuid != snap.account_uuid:  # the owner always may
                out.append(account)
        return out
