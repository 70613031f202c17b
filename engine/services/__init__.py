"""Engine services: the only API the front ends call.

:class:`Services` bundles them for one unit of work (one session/transaction).
Each service's module is imported the first time a bundle hands that service
out, so a process imports only the services its requests use (a signed
``DescribeRegions`` needs two), and importing this package costs nothing.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.runtime import Runtime
    from engine.services.accounts import AccountService
    from engine.services.addresses import AddressService
    from engine.services.affinity import AffinityService
    from engine.services.catalog import CatalogService
    from engine.services.events import EventService
    from engine.services.extracts import ExtractService
    from engine.services.guest_networks import GuestNetworkService
    from engine.services.instance_operations import InstanceOperations
    from engine.services.instance_restore import InstanceRestore
    from engine.services.instances import InstanceService
    from engine.services.inventory import InventoryService
    from engine.services.ip_forwarding import IpForwardingService
    from engine.services.isos import IsoService
    from engine.services.jobs import JobService
    from engine.services.key_pairs import KeyPairService
    from engine.services.load_balancers import LoadBalancerService
    from engine.services.network_interfaces import InterfaceService
    from engine.services.network_offerings import NetworkOfferingService
    from engine.services.nic_management import NicService
    from engine.services.passwords import PasswordService
    from engine.services.physical_networks import PhysicalNetworkService
    from engine.services.projects import ProjectService
    from engine.services.resource_limits import ResourceLimitService
    from engine.services.routing import RoutingService
    from engine.services.rules import RuleService
    from engine.services.security_groups import SecurityGroupService
    from engine.services.settings import Settings
    from engine.services.snapshot_policies import SnapshotPolicyService
    from engine.services.snapshots import SnapshotService
    from engine.services.tags import TagService
    from engine.services.template_user_data import TemplateUserDataService
    from engine.services.templates import TemplateService
    from engine.services.vm_snapshots import VmSnapshotService
    from engine.services.volume_transfers import VolumeTransferService
    from engine.services.volume_uploads import VolumeUploadService
    from engine.services.volumes import VolumeService
    from engine.services.vpcs import VpcService


class Services:
    def __init__(self, session: Session, runtime: Runtime | None = None) -> None:
        self.session = session
        self.runtime = runtime

    @cached_property
    def settings(self) -> Settings:
        from engine.services.settings import Settings

        return Settings(self.session)

    @cached_property
    def accounts(self) -> AccountService:
        from engine.services.accounts import AccountService

        return AccountService(self.session)

    @cached_property
    def catalog(self) -> CatalogService:
        from engine.services.catalog import CatalogService

        return CatalogService(self.session)

    @cached_property
    def instances(self) -> InstanceService:
        from engine.models import load_all
        from engine.services.instances import InstanceService

        # A launch orders its inserts over the whole schema (launch_rows).
        load_all()
        drivers = self.runtime.drivers if self.runtime is not None else None
        return InstanceService(self.session, self.settings, drivers)

    @cached_property
    def inventory(self) -> InventoryService:
        from engine.services.inventory import InventoryService

        sim_dir = str(self.runtime.config.simulator_dir) if self.runtime else ""
        return InventoryService(self.session, simulator_dir=sim_dir)

    @cached_property
    def tags(self) -> TagService:
        from engine.services.tags import TagService

        return TagService(self.session)

    @cached_property
    def events(self) -> EventService:
        from engine.services.events import EventService

        return EventService(self.session)

    @cached_property
    def jobs(self) -> JobService:
        from engine.services.jobs import JobService

        return JobService(self.session)

    @cached_property
    def security_groups(self) -> SecurityGroupService:
        from engine.services.security_groups import SecurityGroupService

        return SecurityGroupService(self.session)

    @cached_property
    def addresses(self) -> AddressService:
        from engine.services.addresses import AddressService

        return AddressService(self.session, self.settings)

    @cached_property
    def key_pairs(self) -> KeyPairService:
        from engine.services.key_pairs import KeyPairService

        return KeyPairService(self.session)

    @cached_property
    def rules(self) -> RuleService:
        from engine.services.rules import RuleService

        return RuleService(self.session)

    @cached_property
    def network_offerings(self) -> NetworkOfferingService:
        from engine.services.network_offerings import NetworkOfferingService

        return NetworkOfferingService(self.session)

    @cached_property
    def guest_networks(self) -> GuestNetworkService:
        from engine.services.guest_networks import GuestNetworkService

        return GuestNetworkService(self.session, self.inventory)

    @cached_property
    def physical_networks(self) -> PhysicalNetworkService:
        from engine.services.physical_networks import PhysicalNetworkService

        return PhysicalNetworkService(self.session)

    @cached_property
    def affinity(self) -> AffinityService:
        from engine.services.affinity import AffinityService

        return AffinityService(self.session)

    @cached_property
    def volumes(self) -> VolumeService:
        from engine.services.volumes import VolumeService

        return VolumeService(self.session, self.settings)

    @cached_property
    def snapshots(self) -> SnapshotService:
        from engine.services.snapshots import SnapshotService

        return SnapshotService(self.session, self.settings)

    @cached_property
    def templates(self) -> TemplateService:
        from engine.services.templates import TemplateService

        return TemplateService(self.session)

    @cached_property
    def isos(self) -> IsoService:
        from engine.services.isos import IsoService

        return IsoService(self.session)

    @cached_property
    def template_user_data(self) -> TemplateUserDataService:
        from engine.services.template_user_data import TemplateUserDataService

        return TemplateUserDataService(self.session)

    @cached_property
    def extracts(self) -> ExtractService:
        from pathlib import Path

        from engine.services.extracts import ExtractService

        home = Path(self.runtime.config.simulator_dir).parent if self.runtime else Path(".")
        return ExtractService(self.session, home)

    @cached_property
    def volume_transfers(self) -> VolumeTransferService:
        from engine.services.volume_transfers import VolumeTransferService

        return VolumeTransferService(self.session, self.settings)

    @cached_property
    def volume_uploads(self) -> VolumeUploadService:
        from pathlib import Path

        from engine.services.volume_uploads import VolumeUploadService

        home = Path(self.runtime.config.simulator_dir).parent if self.runtime else Path(".")
        return VolumeUploadService(self.session, self.settings, home)

    @cached_property
    def vpcs(self) -> VpcService:
        from engine.services.vpcs import VpcService

        return VpcService(self.session)

    @cached_property
    def routing(self) -> RoutingService:
        from engine.services.routing import RoutingService

        return RoutingService(self.session)

    @cached_property
    def interfaces(self) -> InterfaceService:
        from engine.services.network_interfaces import InterfaceService

        return InterfaceService(self.session)

    @cached_property
    def nics(self) -> NicService:
        from engine.services.nic_management import NicService

        return NicService(self.session, self.runtime.drivers if self.runtime else None)

    @cached_property
    def instance_operations(self) -> InstanceOperations:
        from engine.services.instance_operations import InstanceOperations

        drivers = self.runtime.drivers if self.runtime is not None else None
        return InstanceOperations(self.session, self.settings, drivers)

    @cached_property
    def passwords(self) -> PasswordService:
        from engine.services.passwords import PasswordService

        return PasswordService(self.session)

    @cached_property
    def snapshot_policies(self) -> SnapshotPolicyService:
        from engine.services.snapshot_policies import SnapshotPolicyService

        return SnapshotPolicyService(self.session, self.settings)

    @cached_property
    def load_balancers(self) -> LoadBalancerService:
        from engine.services.load_balancers import LoadBalancerService

        return LoadBalancerService(self.session, self.settings)

    @cached_property
    def ip_forwarding(self) -> IpForwardingService:
        from engine.services.ip_forwarding import IpForwardingService

        return IpForwardingService(self.session)

    @cached_property
    def resource_limits(self) -> ResourceLimitService:
        from engine.services.resource_limits import ResourceLimitService

        return ResourceLimitService(self.session, self.settings)

    @cached_property
    def projects(self) -> ProjectService:
        from engine.services.projects import ProjectService

        return ProjectService(self.session)

    @cached_property
    def vm_snapshots(self) -> VmSnapshotService:
        from engine.services.vm_snapshots import VmSnapshotService

        drivers = self.runtime.drivers if self.runtime is not None else None
        return VmSnapshotService(self.session, self.settings, drivers)

    @cached_property
    def instance_restore(self) -> InstanceRestore:
        from engine.services.instance_restore import InstanceRestore

        drivers = self.runtime.drivers if self.runtime is not None else None
        return InstanceRestore(self.session, self.settings, drivers)
