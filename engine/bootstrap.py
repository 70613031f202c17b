"""The embedded default: what a fresh database gets so the cloud is usable at once.

ROOT domain, the ``admin`` account and user, a region and zone with simulator
hosts, primary and secondary storage, a public IP range, a default guest
network, offerings named after EC2 instance types, OS types and ready
templates. :func:`bootstrap` is idempotent: it only adds what is missing, and
marks the database as holding this embedded default (:mod:`engine.bootstrap_mark`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import bootstrap_mark, sequences
from engine.models import (
    DiskOffering,
    Domain,
    OsType,
    Sequence,
    ServiceOffering,
    Template,
    TemplateZone,
    User,
    Zone,
)
from engine.services.accounts import AccountService
from engine.services.inventory import HostRequest, InventoryService
from engine.services.network_offerings import ensure_default_offerings
from engine.states import Role, TemplateState

GIB = 1024**3
TIB = 1024 * GIB

# (name, vCPUs, memory MiB, MHz per vCPU, family) -- AWS's sizes for these types.
INSTANCE_TYPES: tuple[tuple[str, int, int, int, str], ...] = (
    ("t2.nano", 1, 512, 1000, "t2"), ("t2.micro", 1, 1024, 1000, "t2"),
    ("t2.small", 1, 2048, 1000, "t2"), ("t2.medium", 2, 4096, 1000, "t2"),
    ("t2.large", 2, 8192, 1000, "t2"),
    ("t3.nano", 2, 512, 1000, "t3"), ("t3.micro", 2, 1024, 1000, "t3"),
    ("t3.small", 2, 2048, 1000, "t3"), ("t3.medium", 2, 4096, 1000, "t3"),
    ("t3.large", 2, 8192, 1000, "t3"), ("t3.xlarge", 4, 16384, 1000, "t3"),
    ("t3.2xlarge", 8, 32768, 1000, "t3"),
    ("m5.large", 2, 8192, 2500, "m5"), ("m5.xlarge", 4, 16384, 2500, "m5"),
    ("m5.2xlarge", 8, 32768, 2500, "m5"), ("m5.4xlarge", 16, 65536, 2500, "m5"),
    ("c5.large", 2, 4096, 3000, "c5"), ("c5.xlarge", 4, 8192, 3000, "c5"),
    ("c5.2xlarge", 8, 16384, 3000, "c5"), ("c5.4xlarge", 16, 32768, 3000, "c5"),
    ("r5.large", 2, 16384, 2500, "r5"), ("r5.xlarge", 4, 32768, 2500, "r5"),
    ("r5.2xlarge", 8, 65536, 2500, "r5"), ("r5.4xlarge", 16, 131072, 2500, "r5"),
)

OS_TYPES = (
    ("Amazon Linux 2 (64-bit)", "Other Linux"), ("Ubuntu 22.04 LTS (64-bit)", "Ubuntu"),
    ("Debian GNU/Linux 12 (64-bit)", "Debian"), ("CentOS 5.6 (64-bit)", "CentOS"),
    ("Other Linux (64-bit)", "Other Linux"), ("Windows Server 2022 (64-bit)", "Windows"),
)

# (name, description, os type, size GiB, platform)
TEMPLATES = (
    ("amzn2-ami-hvm-2.0-x86_64-gp2", "Amazon Linux 2 (Simulator)", "Amazon Linux 2 (64-bit)", 8),
    ("ubuntu-jammy-22.04-amd64-server", "Ubuntu 22.04 LTS (Simulator)",
     "Ubuntu 22.04 LTS (64-bit)", 8),
    ("debian-12-amd64", "Debian 12 (Simulator)", "Debian GNU/Linux 12 (64-bit)", 8),
    ("CentOS 5.6 (64-bit) no GUI (Simulator)", "CentOS 5.6 (64-bit) no GUI (Simulator)",
     "CentOS 5.6 (64-bit)", 2),
)

DISK_OFFERINGS = (("Small", 5, False), ("Medium", 20, False), ("Large", 100, False),
                  ("Custom", 0, True))


@dataclass(frozen=True)
class BootstrapOptions:
    region: str = "us-east-1"
    zone: str = "us-east-1a"
    hosts: int = 4
    host_cores: int = 128
    host_mhz: int = 3000
    host_memory_gib: int = 1024
    admin_access_key: str | None = None
    admin_secret_key: str | None = None
    simulator_dir: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> BootstrapOptions:
        values: dict[str, object] = {
            "admin_access_key": os.environ.get("NIMBOSTACK_ADMIN_ACCESS_KEY") or None,
            "admin_secret_key": os.environ.get("NIMBOSTACK_ADMIN_SECRET_KEY") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def bootstrap(session: Session, opts: BootstrapOptions) -> None:
    """Add whatever part of the embedded default is missing (idempotent)."""
    accounts = AccountService(session)
    root = session.scalar(select(Domain).where(Domain.path == "/"))
    if root is None:
        root = Domain(name="ROOT", path="/", level=0)
        session.add(root)
        session.flush()
    if session.scalar(select(User).where(User.username == "admin")) is None:
        accounts.create_account("admin", Role.ADMIN, root, username="admin", password="password",
                                api_key=opts.admin_access_key, secret_key=opts.admin_secret_key)
    _catalog(session)
    ensure_default_offerings(session)
    for name in sequences.KNOWN:
        sequences.ensure(session, name)
    if session.scalar(select(Zone.uuid).limit(1)) is None:
        _zone(session, opts)  # the embedded default is for an empty cloud only
    admin_user = accounts.user_by_name("admin")
    _templates(session, admin_user.account_uuid)
    _mark(session)


def _mark(session: Session) -> None:
    """Record that the database holds this code's embedded default
    (:mod:`engine.bootstrap_mark`), so the next server start skips the bootstrap."""
    row = session.get(Sequence, bootstrap_mark.MARK)
    if row is None:
        session.add(Sequence(name=bootstrap_mark.MARK, next_value=bootstrap_mark.generation()))
    else:
        row.next_value = bootstrap_mark.generation()
    session.flush()


def _catalog(session: Session) -> None:
    have = set(session.scalars(select(ServiceOffering.name)))
    for name, cpus, mem, mhz, family in INSTANCE_TYPES:
        if name not in have:
            session.add(ServiceOffering(name=name, display_text=f"{name}: {cpus} vCPU, "
                                        f"{mem // 1024 if mem >= 1024 else mem / 1024} GiB",
                                        cpus=cpus, cpu_mhz=mhz, memory_mib=mem, family=family))
    have = set(session.scalars(select(DiskOffering.name)))
    for name, size, custom in DISK_OFFERINGS:
        if name not in have:
            session.add(DiskOffering(name=name, display_text=f"{name} Disk, {size} GB"
                                     if size else "Custom Disk", size_gib=size, customized=custom))
    have = set(session.scalars(select(OsType.name)))
    for name, category in OS_TYPES:
        if name not in have:
            session.add(OsType(name=name, category=category,
                               platform="windows" if category == "Windows" else "linux"))
    session.flush()


def _zone(session: Session, opts: BootstrapOptions) -> None:
    inv = InventoryService(session, simulator_dir=opts.simulator_dir)
    region = inv.region(opts.region, endpoint=f"ec2.{opts.region}.nimbostack.local")
    zone = inv.create_zone(region, opts.zone, description=f"Simulated zone {opts.zone}")
    pod = inv.create_pod(zone, f"{opts.zone}-pod1", gateway="192.168.0.1",
                         netmask="255.255.255.0", start_ip="192.168.0.10",
                         end_ip="192.168.0.250")
    cluster = inv.create_cluster(pod, f"{opts.zone}-cluster1", "simulator")
    memory = opts.host_memory_gib * GIB
    for n in range(1, opts.hosts + 1):
        url = (f"http://sim/{cluster.name}/{opts.zone}-host{n}/"
               f"cpucore={opts.host_cores}&cpuspeed={opts.host_mhz}&memory={memory}")
        inv.add_host(HostRequest(zone.uuid, pod.uuid, cluster.uuid, url))
    inv.add_storage_pool(zone, f"{opts.zone}-primary", "nfs://sim/primary", 100 * TIB,
                         hypervisor="Simulator")
    inv.add_image_store(zone, f"{opts.zone}-secondary", "nfs://sim/secondary", 100 * TIB)
    inv.create_vlan_range(zone, gateway="198.51.100.1", netmask="255.255.255.0",
                          start_ip="198.51.100.10", end_ip="198.51.100.250")
    inv.create_network(zone, f"{opts.zone}-default", "172.31.0.0/16", is_default=True)


def _templates(session: Session, admin_account_uuid: str) -> None:
    os_types = {o.name: o.uuid for o in session.scalars(select(OsType))}
    zones = list(session.scalars(select(Zone).where(Zone.removed_at.is_(None))))
    for name, description, os_name, size in TEMPLATES:
        template = session.scalar(select(Template).where(Template.name == name,
                                                         Template.template_type == "BUILTIN"))
        if template is None:
            template = Template(name=name, display_text=description,
                                account_uuid=admin_account_uuid, os_type_uuid=os_types[os_name],
                                format="QCOW2", hypervisor="Simulator", template_type="BUILTIN",
                                url=f"http://sim/templates/{name}.qcow2", size_bytes=size * GIB,
                                is_public=True, is_featured=True, password_enabled=False)
            session.add(template)
            session.flush()
        have = set(session.scalars(select(TemplateZone.zone_uuid).where(
            TemplateZone.template_uuid == template.uuid)))
        for zone in zones:
            if zone.uuid not in have:
                session.add(TemplateZone(template_uuid=template.uuid, zone_uuid=zone.uuid,
                                         state=TemplateState.READY, download_percent=100,
                                         install_path=f"template/tmpl/{template.sid}"))
    session.flush()
