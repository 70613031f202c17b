"""Instance passwords: reset one, read it back encrypted, hand it to the guest once.

A reset makes a random password (or takes the one given) and returns it to the
caller once. What is kept (:class:`engine.models.InstancePassword`) is only:

* ``encrypted``: RSA PKCS#1 v1.5 encryption of the password with the public
  key of the instance's key pair, base64 (what EC2 GetPasswordData's
  ``PasswordData`` and CloudStack's ``encryptedpassword`` are); none when the
  instance has no RSA key pair;
* ``guest_pending``: the password until the guest fetches it
  (:meth:`PasswordService.take_for_guest` clears it).
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.jobs.queue import completed
from engine.models import Instance, InstancePassword, Job, KeyPair, Template
from engine.principal import Principal
from engine.services.access import may_act, owned_instance
from engine.services.events import record_event
from engine.states import VmState, require

# Unambiguous characters, as generated passwords are read by people.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
DEFAULT_LENGTH = 12
MAX_LENGTH = 255


@dataclass(frozen=True)
class PasswordReset:
    """The new ``password`` (shown once) and the finished job carrying it."""

    instance_uuid: str
    password: str
    encrypted: str | None
    job: Job


@dataclass(frozen=True)
class PasswordData:
    """What the owner may read back: ``encrypted`` (base64) or None, and when it was set."""

    instance_uuid: str
    encrypted: str | None
    set_at: datetime | None


class TemplateNotPasswordEnabled(InvalidParameter):
    """The instance's template does not take passwords from the cloud."""

    def __init__(self, template_uuid: str) -> None:
        super().__init__("templateid", template_uuid, "the template is not password enabled")


def encrypt_for(public_openssh: str, password: str) -> str | None:
    """base64 of RSA PKCS#1 v1.5 encryption of ``password`` with the OpenSSH RSA
    public key; None for a key that cannot encrypt (ED25519, unreadable)."""
    try:
        key = serialization.load_ssh_public_key(public_openssh.strip().encode())
    except (ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()


def generate_password(length: int = DEFAULT_LENGTH) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class PasswordService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def reset(self, principal: Principal, uuid: str, *, password: str | None = None,
              command: str = "") -> PasswordReset:
        """Set a new password for the stopped instance ``uuid``; the guest takes it
        at its next start. Raises NotFound (instance), TemplateNotPasswordEnabled,
        IncorrectState unless Stopped, InvalidParameter for an empty/too long
        ``password``. The job is finished; its result holds ``password``.
        """
        inst = self._owned(principal, uuid)
        template = self._s.get(Template, inst.template_uuid)
        if template is None or not template.password_enabled:
            raise TemplateNotPasswordEnabled(inst.template_uuid)
        require(inst.state, frozenset({VmState.STOPPED}), ResourceKind.INSTANCE, inst.uuid)
        if password is not None and not 0 < len(password) <= MAX_LENGTH:
            raise InvalidParameter("password", "...", f"must have 1 to {MAX_LENGTH} characters")
        new = password if password is not None else generate_password()
        encrypted = None
        kp = None
        if inst.key_pair_name:
            kp = self._s.scalar(select(KeyPair).where(KeyPair.account_uuid == inst.account_uuid,
                                                      KeyPair.name == inst.key_pair_name))
            encrypted = encrypt_for(kp.public_key, new) if kp is not None else None
        row = self._s.get(InstancePassword, inst.uuid)
        if row is None:
            row = InstancePassword(instance_uuid=inst.uuid, set_at=utcnow())
            self._s.add(row)
        row.encrypted, row.guest_pending, row.set_at = encrypted, new, utcnow()
        row.key_pair_name = kp.name if kp is not None else None
        inst.updated_at = utcnow()
        record_event(self._s, principal, "VM.RESETPASSWORD", f"Reset the password of {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid)
        job = completed(self._s, principal, resource_kind=ResourceKind.INSTANCE,
                        resource_uuid=inst.uuid, result={"password": new}, command=command)
        self._s.flush()
        return PasswordReset(inst.uuid, new, encrypted, job)

    def data(self, principal: Principal, *, uuid: str | None = None,
             sid: str | None = None) -> PasswordData:
        """The encrypted password of an instance the principal may see (NotFound
        otherwise); ``encrypted`` is None when there is none to give."""
        stmt = select(Instance).where(Instance.uuid == uuid) if uuid else select(Instance).where(
            Instance.sid == (sid or ""))
        inst = self._s.scalar(stmt)
        if inst is None or not may_act(self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, uuid or sid)
        row = self._s.get(InstancePassword, inst.uuid)
        if row is None:
            return PasswordData(inst.uuid, None, None)
        return PasswordData(inst.uuid, row.encrypted, row.set_at)

    def take_for_guest(self, instance_uuid: str) -> str | None:
        """The pending password for the guest, once (then forgotten); None if none."""
        row = self._s.scalar(select(InstancePassword).where(
            InstancePassword.instance_uuid == instance_uuid).with_for_update())
        if row is None or row.guest_pending is None:
            return None
        value, row.guest_pending = row.guest_pending, None
        self._s.flush()
        return value

    def _owned(self, principal: Principal, uuid: str) -> Instance:
        return owned_instance(self._s, principal, uuid)
