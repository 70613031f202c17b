"""The one table mapping engine errors onto EC2 wire errors."""

from __future__ import annotations

from typing import Final

from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind, render
from engine import errors as e
from engine.errors import ResourceKind

NOT_FOUND: Final[dict[ResourceKind, str]] = {
    ResourceKind.INSTANCE: Kind.INSTANCE.not_found_code,
    ResourceKind.VOLUME: Kind.VOLUME.not_found_code,
    ResourceKind.TEMPLATE: Kind.IMAGE.not_found_code,
    ResourceKind.SNAPSHOT: Kind.SNAPSHOT.not_found_code,
    ResourceKind.PUBLIC_IP: Kind.ADDRESS.not_found_code,
    ResourceKind.SECURITY_GROUP: Kind.SECURITY_GROUP.not_found_code,
    ResourceKind.SECURITY_RULE: Kind.SECURITY_GROUP_RULE.not_found_code,
    ResourceKind.KEY_PAIR: Kind.KEY_PAIR.not_found_code,
    ResourceKind.NETWORK: Kind.SUBNET.not_found_code,
    ResourceKind.NIC: Kind.NETWORK_INTERFACE.not_found_code,
    ResourceKind.ZONE: "InvalidParameterValue",
    ResourceKind.SERVICE_OFFERING: "InvalidParameterValue",
}

DUPLICATE: Final[dict[ResourceKind, str]] = {
    ResourceKind.KEY_PAIR: "InvalidKeyPair.Duplicate",
    ResourceKind.SECURITY_GROUP: "InvalidGroup.Duplicate",
    ResourceKind.SECURITY_RULE: "InvalidPermission.Duplicate",
    ResourceKind.TAG: "InvalidParameterValue",
}

LIMIT: Final[dict[ResourceKind, str]] = {
    ResourceKind.INSTANCE: "InstanceLimitExceeded",
    ResourceKind.PUBLIC_IP: "AddressLimitExceeded",
    ResourceKind.VOLUME: "VolumeLimitExceeded",
    ResourceKind.TAG: "TagLimitExceeded",
    ResourceKind.KEY_PAIR: "ResourceLimitExceeded",
    ResourceKind.SECURITY_GROUP: "SecurityGroupLimitExceeded",
}

CAPACITY: Final[dict[ResourceKind, str]] = {
    ResourceKind.PUBLIC_IP: "InsufficientAddressCapacity",
    ResourceKind.STORAGE_POOL: "InsufficientVolumeCapacity",
    ResourceKind.NETWORK: "InsufficientFreeAddressesInSubnet",
}

IN_USE: Final[dict[ResourceKind, str]] = {
    ResourceKind.VOLUME: "VolumeInUse",
    ResourceKind.PUBLIC_IP: "InvalidIPAddress.InUse",
}


def to_ec2(exc: e.EngineError, *, show_details: bool = False) -> Ec2Error:
    """The EC2 error for an engine error. ``show_details`` (root admins)
    reveals texts that are otherwise hidden."""
    text = exc.message if show_details else exc.public_message
    match exc:
        case e.NotFound(kind=kind, ident=ident):
            code = NOT_FOUND.get(kind, "InvalidParameterValue")
            return Ec2Error(code, _not_found_text(kind, ident))
        case e.MissingParameter():
            return Ec2Error("MissingParameter", exc.message)
        case e.ConflictingParameters():
            return Ec2Error("InvalidParameterCombination", exc.message)
        case e.InvalidParameter():
            return Ec2Error("InvalidParameterValue", exc.message)
        case e.Duplicate(kind=kind):
            return Ec2Error(DUPLICATE.get(kind, "InvalidParameterValue"), exc.message)
        case e.IncorrectState(kind=kind):
            code = "IncorrectInstanceState" if kind is ResourceKind.INSTANCE else "IncorrectState"
            return Ec2Error(code, exc.message)
        case e.InUse(kind=kind):
            return Ec2Error(IN_USE.get(kind, "DependencyViolation"), exc.message)
        case e.LimitExceeded(resource=kind):
            return Ec2Error(LIMIT.get(kind, "ResourceLimitExceeded"), exc.message)
        case e.InsufficientCapacity(resource=kind):
            code = CAPACITY.get(kind, "InsufficientInstanceCapacity")
            return Ec2Error(code, text, status=500)
        case e.PermissionDenied():
            return Ec2Error("UnauthorizedOperation",
                            "You are not authorized to perform this operation.")
        case e.Unsupported():
            return Ec2Error("UnsupportedOperation", exc.message)
        case e.Unavailable() | e.Conflict():
            # Retryable: boto3 and awscli retry a 503 on their own.
            return Ec2Error("ServiceUnavailable", text, status=503)
        case _:
            return Ec2Error("InternalError", text if show_details else
                            "An internal error has occurred", status=500)


WIRE_KIND: Final[dict[ResourceKind, Kind]] = {
    ResourceKind.INSTANCE: Kind.INSTANCE,
    ResourceKind.VOLUME: Kind.VOLUME,
    ResourceKind.TEMPLATE: Kind.IMAGE,
    ResourceKind.SNAPSHOT: Kind.SNAPSHOT,
    ResourceKind.PUBLIC_IP: Kind.ADDRESS,
    ResourceKind.SECURITY_GROUP: Kind.SECURITY_GROUP,
    ResourceKind.NETWORK: Kind.SUBNET,
}


def _not_found_text(kind: ResourceKind, ident: object) -> str:
    wire = WIRE_KIND.get(kind)
    if wire is not None and isinstance(ident, str) and len(ident) in (8, 17) and "-" not in ident:
        ident = render(wire, ident)
    match kind:
        case ResourceKind.INSTANCE:
            return f"The instance ID '{ident}' does not exist"
        case ResourceKind.TEMPLATE:
            return f"The image id '[{ident}]' does not exist"
        case ResourceKind.KEY_PAIR:
            return f"The key pair '{ident}' does not exist"
        case ResourceKind.ZONE:
            return f"Invalid availability zone: [{ident}]"
        case ResourceKind.SERVICE_OFFERING:
            return f"The instance type '{ident}' does not exist"
        case _:
            return f"The {kind.value.replace('_', ' ')} ID '{ident}' does not exist"
