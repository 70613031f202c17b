"""The EC2 action registry: one handler per wire action, named after it.

Handlers take a :class:`RequestContext` and the parsed parameters (keyed by
botocore member names) and return the result dict for the output shape. They
only translate: parse ids, call one engine service, build the view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awsapi.model import operation_names
from engine.principal import Principal
from engine.services import Services

Params = dict[str, Any]
Result = dict[str, Any]


@dataclass
class RequestContext:
    principal: Principal
    services: Services
    region: str
    request_id: str


Handler = Callable[[RequestContext, Params], Result]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    handler: Handler
    readonly: bool


_REGISTRY: dict[str, ActionSpec] = {}


def action(name: str, *, readonly: bool = False) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of EC2 action ``name`` (must exist in the model)."""

    def register(fn: Handler) -> Handler:
        if name not in operation_names():
            raise ValueError(f"{name} is not an EC2 operation")
        if name in _REGISTRY:
            raise ValueError(f"{name} is registered twice")
        _REGISTRY[name] = ActionSpec(name, fn, readonly)
        return fn

    return register


def lookup(name: str) -> ActionSpec | None:
    """The handler of action ``name``, or None if no module implements it.

    Action modules are imported in :data:`MODULES` order only until one
    registers ``name`` (a process's first ``DescribeRegions`` imports one), so
    an unknown name imports them all; :func:`load_all` does it up front."""
    spec = _REGISTRY.get(name)
    if spec is None and _pending:
        spec = _load(until=name)
    return spec


def implemented() -> frozenset[str]:
    load_all()
    return frozenset(_REGISTRY)


def load_all() -> None:
    """Import every action module (idempotent, thread-safe)."""
    if _pending:
        _load(until=None)


# The action modules (awsapi.actions.<name>); the most called first.
MODULES: tuple[str, ...] = (
    "catalog",
    "instances",
    "account",
    "addresses",
    "image_attributes",
    "images",
    "instance_attributes",
    "instance_types",
    "key_pairs",
    "metadata_options",
    "network_interfaces",
    "networking",
    "networking_acls",
    "networking_routes",
    "networking_vpcs",
    "passwords",
    "placement_groups",
    "security_groups",
    "snapshots",
    "tags",
    "volumes",
)

_pending: list[str] = list(MODULES)  # not imported yet, in order
_load_lock = threading.RLock()  # an action module's import may look an action up


def _load(until: str | None) -> ActionSpec | None:
    """Import pending modules in order until ``until`` is registered (all of
    them when it is None or never registers); thread-safe: requests may race."""
    from importlib import import_module

    with _load_lock:
        while _pending and (until is None or until not in _REGISTRY):
            import_module(f"{__name__}.{_pending[0]}")
            _pending.pop(0)
    return _REGISTRY.get(until) if until is not None else None
