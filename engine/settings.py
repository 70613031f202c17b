"""Global settings shared by every management server, with their defaults.

Names follow CloudStack's configuration keys so ``listConfigurations`` /
``updateConfiguration`` can expose them unchanged.

Values are cached per process and database for at most :data:`CACHE_SECONDS`:
a change made by another management server takes effect here within that
bound. A change made through :class:`Settings` in this process clears the
cache when it is made and again when its transaction commits, so this
process's own changes take effect at once (and the unit of work that made
one reads its own uncommitted values).
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.models import Setting


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: str
    kind: type
    description: str
    category: str = "Advanced"
    choices: tuple[str, ...] = ()
    # Hidden settings (server secrets) are never listed nor changed through an API.
    hidden: bool = False


SESSION_SECRET: Final = "session.signing.secret"

# Default resource limits per account, domain and project ("max.<scope>.<suffix>";
# -1: no limit). The per-account defaults of VMs and public IPs are listed below.
LIMIT_SUFFIXES: Final[tuple[str, ...]] = (
    "user.vms", "public.ips", "volumes", "snapshots", "templates", "projects", "networks",
    "vpcs", "cpus", "memory", "primary.storage", "secondary.storage",
)
_LIMIT_SPECS: Final = tuple(
    SettingSpec(f"max.{scope}.{suffix}", "-1", int,
                f"Default limit of {suffix.replace('.', ' ')} per {scope} (-1: no limit)")
    for scope in ("account", "domain", "project") for suffix in LIMIT_SUFFIXES
    if f"{scope}.{suffix}" not in ("account.user.vms", "account.public.ips", "project.projects")
)

SPECS: Final[dict[str, SettingSpec]] = {
    s.name: s
    for s in (
        *_LIMIT_SPECS,
        SettingSpec("cpu.overprovisioning.factor", "1", float, "CPU overcommit factor"),
        SettingSpec("mem.overprovisioning.factor", "1", float, "Memory overcommit factor"),
        SettingSpec(
            "storage.overprovisioning.factor", "2", float, "Primary storage overprovisioning"
        ),
        SettingSpec(
            "pool.storage.allocated.capacity.disablethreshold",
            "0.85",
            float,
            "Allocated fraction beyond which a pool takes no new volumes",
        ),
        SettingSpec(
            "vm.allocation.algorithm",
            "random",
            str,
            "Host weighing: random, firstfit, firstfitleastconsumed, userdispersing",
            choices=("random", "firstfit", "firstfitleastconsumed", "userdispersing"),
        ),
        SettingSpec("expunge.delay", "86400", int, "Seconds a destroyed VM stays recoverable"),
        SettingSpec(
            "terminated.visible.seconds", "3600", int, "Seconds a terminated VM stays listed"
        ),
        SettingSpec("default.page.size", "500", int, "Largest page a list returns"),
        SettingSpec("max.account.user.vms", "-1", int, "VMs an account may have (-1: no limit)"),
        SettingSpec("max.account.public.ips", "20", int, "Public IPs an account may hold"),
        SettingSpec("host.stop.timeout", "60", float, "Seconds a graceful stop may take"),
        SettingSpec("job.max.attempts", "3", int, "Runs a job gets before it fails for good"),
        SettingSpec("reconcile.interval", "60", float,
                    "Seconds between the reconciler's passes over the hosts"),
        SettingSpec("host.down.after", "180", float,
                    "Seconds a Disconnected host may stay silent before it is marked Down"),
        SettingSpec("reconcile.host.timeout", "30", float,
                    "Seconds the reconciler waits for a host's hypervisor to answer"),
        SettingSpec("reconcile.destroy.strays", "false", str,
                    "Destroy domains on a host that match no instance of the host",
                    choices=("true", "false")),
        SettingSpec("management.server.heartbeat.interval", "5", float,
                    "Seconds between a management server's heartbeats"),
        SettingSpec("management.server.heartbeat.threshold", "3", int,
                    "Missed heartbeats after which a management server is Down"),
        SettingSpec("session.timeout", "1800", int, "Seconds a login session stays valid"),
        SettingSpec(
            SESSION_SECRET, "", str, "Key signing login sessions (generated on first use)",
            hidden=True,
        ),
    )
}


# How long (seconds) a process may use settings values it read, when it did not
# change them itself: the bound on how stale another server's change may be here.
CACHE_SECONDS: Final = 2.0
_WROTE: Final = "nimbostack.settings_written"  # Session.info flag: commit clears the cache


class _SharedCache:
    """Settings values per database engine, read at most ``CACHE_SECONDS`` ago.

    ``forget`` bumps a generation, so a read that started before a change
    committed never stores its (older) values afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._values: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, str]]] = (
            weakref.WeakKeyDictionary())

    def values(self, session: Session) -> dict[str, str]:
        bind = session.get_bind()
        key = getattr(bind, "engine", bind)
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
            generation = self._generation
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        values = dict(session.execute(select(Setting.name, Setting.value)).all())
        with self._lock:
            if generation == self._generation:
                self._values[key] = (now, values)
        return values

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()


