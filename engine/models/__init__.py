"""ORM models, one module per aggregate. Importing this package registers them all.

Unlike the rest of the code base, the model modules do not start with ``from
__future__ import annotations``: with it every ``Mapped[...]`` annotation is a
string that SQLAlchemy compiles and evaluates when it maps the class, about
700 of them, a measurable part of a server's start-up. Written as they are,
the annotations are evaluated once by the interpreter, so a model module may
only name (at run time) types it imports normally, not under TYPE_CHECKING.
"""

from engine.models.affinity import AffinityGroup, InstanceAffinityGroup
from engine.models.catalog import (
    DiskOffering,
    OsType,
    ServiceOffering,
    Template,
    TemplatePermission,
    TemplateZone,
)
from engine.models.compute import Instance, Network, Nic
from engine.models.identity import Account, Domain, User
from engine.models.infrastructure import (
    Cluster,
    Host,
    ImageStore,
    ManagementServer,
    Pod,
    PublicIp,
    Region,
    Sequence,
    Setting,
    StoragePool,
    VlanRange,
    Zone,
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
    "TemplateZone",
    "TrafficType",
    "User",
    "TemplateUserData",
    "UserData",
    "VlanRange",
    "VmSnapshot",
    "VmSnapshotDisk",
    "Volume",
    "VolumeFile",
    "Vpc",
    "VpcTier",
    "Zone",
]
