"""Engine catalog and instance facts -> EC2 output dicts: instance types, type
offerings, instance status, account attributes.

The engine knows an offering's CPU count, clock, memory, family and (optional)
network bandwidth. Everything else EC2 reports about an instance type
(hypervisor, burstable, ENI limits ...) is EC2 vocabulary, derived here from the
family and size with AWS's published values for the known families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from awsapi import views
from awsapi.ids import Kind, render
from engine.states import VmState

if TYPE_CHECKING:
    from engine.models import ServiceOffering
    from engine.services.catalog import AccountOverview
    from engine.services.instance_details import InstanceDetail


# ------------------------------------------------------------ instance types
@dataclass(frozen=True)
class Family:
    """What EC2 says about every size of one instance family."""

    hypervisor: str = "nitro"
    burstable: bool = False
    threads_per_core: int = 2
    dedicated_hosts: bool = True
    network: str = ""  # NetworkPerformance for all sizes; "" derives it from the size

    @property
    def nitro(self) -> bool:
        return self.hypervisor == "nitro"


FAMILIES: Final[dict[str, Family]] = {
    "t2": Family(hypervisor="xen", burstable=True, threads_per_core=1, dedicated_hosts=False,
                 network="Low to Moderate"),
    "t3": Family(burstable=True, dedicated_hosts=False, network="Up to 5 Gigabit"),
    "t3a": Family(burstable=True, dedicated_hosts=False, network="Up to 5 Gigabit"),
}
NITRO: Final = Family()

# (network interfaces, IPv4 addresses per interface) of the burstable sizes.
_BURSTABLE_ENIS: Final[dict[str, tuple[int, int]]] = {
    "nano": (2, 2), "micro": (2, 2), "small": (3, 4), "medium": (3, 6), "large": (3, 12),
}
FREE_TIER: Final = frozenset({"t2.micro", "t3.micro"})


def family_of(offering: ServiceOffering) -> Family:
    name = offering.family or offering.name.partition(".")[0]
    return FAMILIES.get(name, NITRO)


def _enis(offering: ServiceOffering, fam: Family) -> tuple[int, int]:
    size = offering.name.partition(".")[2]
    if fam.burstable and size in _BURSTABLE_ENIS:
        return _BURSTABLE_ENIS[size]
    cpus = offering.cpus
    if cpus <= 2:
        return (3, 10)
    if cpus <= 8:
        return (4, 15)
    if cpus <= 48:
        return (8, 30)
    return (15, 50)


def _network_performance(offering: ServiceOffering, fam: Family) -> str:
    mbps = offering.network_mbps
    if mbps > 0:
        return f"{mbps / 1000:g} Gigabit" if mbps >= 1000 else f"{mbps} Megabit"
    if fam.network:
        return fam.network
    cpus = offering.cpus
    if cpus <= 16:
        return "Up to 10 Gigabit"
    return "10 Gigabit" if cpus <= 32 else "20 Gigabit" if cpus <= 64 else "25 Gigabit"


def _vcpu_info(cpus: int, fam: Family) -> dict[str, Any]:
    threads = 2 if fam.threads_per_core == 2 and cpus >= 2 and cpus % 2 == 0 else 1
    cores = cpus // threads
    out: dict[str, Any] = {"DefaultVCpus": cpus, "DefaultCores": cores,
                           "DefaultThreadsPerCore": threads}
    if fam.nitro:
        out["ValidCores"] = [cores] if cores <= 2 else list(range(2, cores + 1, 2))
        out["ValidThreadsPerCore"] = [1, 2] if threads == 2 else [1]
    return out


def instance_type(offering: ServiceOffering) -> dict[str, Any]:
    """DescribeInstanceTypes' InstanceTypeInfo for ``offering``."""
    fam = family_of(offering)
    enis, ips = _enis(offering, fam)
    performance = _network_performance(offering, fam)
    card: dict[str, Any] = {"NetworkCardIndex": 0, "NetworkPerformance": performance,
                            "MaximumNetworkInterfaces": enis}
    if offering.network_mbps > 0:
        card["BaselineBandwidthInGbps"] = card["PeakBandwidthInGbps"] = \
            offering.network_mbps / 1000
    out: dict[str, Any] = {
        "InstanceType": offering.name,
        "CurrentGeneration": True,
        "FreeTierEligible": offering.name in FREE_TIER,
        # QUIRK(ec2): AWS also lists "spot"; spot requests are not offered here.
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": False,
        "Hypervisor": fam.hypervisor,
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"],
                          "SustainedClockSpeedInGhz": round(offering.cpu_mhz / 1000, 3),
                          "Manufacturer": "Intel"},
        "VCpuInfo": _vcpu_info(offering.cpus, fam),
        "MemoryInfo": {"SizeInMiB": offering.memory_mib},
        "InstanceStorageSupported": False,
        "EbsInfo": {"EbsOptimizedSupport": "default" if fam.nitro else "unsupported",
                    "EncryptionSupport": "supported",
                    "NvmeSupport": "required" if fam.nitro else "unsupported"},
        "NetworkInfo": {
            "NetworkPerformance": performance, "MaximumNetworkInterfaces": enis,
            "MaximumNetworkCards": 1, "DefaultNetworkCardIndex": 0, "NetworkCards": [card],
            "Ipv4AddressesPerInterface": ips, "Ipv6AddressesPerInterface": ips,
            "Ipv6Supported": True,
            "EnaSupport": "required" if fam.nitro else "unsupported",
            "EfaSupported": False, "EncryptionInTransitSupported": False,
            "EnaSrdSupported": False,
        },
        "PlacementGroupInfo": {"SupportedStrategies": (["cluster", "partition", "spread"]
                                                       if fam.nitro else ["partition", "spread"])},
        "HibernationSupported": offering.memory_mib <= 150 * 1024,
        "BurstablePerformanceSupported": fam.burstable,
        "DedicatedHostsSupported": fam.dedicated_hosts,
        "AutoRecoverySupported": True,
        "SupportedBootModes": ["legacy-bios", "uefi"] if fam.nitro else ["legacy-bios"],
        "NitroEnclavesSupport": "supported" if fam.nitro and not fam.burstable
        and offering.cpus >= 4 else "unsupported",
        "NitroTpmSupport": "supported" if fam.nitro else "unsupported",
        "PhcSupport": "unsupported",
    }
    if fam.nitro:
        out["NitroTpmInfo"] = {"SupportedVersions": ["2.0"]}
    return out


