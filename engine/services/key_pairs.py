"""SSH key pairs: create (the engine generates the key), import, delete, list.

The private half of a created key is returned once and never stored. Each key
pair keeps two fingerprints (see :mod:`engine.ssh_keys`):

* ``fingerprint``: what EC2 shows. SHA-1 of the PKCS#8 private key for RSA keys
  the engine created, MD5 of the DER public key for imported RSA keys, and the
  SHA-256 of the SSH key blob for ED25519 keys however they came;
* ``fingerprint_md5``: what CloudStack shows, the MD5 of the SSH key blob.

Names are unique per account. Work happens in the caller's transaction.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import ssh_keys
from engine.errors import (
    ConflictingParameters,
    Duplicate,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Account, Domain, KeyPair, Tag
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    owner_scope,
    paginate,
    query_key,
)
from engine.services.access import may_act, owner_account
from engine.services.events import record_event
from engine.services.tags import apply_tags

NO_PAGING = Paging()  # every match in one page
MAX_NAME = 255

KEY_PAIR_FIELDS: FieldMap = {
    "uuid": KeyPair.uuid,
    "sid": KeyPair.sid,
    "name": KeyPair.name,
    "fingerprint": KeyPair.fingerprint,
    "fingerprint_md5": KeyPair.fingerprint_md5,
    "key_type": KeyPair.key_type,
    "account_uuid": KeyPair.account_uuid,
}


@dataclass
class KeyPairDetail:
    key_pair: KeyPair
    account: Account
    domain: Domain
    tags: list[Tag] = field(default_factory=list)


class KeyPairService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: Sequence[Criterion] = (),
             paging: Paging = NO_PAGING, *, list_all: bool = True,
             count: bool = False) -> ListResult:
        """Key pairs the principal may see, oldest first; items are :class:`KeyPairDetail`.

        Fields: ``KEY_PAIR_FIELDS`` (``name`` takes ``*``/``?`` wildcards) and tags.
        """
        criteria = tuple(criteria)
        stmt = select(KeyPair).where(
            owner_scope(KeyPair.account_uuid, principal, list_all=list_all))
        stmt = apply_criteria(stmt, KEY_PAIR_FIELDS, criteria, uuid_column=KeyPair.uuid,
                              kind=ResourceKind.KEY_PAIR)
        key = query_key("key_pairs", principal.account_uuid, criteria, list_all)
        page = paginate(self._s, stmt, created_column=KeyPair.created_at,
                        uuid_column=KeyPair.uuid, paging=paging, query_key=key, count=count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, *, name: str | None = None, uuid: str | None = None,
            sid: str | None = None, account_uuid: str | None = None) -> KeyPairDetail:
        """One key pair by exactly one of name, uuid or sid, or NotFound.

        A name is looked up in ``account_uuid`` (default: the principal's account).
        """
        return self.details([self._find(principal, name, uuid, sid, account_uuid)])[0]

    def details(self, rows: Sequence[KeyPair]) -> builtins.list[KeyPairDetail]:
        if not rows:
            return []
        accounts = {a.uuid: a for a in self._s.scalars(select(Account).where(
            Account.uuid.in_({k.account_uuid for k in rows})))}
        domains = {d.uuid: d for d in self._s.scalars(select(Domain).where(
            Domain.uuid.in_({a.domain_uuid for a in accounts.values()})))}
        tags: dict[str, builtins.list[Tag]] = defaultdict(list)
        for t in self._s.scalars(select(Tag).where(
                Tag.resource_uuid.in_([k.uuid for k in rows]),
                Tag.resource_kind == ResourceKind.KEY_PAIR).order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        return [KeyPairDetail(k, accounts[k.account_uuid],
                              domains[accounts[k.account_uuid].domain_uuid],
                              tags.get(k.uuid, [])) for k in rows]

    # ----------------------------------------------------------------- writes
    def create(self, principal: Principal, name: str, key_type: str = "rsa",
               fmt: str = "pem", *, account_uuid: str | None = None,
               tags: Sequence[tuple[str, str]] = ()) -> tuple[KeyPair, str]:
        """Generate a key pair; return it with the private key file (shown once):
        PEM, or a PuTTY key file when ``fmt`` is ``"ppk"``.

        Raises InvalidParameter (name, ``key_type`` not rsa/ed25519, ``fmt`` not
        pem/ppk) and Duplicate(KEY_PAIR) for a name the account already uses.
        """
        owner = owner_account(self._s, principal, account_uuid)
        _check_name(name)
        generated = ssh_keys.generate(key_type, fmt)
        fingerprint = (generated.fingerprint_sha1 if generated.key_type == "rsa"
                       else generated.fingerprint_sha256)
        row = self._insert(principal, owner, name, generated.key_type, generated.public_openssh,
                           fingerprint, generated.fingerprint_md5, True, tags)
        return row, generated.private_pem

    def import_key(self, principal: Principal, name: str, public_material: bytes | str, *,
                   account_uuid: str | None = None,
                   tags: Sequence[tuple[str, str]] = ()) -> KeyPair:
        """Register a public key the caller made.

        Bad material raises InvalidParameter named ``PublicKeyMaterial``; a name
        the account already uses raises Duplicate(KEY_PAIR). The stored public
        key is the normalised OpenSSH line, with the key's comment if it had one.
        """
        owner = owner_account(self._s, principal, account_uuid)
        _check_name(name)
        parsed = ssh_keys.parse_public(public_material)
        fingerprint = (parsed.fingerprint_spki_md5 if parsed.key_type == "rsa"
                       else parsed.fingerprint_sha256)
        public = parsed.public_openssh + (f" {parsed.comment}" if parsed.comment else "")
        return self._insert(principal, owner, name, parsed.key_type, public, fingerprint,
                            parsed.fingerprint_md5, False, tags)

    def delete(self, principal: Principal, *, name: str | None = None, uuid: str | None = None,
               sid: str | None = None, account_uuid: str | None = None,
               missing_ok: bool = True) -> bool:
        """Delete a key pair and its tags; True if one was deleted.

        A key pair that does not exist (or that the caller may not see) is
        ignored when ``missing_ok``, else NotFound(KEY_PAIR). Instances launched
        with the key keep running and keep its name.
        """
        try:
            row = self._find(principal, name, uuid, sid, account_uuid)
        except NotFound:
            if missing_ok:
                return False
            raise
        self._s.execute(delete(Tag).where(Tag.resource_uuid == row.uuid,
                                          Tag.resource_kind == ResourceKind.KEY_PAIR))
        record_event(self._s, principal, "KEYPAIR.DELETE", f"Deleted key pair {row.name}",
                     ResourceKind.KEY_PAIR, row.uuid, account_uuid=row.account_uuid)
        self._s.delete(row)
        self._s.flush()
        return True

    # ---------------------------------------------------------------- helpers
    def _insert(self, principal: Principal, owner: str, name: str, key_type: str,
                public_key: str, fingerprint: str, fingerprint_md5: str, created: bool,
                tags: Sequence[tuple[str, str]]) -> KeyPair:
        if self._s.scalar(select(KeyPair.uuid).where(KeyPair.account_uuid == owner,
                                                     KeyPair.name == name)) is not None:
            raise Duplicate(ResourceKind.KEY_PAIR, name)
        row = KeyPair(account_uuid=owner, name=name, key_type=key_type, public_key=public_key,
                      fingerprint=fingerprint, fingerprint_md5=fingerprint_md5,
                      created_by_engine=created)
        try:
            with self._s.begin_nested():
                self._s.add(row)
                self._s.flush()
        except IntegrityError as exc:  # a concurrent twin won the race
            raise Duplicate(ResourceKind.KEY_PAIR, name) from exc
        if tags:
            apply_tags(self._s, principal, ResourceKind.KEY_PAIR, [row.uuid], tags)
        record_event(self._s, principal, "KEYPAIR.CREATE" if created else "KEYPAIR.IMPORT",
                     f"Registered key pair {name}",
                     ResourceKind.KEY_PAIR, row.uuid, account_uuid=owner)
        return row

    def _find(self, principal: Principal, name: str | None, uuid: str | None,
              sid: str | None, account_uuid: str | None) -> KeyPair:
        given = [v for v in (name, uuid, sid) if v is not None]
        if not given:
            raise MissingParameter("name")
        if len(given) > 1:
            raise ConflictingParameters(("name", "uuid", "sid"))
        if name is not None:
            owner = account_uuid or principal.account_uuid
            row = self._s.scalar(select(KeyPair).where(KeyPair.account_uuid == owner,
                                                       KeyPair.name == name))
        else:
            column = KeyPair.uuid if uuid is not None else KeyPair.sid
            row = self._s.scalar(select(KeyPair).where(column == given[0]))
        if row is None or not may_act(self._s, principal, row.account_uuid):
            raise NotFound(ResourceKind.KEY_PAIR, given[0])
        return row



def _check_name(name: str) -> None:
    if not (name or "").strip():
        raise MissingParameter("name")
    if len(name) > MAX_NAME:
        raise InvalidParameter("name", name[:40] + "...", f"at most {MAX_NAME} characters")
