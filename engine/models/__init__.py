"""ORM models, one module per aggregate, loaded on demand.

``from engine.models import Instance`` imports (and maps) only the module that
defines ``Instance`` (:data:`_MODULES`, through the module ``__getattr__`` of
PEP 562): the models declare no ``relationship()``, so mapping one module
needs no other, and a process that answers a few kinds of request loads a few
of the 20 modules. A class looked up here comes with the modules of the
tables its module's foreign keys refer to, loaded first (:data:`_REFERENCES`):
SQLAlchemy resolves a foreign key by table name on first use, and the first
flush of a mapper does (it sorts the mapper's tables), so the referred tables
must be there by then. Import mapped classes from this package, not from
their modules (``engine.models.<module>`` is fine for its enums). A mapper
added after others were configured and used is configured on its next use,
under SQLAlchemy's own lock, so modules may load at any time, from any thread.

(The references are not loaded from a mapper event: declarative mapping holds
SQLAlchemy's configure lock while it runs those, and importing another model
module from there deadlocks against a thread that is importing that module
and waits for the same lock.)

Whatever needs the whole schema on ``Base.metadata`` (creating or comparing
it, migrations, ordering inserts over every table) calls :func:`load_all`
first.

Unlike the rest of the code base, the model modules do not start with ``from
__future__ import annotations``: with it every ``Mapped[...]`` annotation is a
string that SQLAlchemy compiles and evaluates when it maps the class, about
700 of them, a measurable part of a server's start-up. Written as they are,
the annotations are evaluated once by the interpreter, so a model module may
only name (at run time) types it imports normally, not under TYPE_CHECKING.
"""

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.models.affinity import AffinityGroup, InstanceAffinityGroup
    from engine.models.catalog import (
        DiskOffering,
        OsType,
        ServiceOffering,
        Template,
        TemplatePermission,
        TemplateZone,
    )
    from engine.models.cloud import ManagementServer, Region, Sequence, Setting, Zone
    from engine.models.compute import Instance, Network, Nic
    from engine.models.identity import Account, Domain, User
    from engine.models.infrastructure import (
        Cluster,
        Host,
        ImageStore,
        Pod,
        PublicIp,
        StoragePool,
        VlanRange,
    )
    from engine.models.instance_metadata import MetadataAccess
    from engine.models.isos import IsoAttachment, IsoProperties, VolumeFile
    from engine.models.load_balancers import IpForwardingRule, LoadBalancerMember, LoadBalancerRule
    from engine.models.meta import Event, Job, Tag
    from engine.models.networking import Gateway, Route, RouteTable, RouteTableLink, Vpc, VpcTier
    from engine.models.nic_extras import NicSecurityGroup
    from engine.models.physical_networks import (
        NetworkServiceProvider,
        PhysicalNetwork,
        ProviderElement,
        TrafficType,
    )
    from engine.models.policies import InstancePassword, PolicySnapshot, SnapshotPolicy
    from engine.models.resource_limits import Project, ProjectMember, ResourceLimit
    from engine.models.rules import FirewallRule, NetworkOffering, PortForwardingRule
    from engine.models.security import InstanceSecurityGroup, KeyPair, SecurityGroup, SecurityRule
    from engine.models.storage import Snapshot, SnapshotPermission, Volume
    from engine.models.vm_extras import InstanceGroup, NicSecondaryIp, TemplateUserData, UserData
    from engine.models.vm_snapshots import VmSnapshot, VmSnapshotDisk