# ----------------------------------------------------------- instance status
# Engine VM state -> EC2 instance/system status (both checks agree here: the
# simulated host is healthy whenever the guest runs).
STATUS: Final[dict[VmState, str]] = {
    VmState.RUNNING: "ok", VmState.MIGRATING: "ok", VmState.STARTING: "initializing",
}
NOT_APPLICABLE: Final = "not-applicable"
REACHABILITY: Final[dict[str, str]] = {"ok": "passed", "initializing": "initializing"}


def status_of(state: VmState) -> str:
    return STATUS.get(state, NOT_APPLICABLE)


def _states(wanted: set[str]) -> tuple[str, ...]:
    return tuple(s.value for s in VmState if status_of(s) in wanted)


# Status / reachability values -> engine states (for the status filters).
STATES_BY_STATUS: Final[dict[str, tuple[str, ...]]] = {
    name: _states({name}) for name in ("ok", "initializing", NOT_APPLICABLE)
}
STATES_BY_REACHABILITY: Final[dict[str, tuple[str, ...]]] = {
    "passed": _states({"ok"}), "initializing": _states({"initializing"}),
}


def _summary(status: str) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": status}
    if status in REACHABILITY:
        out["Details"] = [{"Name": "reachability", "Status": REACHABILITY[status]}]
    return out


def instance_status(d: InstanceDetail) -> dict[str, Any]:
    """DescribeInstanceStatus' InstanceStatus for one instance."""
    status = status_of(d.instance.state)
    return {
        "AvailabilityZone": d.zone.name,
        "AvailabilityZoneId": views.zone_id(d.zone),
        "InstanceId": render(Kind.INSTANCE, d.instance.sid),
        "InstanceState": views.state(d.instance.state),
        "InstanceStatus": _summary(status),
        "SystemStatus": _summary(status),
        "AttachedEbsStatus": _summary(status),
        "Events": [],
    }


