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
    _load()
    return _REGISTRY.get(name)


def implemented() -> frozenset[str]:
    _load()
    return frozenset(_REGISTRY)


_loaded = False
_load_lock = threading.Lock()


def _load() -> None:
    """Import the action modules once (thread-safe: the first requests may race)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            from awsapi.actions import (  # noqa: F401  # noqa: F401  # noqa: F401  # noqa: F401
                account,
                addresses,
                catalog,
                image_attributes,
                images,
                instance_attributes,
                instance_types,
                instances,
                key_pairs,
                metadata_options,
                network_interfaces,
                networking,
                networking_routes,
                networking_vpcs,
                passwords,
                placement_groups,
                security_groups,
                snapshots,
                tags,
                volumes,
            )

            _loaded = True