_shared = _SharedCache()


def forget_cached_settings() -> None:
    """Drop every cached settings value of this process (the next read queries)."""
    _shared.forget()


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        _shared.forget()


class Settings:
    """Typed access to the settings table (values cached as the module docstring says)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._cache is None:
            if self._session.info.get(_WROTE):
                # This unit of work changed a setting: read its own values.
                self._cache = dict(self._session.execute(
                    select(Setting.name, Setting.value)).all())
            else:
                self._cache = _shared.values(self._session)
        return self._cache

    def _wrote(self) -> None:
        self._session.info[_WROTE] = True
        self._cache = None
        _shared.forget()

    def raw(self, name: str) -> str:
        spec = SPECS.get(name)
        if spec is None:
            raise NotFound(ResourceKind.SETTING, name)
        return self._load().get(name, spec.default)

    def float(self, name: str) -> float:
        return float(self.raw(name))

    def int(self, name: str) -> int:
        return int(float(self.raw(name)))

    def str(self, name: str) -> str:
        return self.raw(name)

    def update(self, name: str, value: str) -> None:
        """Validate and store ``value``; raises InvalidParameter for a bad one."""
        spec = SPECS.get(name)
        if spec is None:
            raise InvalidParameter("name", name, "no such configuration")
        try:
            spec.kind(value)
        except ValueError as exc:
            raise InvalidParameter("value", value, f"{name} takes a {spec.kind.__name__}") from exc
        if spec.choices and value not in spec.choices:
            raise InvalidParameter("value", value, f"one of {', '.join(spec.choices)}")
        row = self._session.get(Setting, name)
        if row is None:
            self._session.add(
                Setting(name=name, value=value, category=spec.category,
                        description=spec.description)
            )
        else:
            row.value = value
        self._wrote()

    def all(self) -> list[tuple[SettingSpec, str]]:
        values = self._load()
        return [(spec, values.get(name, spec.default)) for name, spec in SPECS.items()]

    def listed(self) -> list[tuple[SettingSpec, str]]:
        """Every setting an operator may see, with its current value (hidden ones left out)."""
        return [(spec, value) for spec, value in self.all() if not spec.hidden]

    def configure(self, name: str, value: str) -> SettingSpec:
        """``update`` for operators: hidden settings are treated as unknown names."""
        spec = SPECS.get(name)
        if spec is None or spec.hidden:
            raise InvalidParameter("name", name, "no such configuration")
        self.update(name, value)
        return spec

    def secret(self, name: str, *, create: bool) -> str | None:
        """A hidden secret setting shared by every server process.

        With ``create`` a missing secret is generated and stored (the caller's
        transaction must be writable; two servers racing converge on the row
        that was committed first). Without it a missing secret is None.
        """
        spec = SPECS.get(name)
        if spec is None or not spec.hidden:
            raise NotFound(ResourceKind.SETTING, name)
        stored = self._session.get(Setting, name)
        if stored is not None and stored.value:
            return stored.value
        if not create:
            return None
        value = secrets.token_hex(32)
        try:
            with self._session.begin_nested():
                self._session.add(Setting(name=name, value=value, category=spec.category,
                                          description=spec.description))
        except IntegrityError:
            stored = self._session.get(Setting, name, populate_existing=True)
            if stored is None or not stored.value:
                raise
            return stored.value
        self._wrote()
        return value
