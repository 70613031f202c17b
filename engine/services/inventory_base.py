"""Shared state and private helpers of the inventory service's mixins."""

from __future__ import annotations

import ipaddress
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.errors import InUse, InvalidParameter, NotFound, ResourceKind, Unsupported
from engine.hypervisors.registry import canonical_name
from engine.states import VmState

# How each hypervisor type is displayed (CloudStack's names).
HYPERVISOR_DISPLAY = {"simulator": "Simulator", "kvm": "KVM", "vmware": "VMware",
                      "xenserver": "XenServer"}


def display_hypervisor(name: str) -> str:
    """CloudStack's spelling of a hypervisor type; raises Unsupported for unknown ones."""
    return HYPERVISOR_DISPLAY[canonical_name(name)]


LIVE_VM_STATES = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.MIGRATING)

T = TypeVar("T")
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


class InventoryBase:
    """The session (one unit of work) and helpers every inventory mixin uses.

    Each mixin holds the bootstrap's primitives (``create_*``/``add_*`` taking
    model objects) and what an operator builds a data center with (taking uuids
    and requests). Removal is soft (``removed_at``) and refused with InUse while
    anything still depends on the object.
    """

    def __init__(self, session: Session, *, simulator_dir: str = "") -> None:
        self._s = session
        self._simulator_dir = simulator_dir

    def _live(self, model: type[T], uuid: str | None, kind: ResourceKind) -> T:
        row = self._s.get(model, uuid) if uuid else None
        if row is None or getattr(row, "removed_at", None) is not None:
            raise NotFound(kind, uuid)
        return row

    def _count(self, model: type, *conds: Any) -> int:
        return int(self._s.scalar(select(func.count()).select_from(model).where(*conds)) or 0)

    def _refuse_if_used(self, kind: ResourceKind, ident: str, checks: dict[str, int]) -> None:
        used = [f"{n} {label}" for label, n in checks.items() if n]
        if used:
            raise InUse(kind, ident, ", ".join(used))


def _filters(stmt: S, *pairs: tuple[Any, object]) -> S:
    """AND ``column == value`` for every pair whose value is not None."""
    for column, value in pairs:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def _hypervisor(name: str) -> str:
    try:
        return display_hypervisor(name)
    except Unsupported as exc:
        raise InvalidParameter("hypervisor", name, "not a supported hypervisor type") from exc


def _cidr(param: str, value: str | None) -> str | None:
    if not value:
        return value
    try:
        return str(ipaddress.IPv4Network(value, strict=False))
    except ValueError as exc:
        raise InvalidParameter(param, value, "not an IPv4 CIDR") from exc


def _ip_range(gateway: str, netmask: str, start_ip: str, end_ip: str
              ) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(start, end) checked to lie, in order, in the gateway/netmask subnet."""
    try:
        start, end = ipaddress.IPv4Address(start_ip), ipaddress.IPv4Address(end_ip)
        net = ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)
    except ValueError as exc:
        raise InvalidParameter("startip", start_ip, str(exc)) from exc
    if end < start or start not in net or end not in net:
        raise InvalidParameter("endip", end_ip, f"the range must lie, in order, inside {net}")
    return start, end
