"""Finding things in the vSphere inventory: the managed host and what it can use.

``locate`` resolves a ``VsphereTarget`` to a ``Placement`` (datacenter, compute
resource, host, resource pool, VM folder, datastores, networks); the finders look
up VMs, templates, datastores and networks by name. Nothing here changes state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from pyVmomi import vim

from engine.errors import DriverError
from engine.hypervisors.vmware.session import DRIVER, VsphereSession, faults
from engine.hypervisors.vmware.urls import VsphereTarget


@dataclass(frozen=True)
class Placement:
    """The managed host and the objects new VMs on it are placed with."""

    datacenter: Any
    compute: Any  # ClusterComputeResource or ComputeResource
    host: Any
    pool: Any
    folder: Any
    datastores: tuple[Any, ...]
    networks: tuple[Any, ...]

    @property
    def host_id(self) -> str:
        return str(self.host._moId)


def _named(items: Any, name: str | None) -> Any:
    for item in items:
        if name is None or item.name == name:
            return item
    return None


def _compute_resources(folder: Any) -> list[Any]:
    """Compute resources below a host folder (depth first, nested folders included)."""
    found: list[Any] = []
    for child in folder.childEntity:
        if isinstance(child, vim.Folder):
            found.extend(_compute_resources(child))
        elif isinstance(child, vim.ComputeResource):
            found.append(child)
    return found


def _datacenters(folder: Any) -> list[Any]:
    found: list[Any] = []
    for child in folder.childEntity:
        if isinstance(child, vim.Datacenter):
            found.append(child)
        elif isinstance(child, vim.Folder):
            found.extend(_datacenters(child))
    return found


def locate(session: VsphereSession, target: VsphereTarget) -> Placement:
    """Resolve the URL's datacenter/cluster/host names ("first found" when absent).

    ``DriverError`` if a named object does not exist or the host has no datastore.
    """
    with faults("find the host"):
        content = session.content
        dc = _named(_datacenters(content.rootFolder), target.datacenter)
        if dc is None:
            raise DriverError(DRIVER, "find the host", f"no datacenter {target.datacenter!r}")
        computes = [c for c in _compute_resources(dc.hostFolder)
                    if target.cluster is None or c.name == target.cluster]
        if not computes:
            raise DriverError(DRIVER, "find the host", f"no cluster {target.cluster!r}")
        for compute in computes:
            host = _named(compute.host, target.host)
            if host is not None:
                break
        else:
            raise DriverError(DRIVER, "find the host", f"no host {target.host!r}")
        datastores = tuple(d for d in host.datastore if d.summary.accessible)
        if not datastores:
            raise DriverError(DRIVER, "find the host", f"host {host.name} has no datastore")
        networks = tuple(n for n in host.network if not _is_uplink(n))
        return Placement(dc, compute, host, compute.resourcePool, dc.vmFolder,
                         datastores, networks)


def _is_uplink(network: Any) -> bool:
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        return bool(getattr(network.config, "uplink", False))
    return False


def pick_datastore(place: Placement, pool_url: str | None) -> Any:
    """The datastore a storage pool URL names, else the one with most free space.

    The datastore name is the last path segment of the pool URL
    (``vmfs://vc/DC0/LocalDS_0``, ``datastore:///LocalDS_0``) or its host part
    (``datastore://LocalDS_0``).
    """
    if pool_url:
        parts = urlsplit(pool_url)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        name = segments[-1] if segments else unquote(parts.hostname or "")
        found = _named(place.datastores, name) if name else None
        if found is not None:
            return found
    return max(place.datastores, key=lambda d: d.summary.freeSpace)


def pick_network(place: Placement, name: str | None) -> Any:
    """The network/port group called ``name``, else the host's first usable one."""
    if not place.networks:
        raise DriverError(DRIVER, "define", f"host {place.host.name} has no network")
    return _named(place.networks, name) or place.networks[0]


def find_vm(session: VsphereSession, place: Placement, *, name: str | None = None,
            instance_uuid: str | None = None) -> Any:
    """A VM (or template) of the datacenter by instance uuid or by name; None if absent."""
    with faults("find a VM"):
        index = session.content.searchIndex
        if instance_uuid:
            vm = index.FindByUuid(place.datacenter, instance_uuid, True, True)
            if vm is not None:
                return vm
        if name:
            for vm, props in session.collect(place.folder, vim.VirtualMachine, ["name"]):
                if props.get("name") == name:
                    return vm
    return None


def find_template(session: VsphereSession, place: Placement, image: str | None) -> Any:
    """The VM/template to clone for ``image``: an inventory path (``DC0/vm/tmpl``) when
    it contains a slash, else a VM name in the datacenter; None if there is none."""
    if not image:
        return None
    if "/" in image:
        with faults("find the template"):
            found = session.content.searchIndex.FindByInventoryPath(image.strip("/"))
        return found if isinstance(found, vim.VirtualMachine) else None
    return find_vm(session, place, name=image)
