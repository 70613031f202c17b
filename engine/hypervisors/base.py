"""The hypervisor driver interface: value objects and the ``HypervisorDriver`` ABC.

A driver manages the domains (virtual machines) and disks of ONE host, named by a
``HostConnection``. It takes and returns the dataclasses below and nothing else: it
never imports ``engine.models``, ``engine.db``, a web framework or another driver.
Platform identifiers stay inside the driver as opaque ``_ref`` strings.

Mandatory operations are abstract. Optional operations are advertised by the
``capabilities`` class attribute; the base implementations raise ``Unsupported``,
and a driver that overrides one must also list the matching ``Capability``.
Services check ``driver.supports(cap)`` before calling an optional operation.

Errors (all from ``engine.errors``):

* ``NotFound(ResourceKind.INSTANCE | VOLUME | SNAPSHOT, ident)``: the domain, disk or
  snapshot an operation needs does not exist (``info`` and ``destroy`` never raise it).
* ``InUse(ResourceKind.VOLUME, sid, by)``: the disk is attached to another domain.
* ``InvalidParameter``: a request the hypervisor cannot honour (shrinking a disk ...).
* ``IncorrectState(ResourceKind.INSTANCE, ...)``: the domain's power state forbids it.
* ``Unsupported(operation, driver)``: an optional operation the driver lacks.
* ``InsufficientCapacity(ResourceKind.HOST)``: the host refused for lack of resources.
* ``Unavailable(what)``: the host cannot be reached right now (retryable).
* ``DriverError(driver, op, detail)``: anything else that went wrong on the hypervisor.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, Self

from engine.errors import Unsupported

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True)
class HostConnection:
    """How to reach one host: a URL plus credentials and driver-specific settings.

    ``extra`` holds settings that do not fit the URL (e.g. ``state_dir`` for the
    simulator, a CA bundle for vSphere). It is never logged: it may hold secrets.
    """

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class HostInfo:
    """Static facts about a host, reported by ``connect``."""

    hypervisor: str
    version: str
    cpu_cores: int
    cpu_mhz: int
    memory_bytes: int
    local_storage_bytes: int
    arch: str
    name: str


@dataclass(frozen=True)
class HostStats:
    """Current usage of a host. CPU and memory count running domains only."""

    cpu_used_mhz: int
    memory_used_bytes: int
    running_domains: int
    defined_domains: int = 0
    local_storage_used_bytes: int = 0


@dataclass(frozen=True)
class BootSpec:
    """Direct kernel boot (used instead of the disk's boot loader when given)."""

    kernel: str
    initrd: str | None = None
    cmdline: str = ""


@dataclass(frozen=True, kw_only=True)
class DiskSpec:
    """A disk to create or attach.

    ``disk_sid`` is the engine's id of the volume and names the disk on the
    hypervisor. ``device_id`` is the slot (0 is the root disk). A new disk is a
    clone of ``source_image`` (a template path/ref) or of ``source_snapshot`` (a
    snapshot sid), or blank when both are None; it is then grown to ``size_bytes``
    if that is larger. ``serial`` is what the guest sees; empty means ``disk_sid``.
    """

    disk_sid: str
    device_id: int
    size_bytes: int
    source_image: str | None = None
    source_snapshot: str | None = None
    pool_ref: str | None = None
    format: str = "qcow2"
    serial: str = ""

    @property
    def guest_serial(self) -> str:
        """The serial number the guest sees (at most 20 characters, like virtio-blk)."""
        return (self.serial or self.disk_sid)[:20]


@dataclass(frozen=True, kw_only=True)
class NicSpec:
    """A network interface. ``network_ref`` is the hypervisor's network/bridge/port group."""

    mac: str
    device_id: int
    ip: str | None = None
    network_ref: str | None = None


@dataclass(frozen=True, kw_only=True)
class DomainSpec:
    """The desired definition of a domain.

    ``name`` is unique per host (e.g. ``i-2-5-VM``); ``uuid`` is the engine's instance
    uuid and is reused as the hypervisor's domain uuid where the platform allows it.
    ``extra`` holds driver-only options, namespaced by driver name
    (``extra["libvirt"]``, ``extra["vmware"]``); drivers ignore other namespaces.
    """

    name: str
    uuid: str
    cpus: int
    cpu_mhz: int
    memory_mib: int
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    user_data: bytes | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    boot: BootSpec | None = None
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainRef:
    """Opaque driver handle of a domain (libvirt name/uuid, vSphere MoRef, Xen OpaqueRef)."""

    ref: str


class PowerState(StrEnum):
    """What the hypervisor says about a domain (the truth the reconciler compares to)."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    MISSING = "missing"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DomainInfo:
    """Observed state of a domain. ``disk_sids`` lists attached disks by ``disk_sid``."""

    ref: DomainRef
    power_state: PowerState
    cpus: int
    memory_mib: int
    name: str = ""
    disk_sids: tuple[str, ...] = ()
    nic_macs: tuple[str, ...] = ()  # drivers with HOT_PLUG_NIC fill it (definition order)


@dataclass(frozen=True)
class DiskInfo:
    """Observed state of a disk. ``attached_to`` is None for a free data volume."""

    disk_sid: str
    size_bytes: int
    format: str
    attached_to: DomainRef | None = None


class Capability(StrEnum):
    """Optional operations a driver may support."""

    ATTACH_DISK = "attach_disk"  # attach_disk/detach_disk on a stopped domain
    LIVE_ATTACH_DISK = "live_attach_disk"  # ... and on a running one (hot-plug)
    RESIZE_DISK = "resize_disk"  # resize_disk (grow only)
    CONSOLE_OUTPUT = "console_output"  # console_output
    DISK_SNAPSHOT = "disk_snapshot"  # snapshot_disk/delete_disk_snapshot, source_snapshot
    DATA_DISKS = "data_disks"  # create_disk/delete_disk/disk_info: disks outside a domain
    MIGRATE = "migrate"  # migrate to another host of the same driver
    REVERT_SNAPSHOT = "revert_snapshot"  # revert_disk_snapshot (domain stopped or none)
    COPY_DISK_SNAPSHOT = "copy_disk_snapshot"  # copy_disk_snapshot: a stored snapshot's data
    HOT_PLUG_NIC = "hot_plug_nic"  # attach_nic/detach_nic, running or stopped domain


class HypervisorDriver(abc.ABC):
    """One host's hypervisor. Instances are cheap; ``close`` releases connections.

    Unless stated otherwise operations are synchronous: they return when the
    hypervisor has done the work. All mandatory operations are idempotent in the
    sense the engine's job runner needs after a crash: repeating a call whose
    effect already happened succeeds without changing anything.
    """

    name: ClassVar[str] = "abstract"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, conn: HostConnection) -> None:
        self.conn = conn

    # -- helpers ----------------------------------------------------------------

    def supports(self, capability: Capability) -> bool:
        """True if the driver implements the optional operation ``capability``."""
        return capability in self.capabilities

    def _unsupported(self, operation: str) -> Unsupported:
        return Unsupported(operation, self.name)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- host -------------------------------------------------------------------

    @abc.abstractmethod
    def connect(self) -> HostInfo:
        """Check that the host is reachable with these credentials; describe it.

        Other operations connect lazily, so calling this first is optional.
        Raises ``Unavailable`` if unreachable, ``DriverError`` if the login fails.
        """

    @abc.abstractmethod
    def host_stats(self) -> HostStats:
        """Current usage of the host."""

    def close(self) -> None:
        """Release connections. Safe to call twice; the driver may reconnect after."""

    # -- domain lifecycle ---------------------------------------------------------

    @abc.abstractmethod
    def define(self, spec: DomainSpec) -> DomainRef:
        """Create (not start) the domain and the disks of ``spec`` that do not exist yet.

        A disk whose ``disk_sid`` already exists unattached (a data volume) is
        attached as it is; the others are created and belong to the domain.
        Idempotent per ``spec.uuid``: if that domain exists, return its ref unchanged.
        A different domain with the same name raises ``DriverError``; a disk attached
        to another domain raises ``InUse``. On any failure, leaves nothing behind.
        """

    @abc.abstractmethod
    def start(self, ref: DomainRef) -> None:
        """Power the domain on. No-op if already running. ``NotFound`` if missing."""

    @abc.abstractmethod
    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        """Power the domain off and return once it is stopped.

        Graceful (ACPI / guest shutdown) first; if the guest is still running after
        ``timeout`` seconds, or ``force`` is true, power it off hard. No-op if
        already stopped. ``NotFound`` if missing.
        """

    @abc.abstractmethod
    def reboot(self, ref: DomainRef) -> None:
        """Restart a running domain; it is running afterwards.

        ``IncorrectState`` if it is not running, ``NotFound`` if missing.
        """

    @abc.abstractmethod
    def destroy(self, ref: DomainRef) -> None:
        """Power off and remove the domain and the disks that belong to it.

        Data volumes that were attached (not created by ``define``) are detached and
        kept. Succeeds if the domain is already gone.
        """

    @abc.abstractmethod
    def info(self, ref: DomainRef) -> DomainInfo:
        """Observed state; ``power_state`` is MISSING (never an error) when it is gone."""

    @abc.abstractmethod
    def list_domains(self) -> dict[str, PowerState]:
        """Every domain on the host, keyed by domain name (for the reconciler)."""

    # -- optional: disks ------------------------------------------------------------

    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        """Attach an existing data volume, or create and attach a new one.

        A disk created here does not belong to the domain (it survives ``destroy``).
        No-op if already attached to this domain; ``InUse`` if attached elsewhere;
        ``Unsupported`` on a running domain without LIVE_ATTACH_DISK.
        """
        raise self._unsupported("attach_disk")

    def detach_disk(self, ref: DomainRef, disk_sid: str) -> None:
        """Detach the disk; it survives as a free data volume.

        ``NotFound(VOLUME)`` if the domain has no such disk.
        """
        raise self._unsupported("detach_disk")

    def resize_disk(self, ref: DomainRef | None, disk_sid: str, size_bytes: int) -> None:
        """Grow a disk (attached to ``ref``, or free when ``ref`` is None).

        Same size is a no-op; smaller raises ``InvalidParameter``.
        """
        raise self._unsupported("resize_disk")

    def create_disk(self, disk: DiskSpec) -> None:
        """Create a free data volume. No-op if a disk with that sid exists."""
        raise self._unsupported("create_disk")

    def delete_disk(self, disk_sid: str, *, pool_ref: str | None = None) -> None:
        """Delete a free data volume. Succeeds if already gone.

        ``InUse`` if it is attached to a domain. Its snapshots outlive it where the
        platform stores them apart from the disk (the simulator does).
        """
        raise self._unsupported("delete_disk")

    def disk_info(self, disk_sid: str, *, pool_ref: str | None = None) -> DiskInfo:
        """Observed state of a disk. ``NotFound(VOLUME)`` if it does not exist."""
        raise self._unsupported("disk_info")

    def snapshot_disk(
        self,
        ref: DomainRef | None,
        disk_sid: str,
        snapshot_sid: str,
        *,
        pool_ref: str | None = None,
    ) -> None:
        """Take a crash-consistent snapshot of a disk. No-op if that snapshot exists."""
        raise self._unsupported("snapshot_disk")

    def delete_disk_snapshot(
        self, disk_sid: str, snapshot_sid: str, *, pool_ref: str | None = None
    ) -> None:
        """Delete a disk snapshot. Succeeds if already gone."""
        raise self._unsupported("delete_disk_snapshot")

    def revert_disk_snapshot(
        self,
        ref: DomainRef | None,
        disk_sid: str,
        snapshot_sid: str,
        *,
        pool_ref: str | None = None,
    ) -> None:
        """Put the disk back to the snapshot's content and size (the snapshot stays).

        ``ref`` is the domain the disk is attached to (which must be stopped:
        ``IncorrectState`` otherwise) or None for a free disk. ``NotFound(VOLUME)``
        without the disk, ``NotFound(SNAPSHOT)`` without that snapshot of it.
        Reverting twice is harmless.
        """
        raise self._unsupported("revert_disk_snapshot")

    def copy_disk_snapshot(
        self,
        disk_sid: str,
        snapshot_sid: str,
        new_snapshot_sid: str,
        *,
        pool_ref: str | None = None,
    ) -> None:
        """Copy the stored data of snapshot ``snapshot_sid`` of disk ``disk_sid`` into
        a new snapshot ``new_snapshot_sid`` of the same disk.

        The copy is independent of the source (deleting either leaves the other)
        and of the disk's current content; the disk itself need not exist any more.
        It behaves like any snapshot of ``disk_sid``: ``delete_disk_snapshot`` and
        ``DiskSpec.source_snapshot`` take it. ``NotFound(SNAPSHOT)`` without the
        source; a no-op if ``new_snapshot_sid`` already exists as a copy of it.
        """
        raise self._unsupported("copy_disk_snapshot")

    # -- optional: NICs ---------------------------------------------------------------

    def attach_nic(self, ref: DomainRef, nic: NicSpec) -> None:
        """Add the interface to the domain: hot-plugged and kept in its definition
        when running, only in its definition when stopped.

        No-op if the domain already has an interface with ``nic.mac``;
        ``NotFound(INSTANCE)`` if the domain is missing.
        """
        raise self._unsupported("attach_nic")

    def detach_nic(self, ref: DomainRef, mac: str) -> None:
        """Remove the interface with MAC ``mac`` (live and from the definition).

        Succeeds if the domain has no such interface (already detached);
        ``NotFound(INSTANCE)`` if the domain is missing.
        """
        raise self._unsupported("detach_nic")

    # -- optional: other --------------------------------------------------------------

    def console_output(self, ref: DomainRef) -> bytes:
        """What the guest printed on its serial console (most recent part)."""
        raise self._unsupported("console_output")

    def migrate(self, ref: DomainRef, dest: HostConnection) -> DomainRef:
        """Move the domain (live if running) to the host ``dest``; return its new ref.

        Afterwards the domain is MISSING here and in its previous power state there.
        """
        raise self._unsupported("migrate")
