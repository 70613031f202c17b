"""Security groups (the full rule management comes with the API issues)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.models import SecurityGroup
from engine.principal import Principal


class SecurityGroupService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def resolve(self, principal: Principal, *, sids: Sequence[str] = (),
                names: Sequence[str] = (), uuids: Sequence[str] = ()) -> list[str]:
        """Uuids of the caller's groups named by sid, name or uuid; NotFound for any other."""
        wanted = list(sids) + list(names) + list(uuids)
        if not wanted:
            return []
        rows = list(self._s.scalars(select(SecurityGroup).where(
            SecurityGroup.account_uuid == principal.account_uuid,
            or_(SecurityGroup.sid.in_(sids), SecurityGroup.name.in_(names),
                SecurityGroup.uuid.in_(uuids)))))
        for s in sids:
            if not any(r.sid == s for r in rows):
                raise NotFound(ResourceKind.SECURITY_GROUP, s)
        for n in names:
            if not any(r.name == n for r in rows):
                if n == "default":
                    continue  # created on first launch
                raise NotFound(ResourceKind.SECURITY_GROUP, n)
        for u in uuids:
            if not any(r.uuid == u for r in rows):
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        return [r.uuid for r in rows]
