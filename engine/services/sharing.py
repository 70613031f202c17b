"""What sharing a resource with other accounts has in common, whatever the
resource: the operations on its list of accounts, and the rows that hold the
list (one per resource and account, as :class:`~engine.models.TemplatePermission`
and :class:`~engine.models.SnapshotPermission`).

The services that own the resources (``template_permissions``,
``snapshot_permissions``) decide who may change the list, how accounts are
named and what else a change touches (public, featured ...); this module only
reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.models import Account
from engine.principal import Principal
from engine.services.access import may_act


class ShareOp(str, Enum):
    """A change to the list of accounts a resource is shared with."""

    ADD = "add"
    REMOVE = "remove"
    RESET = "reset"  # shared with nobody (what else a reset clears is the resource's)


class PermissionRows:
    """The sharing rows of one kind of resource: ``model`` has an
    ``account_uuid`` column and ``subject``, its column naming the shared
    resource. Listings are ordered by ``order_by`` (an :class:`Account`
    column)."""

    def __init__(self, session: Session, model: Any, subject: InstrumentedAttribute[str],
                 order_by: InstrumentedAttribute[Any]) -> None:
        self._s = session
        self._model = model
        self._subject = subject
        self._order_by = order_by

    def accounts(self, subject_uuid: str) -> list[Account]:
        """The accounts the resource is shared with."""
        return list(self._s.scalars(
            select(Account).join(self._model, self._model.account_uuid == Account.uuid)
            .where(self._subject == subject_uuid).order_by(self._order_by)))

    def apply(self, op: ShareOp, subject_uuid: str, accounts: Iterable[Account]) -> None:
        """Share the resource with ``accounts`` (ADD: those not yet in the list)
        or stop sharing it with them (REMOVE). RESET is :meth:`drop_all`."""
        if op is ShareOp.RESET:
            self.drop_all(subject_uuid)
        elif op is ShareOp.ADD:
            have = {a.uuid for a in self.accounts(subject_uuid)}
            for a in accounts:
                if a.uuid not in have:
                    self._s.add(self._model(**{self._subject.key: subject_uuid},
                                            account_uuid=a.uuid))
                    have.add(a.uuid)
        else:
            self._s.execute(delete(self._model).where(
                self._subject == subject_uuid,
                self._model.account_uuid.in_([a.uuid for a in accounts])))

    def drop_all(self, subject_uuid: str) -> None:
        """Share the resource with nobody."""
        self._s.execute(delete(self._model).where(self._subject == subject_uuid))


def may_use_shared(session: Session, principal: Principal, resource: Any, model: Any,
                   subject: InstrumentedAttribute[str]) -> bool:
    """Whether ``principal`` may use the shared ``resource`` (a row with
    ``uuid``, ``account_uuid``, ``is_public`` and ``removed_at``): it is live,
    and public, or the principal may act for its owner, or a ``model`` row
    (``subject`` naming the resource) shares it with the principal's account."""
    if resource.removed_at is not None:
        return False
    if resource.is_public or may_act(session, principal, resource.account_uuid):
        return True
    return session.scalar(select(model.uuid).where(
        subject == resource.uuid, model.account_uuid == principal.account_uuid)) is not None
