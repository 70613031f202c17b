"""What an instance's guest may learn about itself, and how it proves it is that guest.

The engine describes the instance in neutral terms (:class:`InstanceMetadata`);
a front end lays it out in whatever tree its guests expect. Access is governed
per instance by :class:`AccessOptions` (stored in ``instance_metadata_access``;
no row means the defaults).

Guest tokens are stateless: an HMAC over (instance sid, expiry) with a key
derived from the shared session secret, so every management server issues and
accepts the same tokens and nothing is stored per token. Rotating the session
secret invalidates all outstanding tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.models import Instance, KeyPair, Region, Vpc
from engine.models.instance_metadata import MetadataAccess
from engine.principal import SYSTEM, Principal
from engine.services.access import may_act
from engine.services.instance_details import InstanceDetail, InstanceReader, NicDetail
from engine.services.settings import Settings
from engine.settings import SESSION_SECRET
from engine.states import VmState, require

if TYPE_CHECKING:
    from engine.services import Services

# States in which a guest may be running and asking for its metadata.
SERVING: Final = frozenset({VmState.STARTING, VmState.RUNNING, VmState.STOPPING,
                            VmState.MIGRATING})
# States in which the access options may be changed.
CHANGEABLE: Final = frozenset({VmState.STARTING, VmState.RUNNING, VmState.STOPPING,
                               VmState.STOPPED, VmState.MIGRATING})
MAX_HOP_LIMIT: Final = 64
_TOKEN_VERSION: Final = 1
_TOKEN_HEADER: Final = struct.Struct(">BQ")  # version, expiry (unix seconds)
_MAC_BYTES: Final = 32
_KEY_LABEL: Final = b"nimbostack instance metadata token v1"
_IDENTITY_LABEL: Final = b"nimbostack instance identity signing key"


@dataclass(frozen=True)
class AccessOptions:
    """How the guest reaches its metadata (defaults = an instance without a row)."""

    endpoint_enabled: bool = True
    require_token: bool = False
    token_hop_limit: int = 1
    ipv6_enabled: bool = False
    expose_tags: bool = False


@dataclass(frozen=True)
class AccessChange:
    """Changes for :meth:`InstanceMetadataService.change_access`; None keeps a value."""

    endpoint_enabled: bool | None = None
    require_token: bool | None = None
    token_hop_limit: int | None = None
    ipv6_enabled: bool | None = None
    expose_tags: bool | None = None


@dataclass(frozen=True)
class Interface:
    """A NIC and the CIDR of its network's container (the network's own if none)."""

    detail: NicDetail
    container_cidr: str


@dataclass(frozen=True)
class InstanceMetadata:
    """Everything a guest may read about its own instance."""

    detail: InstanceDetail
    region: Region
    access: AccessOptions
    public_key: str | None  # the key pair's public key, if the instance has one
    interfaces: tuple[Interface, ...]
    user_data: bytes | None


@dataclass(frozen=True)
class TokenClaims:
    instance_sid: str
    expires_at: int  # unix seconds


class InstanceMetadataService:
    """Reads an instance's metadata for its guest; changes its access options."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings
        self._reader = InstanceReader(session, settings)

    def describe(self, instance_sid: str) -> InstanceMetadata:
        """The metadata of the instance ``instance_sid`` for its own guest.

        No principal: the caller (a front end) has established that the request
        comes from the guest. Raises NotFound unless the instance exists and is
        in a state in which its guest may run (:data:`SERVING`).
        """
        detail = self._reader.get(SYSTEM, sid=instance_sid, include_expunged=False)
        inst = detail.instance
        if inst.state not in SERVING:
            raise NotFound(ResourceKind.INSTANCE, instance_sid)
        region = self._s.get(Region, detail.zone.region_uuid)
        if region is None:
            raise NotFound(ResourceKind.REGION, detail.zone.region_uuid)
        key = None
        if inst.key_pair_name:
            key = self._s.scalar(select(KeyPair.public_key).where(
                KeyPair.account_uuid == inst.account_uuid, KeyPair.name == inst.key_pair_name))
        cidrs: dict[str, str] = {}
        vpc_sids = {n.vpc_sid for n in detail.nics if n.vpc_sid}
        if vpc_sids:
            cidrs = {sid: cidr for sid, cidr in self._s.execute(
                select(Vpc.sid, Vpc.cidr).where(Vpc.sid.in_(vpc_sids)))}
        interfaces = tuple(
            Interface(n, cidrs.get(n.vpc_sid or "", n.network.cidr)) for n in detail.nics)
        return InstanceMetadata(detail, region, self._access_row(inst.uuid), key, interfaces,
                                _decode(inst.user_data))

    def access(self, instance_uuids: list[str]) -> dict[str, AccessOptions]:
        """The access options of each instance in ``instance_uuids`` (defaults if unset)."""
        if not instance_uuids:
            return {}
        # Plain columns, not ORM rows: a listing asks for a thousand instances
        # at a time (and most have no row).
        if self._s.autoflush:
            self._s.flush()
        table = MetadataAccess.__table__
        rows = self._s.execute(select(
            table.c.instance_uuid, table.c.endpoint_enabled, table.c.require_token,
            table.c.token_hop_limit, table.c.ipv6_enabled, table.c.expose_tags,
        ).where(table.c.instance_uuid.in_(instance_uuids)))
        found = {uuid: AccessOptions(*values) for uuid, *values in rows}
        default = AccessOptions()
        return {u: found.get(u, default) for u in instance_uuids}

    def change_access(self, principal: Principal, instance_sid: str,
                      change: AccessChange) -> tuple[InstanceDetail, AccessOptions]:
        """Apply ``change`` to the instance's access options at once.

        Raises NotFound when the principal may not act on the instance,
        IncorrectState when it is destroyed or gone, InvalidParameter for a hop
        limit outside 1..64. Returns the instance and its options after the change.
        """
        inst = self._s.scalar(select(Instance).where(Instance.sid == instance_sid)
                              .with_for_update())
        if inst is None or inst.state == VmState.EXPUNGED or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, instance_sid)
        require(inst.state, CHANGEABLE, ResourceKind.INSTANCE, instance_sid)
        hops = change.token_hop_limit
        if hops is not None and not 1 <= hops <= MAX_HOP_LIMIT:
            raise InvalidParameter("token_hop_limit", hops, f"must be 1 to {MAX_HOP_LIMIT}")
        row = self._s.get(MetadataAccess, inst.uuid)
        if row is None:
            row = MetadataAccess(instance_uuid=inst.uuid)
            self._s.add(row)
            current = AccessOptions()
        else:
            current = _options(row)
        wanted = replace(current, **{k: v for k, v in vars(change).items() if v is not None})
        for name, value in vars(wanted).items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        self._s.flush()
        return self._reader.get(principal, sid=instance_sid), wanted

    def token_key(self, *, create: bool) -> bytes | None:
        """The key guest tokens are signed with, shared by every server.

        With ``create`` (a writable unit of work) the underlying secret is made
        if missing; without it a missing secret gives None (so no token issued
        by any server can exist yet).
        """
        secret = self._settings.secret(SESSION_SECRET, create=create)
        if not secret:
            return None
        return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()

    def identity_seed(self, *, create: bool) -> bytes | None:
        """32 secret bytes, the same on every server, from which the key that
        signs instance identity documents is derived (None, as for
        :meth:`token_key`, while no secret exists and ``create`` is false)."""
        secret = self._settings.secret(SESSION_SECRET, create=create)
        if not secret:
            return None
        return hmac.new(secret.encode(), _IDENTITY_LABEL, hashlib.sha256).digest()

    def _access_row(self, instance_uuid: str) -> AccessOptions:
        row = self._s.get(MetadataAccess, instance_uuid)
        return _options(row) if row is not None else AccessOptions()