# Model module -> the mapped classes it defines (every module of this package).
_MODULES: dict[str, tuple[str, ...]] = {
    "affinity": ("AffinityGroup", "InstanceAffinityGroup"),
    "catalog": ("DiskOffering", "OsType", "ServiceOffering", "Template", "TemplatePermission",
                "TemplateZone"),
    "cloud": ("ManagementServer", "Region", "Sequence", "Setting", "Zone"),
    "compute": ("Instance", "Network", "Nic"),
    "identity": ("Account", "Domain", "User"),
    "infrastructure": ("Cluster", "Host", "ImageStore", "Pod", "PublicIp", "StoragePool",
                       "VlanRange"),
    "instance_metadata": ("MetadataAccess",),
    "isos": ("IsoAttachment", "IsoProperties", "VolumeFile"),
    "load_balancers": ("IpForwardingRule", "LoadBalancerMember", "LoadBalancerRule"),
    "meta": ("Event", "Job", "Tag"),
    "networking": ("Gateway", "Route", "RouteTable", "RouteTableLink", "Vpc", "VpcTier"),
    "nic_extras": ("NicSecurityGroup",),
    "physical_networks": ("NetworkServiceProvider", "PhysicalNetwork", "ProviderElement",
                          "TrafficType"),
    "policies": ("InstancePassword", "PolicySnapshot", "SnapshotPolicy"),
    "resource_limits": ("Project", "ProjectMember", "ResourceLimit"),
    "rules": ("FirewallRule", "NetworkOffering", "PortForwardingRule"),
    "security": ("InstanceSecurityGroup", "KeyPair", "SecurityGroup", "SecurityRule"),
    "storage": ("Snapshot", "SnapshotPermission", "Volume"),
    "vm_extras": ("InstanceGroup", "NicSecondaryIp", "TemplateUserData", "UserData"),
    "vm_snapshots": ("VmSnapshot", "VmSnapshotDisk"),
}
# Model module -> the other modules holding tables its foreign keys refer to.
# No cycle: loading follows these edges (see _load).
_REFERENCES: dict[str, tuple[str, ...]] = {
    "affinity": ("compute", "identity"),
    "catalog": ("cloud", "identity", "infrastructure"),
    "cloud": (),
    "compute": ("catalog", "cloud", "identity", "infrastructure"),
    "identity": (),
    "infrastructure": ("cloud",),
    "instance_metadata": ("compute",),
    "isos": ("catalog", "compute", "infrastructure", "storage"),
    "load_balancers": ("compute", "identity", "infrastructure"),
    "meta": ("identity",),
    "networking": ("cloud", "compute", "identity"),
    "nic_extras": ("compute", "security"),
    "physical_networks": ("cloud",),
    "policies": ("compute", "identity", "storage"),
    "resource_limits": ("identity",),
    "rules": ("compute", "identity", "infrastructure"),
    "security": ("compute", "identity"),
    "storage": ("cloud", "compute", "identity", "infrastructure"),
    "vm_extras": ("catalog", "compute", "identity"),
    "vm_snapshots": ("cloud", "compute", "identity"),
}
_MODULE_OF: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "Account",
    "AffinityGroup",
    "Cluster",
    "DiskOffering",
    "Domain",
    "Event",
    "FirewallRule",
    "Gateway",
    "Host",
    "ImageStore",
    "Instance",
    "InstanceAffinityGroup",
    "InstanceGroup",
    "InstancePassword",
    "InstanceSecurityGroup",
    "IpForwardingRule",
    "IsoAttachment",
    "IsoProperties",
    "Job",
    "KeyPair",
    "LoadBalancerMember",
    "LoadBalancerRule",
    "ManagementServer",
    "MetadataAccess",
    "Network",
    "NetworkOffering",
    "NetworkServiceProvider",
    "Nic",
    "NicSecondaryIp",
    "NicSecurityGroup",
    "OsType",
    "PhysicalNetwork",
    "Pod",
    "PolicySnapshot",
    "PortForwardingRule",
    "Project",
    "ProjectMember",
    "ProviderElement",
    "PublicIp",
    "Region",
    "ResourceLimit",
    "Route",
    "RouteTable",
    "RouteTableLink",
    "SecurityGroup",
    "SecurityRule",
    "Sequence",
    "ServiceOffering",
    "Setting",
    "Snapshot",
    "SnapshotPermission",
    "SnapshotPolicy",
    "StoragePool",
    "Tag",
    "Template",
    "TemplatePermission",
    "TemplateUserData",
    "TemplateZone",
    "TrafficType",
    "User",
    "UserData",
    "VlanRange",
    "VmSnapshot",
    "VmSnapshotDisk",
    "Volume",
    "VolumeFile",
    "Vpc",
    "VpcTier",
    "Zone",
    "load_all",
]


def __getattr__(name: str) -> Any:
    """The model class ``name``, importing the module that defines it."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def _load(module: str) -> ModuleType:
    """Import ``module`` after the modules it refers to (recursively).
    ``import_module`` returns at once for a loaded module and waits for one
    another thread is still loading, so those tables are complete."""
    for other in _REFERENCES[module]:
        _load(other)
    return importlib.import_module(f"{__name__}.{module}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_all_loaded = False


def load_all() -> None:
    """Import every model module, so that ``Base.metadata`` holds every table.
    Idempotent and thread-safe (the import system's per-module locks); cheap
    once done."""
    global _all_loaded
    if _all_loaded:
        return
    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}")
    _all_loaded = True
