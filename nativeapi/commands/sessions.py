"""login / logout: username+password sessions (the cloudmonkey / UI path).

Both run without an apiKey (registered ``unauthenticated``); ``login`` only over
POST (``post_only``: GET is a 405). The handlers return what the dispatcher in
``nativeapi.app`` needs to set or clear the ``JSESSIONID`` and ``sessionkey``
cookies; later calls authenticate with the ``sessionkey`` parameter plus the
cookie of the same value.

Session keys are stateless and signed by the engine (see
``AccountService.start_session``): any server process accepts them until they
expire, also after a restart. ``logout`` clears the cookies and forgets the key
in this process; another process accepts a copied key until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import PermissionDenied
from nativeapi import views_admin
from nativeapi.commands import CsContext
from nativeapi.errors_wire import ApiErrorCode, CloudStackError, CsErrorCode
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands


@dataclass(frozen=True)
class SessionOpened:
    view: dict[str, Any]
    key: str = field(repr=False)


@dataclass(frozen=True)
class SessionClosed:
    key: str | None = field(default=None, repr=False)


def _domain_path(raw: str | None) -> str | None:
    """``/``, ``ROOT``, ``/ROOT/sub``, ``sub/`` -> an engine path (``/``, ``/sub/``)."""
    if raw is None or not raw.strip():
        return None
    inner = [part for part in raw.strip().split("/") if part]
    if inner and inner[0].upper() == "ROOT":
        inner = inner[1:]
    return "/" + "".join(f"{part}/" for part in inner)


# QUIRK(cloudstack): domainId is the domain's internal number (ROOT is 1); the engine
# has none, so it takes the domain's uuid (or 1 for ROOT) as a string.
_LOGIN_META = {**load_commands()["login"],
               "optional": {"domain": "string", "domainId": "string"}}


def _domain_args(p: CsParams) -> dict[str, str | None]:
    domain_id = (p.get("domainid") or "").strip()
    if domain_id == "1":
        return {"domain_path": "/"}
    if domain_id:
        return {"domain_uuid": domain_id.lower()}
    return {"domain_path": _domain_path(p.get("domain"))}


@command("login", meta=_LOGIN_META, unauthenticated=True, post_only=True)
def login(ctx: CsContext, p: CsParams) -> SessionOpened:
    username = p.require("username")
    try:
        session = ctx.services.accounts.start_session(username, p.require("password"),
                                                      **_domain_args(p))
    except PermissionDenied:
        # QUIRK(cloudstack): bad credentials are a 531 ACCOUNT_ERROR, not a 401.
        raise CloudStackError(
            ApiErrorCode.ACCOUNT_ERROR,
            f"Failed to authenticate user {username} in domain {p.get('domain') or '/'}; "
            "please provide valid credentials", CsErrorCode.SERVER_API) from None
    runtime = ctx.services.runtime
    server = runtime.server_uuid if runtime is not None else None
    return SessionOpened(views_admin.login(session, server), session.key)


@command("logout", unauthenticated=True)
def logout(ctx: CsContext, p: CsParams) -> SessionClosed:
    return SessionClosed(p.get("sessionkey") or None)
