"""Global settings shared by every management server, with their defaults.

Names follow CloudStack's configuration keys so ``listConfigurations`` /
``updateConfiguration`` can expose them unchanged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
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


class Settings:
    """Typed access to the settings table; values are cached per unit of work."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._cache is None:
            self._cache = dict(self._session.execute(select(Setting.name, Setting.value)).all())
        return self._cache

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
        self._cache = None

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
        self._cache = None
        return value
