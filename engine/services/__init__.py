"""Engine services: the only API the front ends call.

:class:`Services` bundles them for one unit of work (one session/transaction).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine.services.accounts import AccountService
from engine.services.addresses import AddressService
from engine.services.catalog import CatalogService
from engine.services.events import EventService
from engine.services.instances import InstanceService
from engine.services.inventory import InventoryService
from engine.services.jobs import JobService
from engine.services.key_pairs import KeyPairService
from engine.services.security_groups import SecurityGroupService
from engine.services.settings import Settings
from engine.services.snapshots import SnapshotService
from engine.services.tags import TagService
from engine.services.volumes import VolumeService

if TYPE_CHECKING:
    from engine.runtime import Runtime


class Services:
    def __init__(self, session: Session, runtime: Runtime | None = None) -> None:
        self.session = session
        self.runtime = runtime

    @cached_property
    def settings(self) -> Settings:
        return Settings(self.session)

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.session)

    @cached_property
    def catalog(self) -> CatalogService:
        return CatalogService(self.session)

    @cached_property
    def instances(self) -> InstanceService:
        drivers = self.runtime.drivers if self.runtime is not None else None
        return InstanceService(self.session, self.settings, drivers)

    @cached_property
    def inventory(self) -> InventoryService:
        sim_dir = str(self.runtime.config.simulator_dir) if self.runtime else ""
        return InventoryService(self.session, simulator_dir=sim_dir)

    @cached_property
    def tags(self) -> TagService:
        return TagService(self.session)

    @cached_property
    def events(self) -> EventService:
        return EventService(self.session)

    @cached_property
    def jobs(self) -> JobService:
        return JobService(self.session)

    @cached_property
    def security_groups(self) -> SecurityGroupService:
        return SecurityGroupService(self.session)

    @cached_property
    def addresses(self) -> AddressService:
        return AddressService(self.session, self.settings)

    @cached_property
    def key_pairs(self) -> KeyPairService:
        return KeyPairService(self.session)

    @cached_property
    def volumes(self) -> VolumeService:
        return VolumeService(self.session, self.settings)

    @cached_property
    def snapshots(self) -> SnapshotService:
        return SnapshotService(self.session, self.settings)
