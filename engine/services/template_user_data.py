"""User data objects linked to templates, and the user data a launch ends up with.

A template may carry one stored user data object. How a launch's own user data
(inline, or another stored object) combines with it is the link's policy:

* ``allowoverride``: the launch's own user data wins; without it the template's is used;
* ``append``: the template's bytes followed by the launch's own;
* ``denyoverride``: the template's is used, and a launch that brings its own is refused.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.models import Template, TemplateUserData, UserData
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.vm_extras import VmExtrasService, decode_user_data


class UserDataPolicy(StrEnum):
    ALLOW_OVERRIDE = "allowoverride"
    APPEND = "append"
    DENY_OVERRIDE = "denyoverride"


@dataclass(frozen=True)
class LinkedUserData:
    user_data: UserData
    policy: UserDataPolicy


def parse_policy(value: str | None) -> UserDataPolicy:
    """A policy name in any case; empty means allow-override; InvalidParameter otherwise."""
    if not value:
        return UserDataPolicy.ALLOW_OVERRIDE
    try:
        return UserDataPolicy(value.lower())
    except ValueError as exc:
        raise InvalidParameter("userdatapolicy", value, "must be one of ALLOWOVERRIDE, APPEND, "
                               "DENYOVERRIDE") from exc


class TemplateUserDataService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def link(self, principal: Principal, template_uuid: str, user_data_uuid: str | None,
             policy: UserDataPolicy = UserDataPolicy.ALLOW_OVERRIDE) -> Template:
        """Link ``user_data_uuid`` to the template (None unlinks); returns the template.

        NotFound for a template or user data object the caller may not act on
        (templates of other accounts, even public ones, are not the caller's to change).
        """
        t = self._s.scalar(select(Template).where(Template.uuid == template_uuid,
                                                  Template.removed_at.is_(None))
                           .with_for_update())
        if t is None or not may_act(self._s, principal, t.account_uuid):
            raise NotFound(ResourceKind.TEMPLATE, template_uuid)
        self._s.execute(delete(TemplateUserData).where(
            TemplateUserData.template_uuid == t.uuid))
        if user_data_uuid is not None:
            ud = VmExtrasService(self._s).get_user_data(principal, user_data_uuid)
            self._s.add(TemplateUserData(template_uuid=t.uuid, user_data_uuid=ud.uuid,
                                         policy=policy.value))
        self._s.flush()
        return t

    def linked(self, template_uuids: list[str]) -> dict[str, LinkedUserData]:
        """Template uuid -> its live linked user data, for those that have one."""
        if not template_uuids:
            return {}
        rows = self._s.execute(
            select(TemplateUserData, UserData)
            .join(UserData, UserData.uuid == TemplateUserData.user_data_uuid)
            .where(TemplateUserData.template_uuid.in_(template_uuids),
                   UserData.removed_at.is_(None))).all()
        return {link.template_uuid: LinkedUserData(ud, UserDataPolicy(link.policy))
                for link, ud in rows}

    def is_linked(self, user_data_uuid: str) -> bool:
        return self._s.scalar(select(TemplateUserData.template_uuid).where(
            TemplateUserData.user_data_uuid == user_data_uuid).limit(1)) is not None


def launch_user_data(session: Session, principal: Principal, template_uuid: str,
                     inline_b64: str | None, user_data_uuid: str | None) -> str | None:
    """The base64 user data a launch from ``template_uuid`` gets.

    ``inline_b64`` and ``user_data_uuid`` (a stored object the caller may use)
    are the launch's own and exclusive (InvalidParameter for both). The
    template's linked object combines with them by its policy; a deny-override
    link refuses the launch's own (InvalidParameter).
    """
    own = inline_b64 or None
    if user_data_uuid:
        if own:
            raise InvalidParameter("userdataid", user_data_uuid, "give either user data or a "
                                   "user data id, not both")
        own = VmExtrasService(session).get_user_data(principal, user_data_uuid).content
    link = TemplateUserDataService(session).linked([template_uuid]).get(template_uuid)
    if link is None:
        return own
    theirs = link.user_data.content
    if own is None:
        return theirs
    if link.policy is UserDataPolicy.DENY_OVERRIDE:
        raise InvalidParameter("userdata", "...", "the template's linked user data may not be "
                               "overridden (policy DENYOVERRIDE)")
    if link.policy is UserDataPolicy.ALLOW_OVERRIDE:
        return own
    return base64.b64encode(decode_user_data(theirs) + decode_user_data(own)).decode()
