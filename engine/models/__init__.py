"""ORM models, one module per aggregate. Importing this package registers them all."""

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
from engine.models.meta import Event, Job, Tag
from engine.models.networking import Gateway, Route, RouteTable, RouteTableLink, Vpc, VpcTier
from engine.models.physical_networks import (
    NetworkServiceProvider,
    PhysicalNetwork,
    ProviderElement,
    TrafficType,
)
from engine.models.policies import InstancePassword, PolicySnapshot, SnapshotPolicy
from engine.models.rules import FirewallRule, NetworkOffering, PortForwardingRule
from engine.models.security import InstanceSecurityGroup, KeyPair, SecurityGroup, SecurityRule
from engine.models.storage import Snapshot, Volume
from engine.models.vm_extras import InstanceGroup, NicSecondaryIp, UserData

__all__ = [
    "Account", "AffinityGroup", "Cluster", "DiskOffering", "Domain", "Event", "Host", "ImageStore", "Instance",
    "InstanceAffinityGroup", "InstanceSecurityGroup", "Job", "KeyPair", "ManagementServer", "MetadataAccess", "Network", "Nic", "OsType",
    "Pod", "PublicIp", "Region", "SecurityGroup", "SecurityRule", "Sequence", "ServiceOffering", "Setting",
    "Snapshot", "StoragePool", "Tag", "Template", "TemplatePermission", "TemplateZone", "User", "VlanRange", "Volume",
    "Zone", "Gateway", "Route", "RouteTable", "RouteTableLink", "Vpc", "VpcTier",
    "FirewallRule", "NetworkOffering", "PortForwardingRule",
    "InstancePassword", "PolicySnapshot", "SnapshotPolicy",
    "IsoAttachment", "IsoProperties", "VolumeFile",
    "NetworkServiceProvider", "PhysicalNetwork", "ProviderElement", "TrafficType",
    "InstanceGroup", "NicSecondaryIp", "UserData",
]