# -------------------------------------------------------- account attributes
# QUIRK(ec2): AWS always shows a number; an unlimited engine setting (-1) is
# shown as this many.
UNLIMITED: Final = 10000
# AWS's default; the engine has no per-interface group limit.
GROUPS_PER_INTERFACE: Final = 5


def account_attributes(overview: AccountOverview) -> dict[str, list[str]]:
    """Attribute name -> values, in the order AWS lists them."""
    def limit(n: int) -> str:
        return str(UNLIMITED if n < 0 else n)

    network = overview.default_network
    return {
        "vpc-max-security-groups-per-interface": [str(GROUPS_PER_INTERFACE)],
        "max-instances": [limit(overview.instance_limit)],
        "supported-platforms": ["VPC"],
        "default-vpc": [render(Kind.VPC, overview.default_vpc_sid or network.sid)
                        if network is not None else "none"],
        "max-elastic-ips": [limit(overview.public_ip_limit)],
        "vpc-max-elastic-ips": [limit(overview.public_ip_limit)],
    }


# ------------------------------------------------------- instance attributes
# DescribeInstanceAttribute's Attribute -> the output member it fills.
ATTRIBUTE_MEMBER: Final[dict[str, str]] = {
    "instanceType": "InstanceType", "kernel": "KernelId", "ramdisk": "RamdiskId",
    "userData": "UserData", "disableApiTermination": "DisableApiTermination",
    "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
    "rootDeviceName": "RootDeviceName", "blockDeviceMapping": "BlockDeviceMappings",
    "productCodes": "ProductCodes", "sourceDestCheck": "SourceDestCheck",
    "groupSet": "Groups", "ebsOptimized": "EbsOptimized", "sriovNetSupport": "SriovNetSupport",
    "enaSupport": "EnaSupport", "enclaveOptions": "EnclaveOptions",
    "disableApiStop": "DisableApiStop",
}
# What every instance here has, whatever was asked for at launch (ModifyInstanceAttribute
# accepts these values as no-ops and nothing else).
FIXED_ATTRIBUTES: Final[dict[str, Any]] = {
    "EbsOptimized": False, "EnaSupport": True, "DisableApiStop": False,
}
# The engine's guest shutdown action <-> InstanceInitiatedShutdownBehavior.
SHUTDOWN_BEHAVIOR: Final[dict[str, str]] = {"stop": "stop", "destroy": "terminate"}


def instance_attribute(d: InstanceDetail, attribute: str) -> dict[str, Any]:
    """DescribeInstanceAttribute's result for ``attribute`` (a key of ATTRIBUTE_MEMBER)."""
    view = views.instance(d)
    member = ATTRIBUTE_MEMBER[attribute]
    i = d.instance
    values: dict[str, Any] = {
        "InstanceType": {"Value": d.offering.name},
        # QUIRK(ec2): attributes without a value are empty elements (<kernel/>).
        "KernelId": {}, "RamdiskId": {}, "SriovNetSupport": {},
        "UserData": {"Value": i.user_data} if i.user_data else {},
        "DisableApiTermination": {"Value": i.disable_api_termination},
        "RootDeviceName": {"Value": d.template.root_device_name},
        "BlockDeviceMappings": view["BlockDeviceMappings"],
        "ProductCodes": [],
        "Groups": view["SecurityGroups"],
        "EnclaveOptions": {"Enabled": False},
        **{k: {"Value": v} for k, v in FIXED_ATTRIBUTES.items()},
        "SourceDestCheck": {"Value": view["SourceDestCheck"]},
        "InstanceInitiatedShutdownBehavior": {
            "Value": SHUTDOWN_BEHAVIOR.get(i.guest_shutdown_action, "stop")},
    }
    return {"InstanceId": view["InstanceId"], member: values[member]}