def _options(row: MetadataAccess) -> AccessOptions:
    return AccessOptions(row.endpoint_enabled, row.require_token, row.token_hop_limit,
                         row.ipv6_enabled, row.expose_tags)


def _decode(user_data_b64: str | None) -> bytes | None:
    if not user_data_b64:
        return None
    try:
        return base64.b64decode(user_data_b64, validate=True)
    except (binascii.Error, ValueError):
        return user_data_b64.encode()


# ---------------------------------------------------------------- tokens
def issue_token(key: bytes, instance_sid: str, expires_at: int) -> str:
    """A token naming ``instance_sid`` that is valid until ``expires_at`` (unix seconds)."""
    payload = _TOKEN_HEADER.pack(_TOKEN_VERSION, expires_at) + instance_sid.encode("ascii")
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload + mac).decode("ascii")


def read_token(key: bytes, token: str, now: float) -> TokenClaims | None:
    """The claims of ``token`` if it is well formed, signed with ``key`` and not
    expired at ``now``; None otherwise (never raises on bad input)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    head = _TOKEN_HEADER.size
    if len(raw) <= head + _MAC_BYTES:
        return None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        return None
    version, expires_at = _TOKEN_HEADER.unpack(payload[:head])
    if version != _TOKEN_VERSION or expires_at <= now:
        return None
    try:
        sid = payload[head:].decode("ascii")
    except UnicodeDecodeError:
        return None
    return TokenClaims(sid, expires_at)


def for_unit(services: Services) -> InstanceMetadataService:
    """The service over one unit of work (until ``Services`` carries it as a property)."""
    return InstanceMetadataService(services.session, services.settings)
