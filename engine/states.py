"""Resource states as enums, with the allowed transitions kept as data."""

from __future__ import annotations

from enum import Enum
from typing import Final

from engine.errors import IncorrectState, ResourceKind


class VmState(str, Enum):
    """CloudStack's virtual-machine states (the engine's stable vocabulary)."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    EXPUNGED = "Expunged"
    MIGRATING = "Migrating"
    ERROR = "Error"


VM_TRANSITIONS: Final[dict[VmState, frozenset[VmState]]] = {
    VmState.STARTING: frozenset(
        {VmState.RUNNING, VmState.STOPPED, VmState.ERROR, VmState.DESTROYED, VmState.EXPUNGING}
    ),
    VmState.RUNNING: frozenset(
        {VmState.STOPPING, VmState.STOPPED, VmState.MIGRATING, VmState.DESTROYED,
         VmState.EXPUNGING}
    ),
    VmState.STOPPING: frozenset(
        {VmState.STOPPED, VmState.RUNNING, VmState.DESTROYED, VmState.EXPUNGING}
    ),
    VmState.STOPPED: frozenset(
        {VmState.STARTING, VmState.DESTROYED, VmState.EXPUNGING, VmState.ERROR, VmState.RUNNING}
    ),
    VmState.DESTROYED: frozenset({VmState.STOPPED, VmState.EXPUNGING}),
    VmState.EXPUNGING: frozenset({VmState.EXPUNGED, VmState.ERROR}),
    VmState.EXPUNGED: frozenset(),
    VmState.MIGRATING: frozenset({VmState.RUNNING, VmState.STOPPED}),
    VmState.ERROR: frozenset({VmState.EXPUNGING, VmState.DESTROYED}),
}

STARTABLE: Final = frozenset({VmState.STOPPED})
STOPPABLE: Final = frozenset({VmState.RUNNING})
REBOOTABLE: Final = frozenset({VmState.RUNNING})
DESTROYABLE: Final = frozenset(
    {VmState.RUNNING, VmState.STOPPED, VmState.ERROR, VmState.STARTING, VmState.STOPPING}
)
RECOVERABLE: Final = frozenset({VmState.DESTROYED})
EXPUNGEABLE: Final = frozenset({VmState.DESTROYED, VmState.ERROR, VmState.STOPPED})
GONE: Final = frozenset({VmState.EXPUNGING, VmState.EXPUNGED})


def require(state: Enum, allowed: frozenset, kind: ResourceKind, ident: object) -> None:  # type: ignore[type-arg]
    """Raise :class:`IncorrectState` unless ``state`` is in ``allowed``."""
    if state not in allowed:
        raise IncorrectState(kind, ident, state, allowed)


def check_vm_transition(current: VmState, target: VmState, ident: object) -> None:
    """Raise :class:`IncorrectState` if the VM state machine forbids the move."""
    if target != current and target not in VM_TRANSITIONS[current]:
        raise IncorrectState(ResourceKind.INSTANCE, ident, current, VM_TRANSITIONS[current])


class HostState(str, Enum):
    UP = "Up"
    DOWN = "Down"
    DISCONNECTED = "Disconnected"
    MAINTENANCE = "Maintenance"
    CONNECTING = "Connecting"


class ResourceState(str, Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    MAINTENANCE = "Maintenance"


class AllocationState(str, Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


class StorageScope(str, Enum):
    CLUSTER = "CLUSTER"
    ZONE = "ZONE"


class PoolState(str, Enum):
    UP = "Up"
    DISABLED = "Disabled"
    MAINTENANCE = "Maintenance"


class IpState(str, Enum):
    FREE = "Free"
    ALLOCATING = "Allocating"
    ALLOCATED = "Allocated"
    RELEASING = "Releasing"


class VolumeKind(str, Enum):
    ROOT = "ROOT"
    DATADISK = "DATADISK"


class VolumeState(str, Enum):
    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    RESIZING = "Resizing"
    SNAPSHOTTING = "Snapshotting"
    DESTROY = "Destroy"
    EXPUNGED = "Expunged"
    ERROR = "Error"


class SnapshotState(str, Enum):
    ALLOCATED = "Allocated"
    CREATING = "Creating"
    BACKED_UP = "BackedUp"
    ERROR = "Error"
    DESTROYED = "Destroyed"


class TemplateState(str, Enum):
    DOWNLOADING = "Downloading"
    READY = "Ready"
    ERROR = "Error"


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


JOB_FINAL: Final = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Role(str, Enum):
    ADMIN = "admin"
    DOMAIN_ADMIN = "domain-admin"
    USER = "user"


class AccountState(str, Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    LOCKED = "locked"


class RuleDirection(str, Enum):
    INGRESS = "ingress"
    EGRESS = "egress"
