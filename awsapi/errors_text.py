"""EC2 wording of engine errors: the messages ``awsapi.errors.to_ec2`` sends.

Engine errors are worded neutrally (templates, networks, service offerings)
and may carry internal uuids. An EC2 client must see AWS's nouns (image,
subnet, instance type) and EC2 ids only: messages here are built from the
error's kind and id, an engine sid is shown as its EC2 id and a uuid is never
shown. Free engine text (an InvalidParameter reason) goes through
:func:`ec2_words`.
"""

from __future__ import annotations

import re
from typing import Final

from awsapi.ids import Kind, render
from engine.errors import ResourceKind

WIRE_KIND: Final[dict[ResourceKind, Kind]] = {
    ResourceKind.INSTANCE: Kind.INSTANCE,
    ResourceKind.VOLUME: Kind.VOLUME,
    ResourceKind.TEMPLATE: Kind.IMAGE,
    ResourceKind.SNAPSHOT: Kind.SNAPSHOT,
    ResourceKind.PUBLIC_IP: Kind.ADDRESS,
    ResourceKind.SECURITY_GROUP: Kind.SECURITY_GROUP,
    ResourceKind.SECURITY_RULE: Kind.SECURITY_GROUP_RULE,
    ResourceKind.NETWORK: Kind.SUBNET,
    ResourceKind.VPC: Kind.VPC,
    ResourceKind.GATEWAY: Kind.INTERNET_GATEWAY,
    ResourceKind.ROUTE_TABLE: Kind.ROUTE_TABLE,
    ResourceKind.ROUTE_TABLE_LINK: Kind.ROUTE_TABLE_ASSOCIATION,
    ResourceKind.NIC: Kind.NETWORK_INTERFACE,
}

# What EC2 calls each kind of resource.
NOUN: Final[dict[ResourceKind, str]] = {
    ResourceKind.INSTANCE: "instance",
    ResourceKind.VOLUME: "volume",
    ResourceKind.TEMPLATE: "image",
    ResourceKind.SNAPSHOT: "snapshot",
    ResourceKind.PUBLIC_IP: "address",
    ResourceKind.SECURITY_GROUP: "security group",
    ResourceKind.SECURITY_RULE: "security group rule",
    ResourceKind.KEY_PAIR: "key pair",
    ResourceKind.NETWORK: "subnet",
    ResourceKind.NIC: "network interface",
    ResourceKind.VPC: "vpc",
    ResourceKind.GATEWAY: "internet gateway",
    ResourceKind.ROUTE_TABLE: "route table",
    ResourceKind.ROUTE_TABLE_LINK: "route table association",
    ResourceKind.AFFINITY_GROUP: "placement group",
    ResourceKind.SERVICE_OFFERING: "instance type",
    ResourceKind.ZONE: "availability zone",
    ResourceKind.STORAGE_POOL: "volume capacity",
    ResourceKind.DISK_OFFERING: "volume type",
    ResourceKind.OS_TYPE: "platform",
    ResourceKind.NETWORK_OFFERING: "subnet configuration",
    ResourceKind.PHYSICAL_NETWORK: "physical network",
    ResourceKind.VM_SNAPSHOT: "instance snapshot",
}

_UUID: Final = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")

# Engine words -> EC2's, longest first (whole words, case kept for the first letter).
_WORDS: Final[tuple[tuple[str, str], ...]] = (
    ("network interface", "network interface"),  # EC2's word too: kept
    ("service offering", "instance type"), ("disk offering", "volume type"),
    ("virtual machine", "instance"), ("guest network", "subnet"), ("template", "image"),
    ("network", "subnet"), ("offering", "instance type"), ("vm", "instance"),
)
_WORD_RE: Final = re.compile(
    r"\b(" + "|".join(re.escape(w) for w, _ in _WORDS) + r")(s?)\b", re.IGNORECASE)


def noun(kind: ResourceKind) -> str:
    return NOUN.get(kind) or ec2_words(kind.value.replace("_", " "))


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def wire_id(kind: ResourceKind, ident: object) -> object:
    """The EC2 id for an engine sid of ``kind``; anything else unchanged."""
    wire = WIRE_KIND.get(kind)
    if wire is not None and isinstance(ident, str) and len(ident) in (8, 17) and "-" not in ident:
        return render(wire, ident)
    return ident


def shown(kind: ResourceKind, ident: object) -> str | None:
    """The id as EC2 shows it, or None when it must not be shown (a uuid, nothing)."""
    if ident is None or ident == "" or is_uuid(ident):
        return None
    return str(wire_id(kind, ident))


def ec2_words(text: str) -> str:
    """Engine wording -> EC2's: engine nouns replaced, uuids left out."""
    def word(m: re.Match[str]) -> str:
        new = dict(_WORDS)[m.group(1).lower()]
        new = new[0].upper() + new[1:] if m.group(1)[0].isupper() else new
        return new + m.group(2)

    text = _WORD_RE.sub(word, text)
    return re.sub(r"\s*'?\b(?:" + _UUID.pattern[2:-2] + r")\b'?", "", text)


def not_found(kind: ResourceKind, ident: object) -> str:
    """AWS's NotFound message for ``kind``."""
    shown_id = shown(kind, ident)
    if shown_id is None:
        return f"The {noun(kind)} does not exist"
    match kind:
        case ResourceKind.INSTANCE:
            return f"The instance ID '{shown_id}' does not exist"
        case ResourceKind.TEMPLATE:
            return f"The image id '[{shown_id}]' does not exist"
        case ResourceKind.VOLUME:
            return f"The volume '{shown_id}' does not exist."
        case ResourceKind.SNAPSHOT:
            return f"The snapshot '{shown_id}' does not exist."
        case ResourceKind.KEY_PAIR:
            return f"The key pair '{shown_id}' does not exist"
        case ResourceKind.SECURITY_GROUP:
            return f"The security group '{shown_id}' does not exist"
        case ResourceKind.ZONE:
            return f"Invalid availability zone: [{shown_id}]"
        case ResourceKind.SERVICE_OFFERING:
            return f"The instance type '{shown_id}' does not exist"
        case ResourceKind.NETWORK:
            return f"The subnet ID '{shown_id}' does not exist"
        case ResourceKind.VPC:
            return f"The vpc ID '{shown_id}' does not exist"
        case ResourceKind.PUBLIC_IP:
            return f"The allocation ID '{shown_id}' does not exist"
        case ResourceKind.NIC:
            return f"The networkInterface ID '{shown_id}' does not exist"
        case ResourceKind.GATEWAY:
            return f"The internetGateway ID '{shown_id}' does not exist"
        case ResourceKind.ROUTE_TABLE:
            return f"The routeTable ID '{shown_id}' does not exist"
        case ResourceKind.ROUTE_TABLE_LINK:
            return f"The association ID '{shown_id}' does not exist"
        case ResourceKind.ROUTE:
            return f"There is no route defined for '{shown_id}' in the route table."
        case ResourceKind.AFFINITY_GROUP:
            return f"The Placement Group '{shown_id}' is unknown."
        case _:
            return f"The {noun(kind)} ID '{shown_id}' does not exist"


def _subject(kind: ResourceKind, ident: object) -> str:
    shown_id = shown(kind, ident)
    return f"The {noun(kind)} '{shown_id}'" if shown_id else f"The {noun(kind)}"


def incorrect_state(kind: ResourceKind, ident: object) -> str:
    if kind is ResourceKind.TEMPLATE:
        return f"{_subject(kind, ident)} is not available"
    return f"{_subject(kind, ident)} is not in a state that allows this operation"


def in_use(kind: ResourceKind, ident: object, code: str,
           user: tuple[ResourceKind, str] | None) -> str:
    shown_id = shown(kind, ident)
    if code == "DependencyViolation":
        return f"resource {shown_id} has a dependent object" if shown_id else \
            f"The {noun(kind)} has a dependent object"
    by = shown(*user) if user is not None else None
    if kind is ResourceKind.SNAPSHOT and shown_id:
        return f"The snapshot {shown_id} is currently in use" + (f" by {by}" if by else "")
    return f"{_subject(kind, ident)} is in use" + (f" by {by}" if by else "")


def duplicate(kind: ResourceKind, ident: object) -> str:
    name = "" if is_uuid(ident) else str(ident)
    match kind:
        case ResourceKind.TEMPLATE:
            return f"AMI name {name} is already in use"
        case ResourceKind.KEY_PAIR:
            return f"The keypair '{name}' already exists."
        case ResourceKind.SECURITY_GROUP:
            return f"The security group '{name}' already exists"
        case ResourceKind.SECURITY_RULE:
            return "the specified rule already exists"
        case ResourceKind.NETWORK:
            return f"The CIDR '{name}' conflicts with another subnet"
        case ResourceKind.ROUTE:
            return f"The route identified by {name} already exists."
        case ResourceKind.AFFINITY_GROUP:
            return f"The Placement Group '{name}' already exists."
        case _:
            return f"The {noun(kind)} '{name}' already exists"


def limit(kind: ResourceKind, count: int) -> str:
    return f"You have reached the limit of {count} for {noun(kind)} resources"


def quota(name: str, count: int) -> str:
    """A configured limit (``name``: the engine's neutral quota name) reached."""
    if name == "cpu":
        return (f"You have requested more vCPU capacity than your current vCPU limit of "
                f"{count} allows")
    what = _QUOTA_NOUNS.get(name) or ec2_words(name.replace("_", " "))
    return f"You have reached your limit of {count} for {what}"


_QUOTA_NOUNS: Final = {
    "instance": "instances", "public_ip": "Elastic IP addresses", "volume": "volumes",
    "snapshot": "snapshots", "template": "images", "network": "subnets", "vpc": "VPCs",
    "memory": "instance memory", "primary_storage": "volume storage",
    "secondary_storage": "snapshot and image storage",
}


def protected(kind: ResourceKind, operation: str) -> str:
    if kind is ResourceKind.INSTANCE and operation == "terminate":
        # AWS names the instance; the engine error carries its uuid, which EC2 never shows.
        return ("The instance may not be terminated. Modify its 'disableApiTermination' "
                "instance attribute and try again.")
    return f"The {noun(kind)} is protected against {operation}."
