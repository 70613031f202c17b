"""The one table mapping engine errors onto EC2 wire errors."""

from __future__ import annotations

from typing import Final

from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind, render
from engine import errors as e
from engine.errors import ResourceKind
from engine.services.volumes import ZoneMismatch

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
    ResourceKind.VPC: Kind.VPC.not_found_code,
    ResourceKind.GATEWAY: Kind.INTERNET_GATEWAY.not_found_code,
    ResourceKind.ROUTE_TABLE: Kind.ROUTE_TABLE.not_found_code,
    ResourceKind.ROUTE_TABLE_LINK: Kind.ROUTE_TABLE_ASSOCIATION.not_found_code,
    ResourceKind.ROUTE: "InvalidRoute.NotFound",
    ResourceKind.AFFINITY_GROUP: Kind.PLACEMENT_GROUP.not_found_code,
}

DUPLICATE: Final[dict[ResourceKind, str]] = {
    ResourceKind.KEY_PAIR: "InvalidKeyPair.Duplicate",
    ResourceKind.SECURITY_GROUP: "InvalidGroup.Duplicate",
    ResourceKind.SECURITY_RULE: "InvalidPermission.Duplicate",
    ResourceKind.TEMPLATE: "InvalidAMIName.Duplicate",
    ResourceKind.TAG: "InvalidParameterValue",
    ResourceKind.NETWORK: "InvalidSubnet.Conflict",
    ResourceKind.ROUTE: "RouteAlreadyExists",
    ResourceKind.AFFINITY_GROUP: "InvalidPlacementGroup.Duplicate",
}

LIMIT: Final[dict[ResourceKind, str]] = {
    ResourceKind.INSTANCE: "InstanceLimitExceeded",
    ResourceKind.PUBLIC_IP: "AddressLimitExceeded",
    ResourceKind.VOLUME: "VolumeLimitExceeded",
    ResourceKind.TAG: "TagLimitExceeded",
    ResourceKind.KEY_PAIR: "ResourceLimitExceeded",
    ResourceKind.SECURITY_GROUP: "SecurityGroupLimitExceeded",
    ResourceKind.SNAPSHOT: "SnapshotLimitExceeded",
    ResourceKind.VPC: "VpcLimitExceeded",
    ResourceKind.NETWORK: "SubnetLimitExceeded",
}

CAPACITY: Final[dict[ResourceKind, str]] = {
    ResourceKind.PUBLIC_IP: "InsufficientAddressCapacity",
    ResourceKind.STORAGE_POOL: "InsufficientVolumeCapacity",
    ResourceKind.NETWORK: "InsufficientFreeAddressesInSubnet",
}

# InvalidParameter by parameter name, where EC2 has a more specific code.
INVALID_PARAMETER: Final[dict[str, str]] = {
    "PublicKeyMaterial": "InvalidKey.Format",
    "accounts": "InvalidAMIAttributeItemValue",  # a launch permission for no such account
    "vpc.cidr": "InvalidVpc.Range",
    "network.cidr": "InvalidSubnet.Range",
    "security_group.network": "InvalidParameter",  # a group of another VPC than the subnet's
}

# IncorrectState by resource kind (default: IncorrectState).
INCORRECT_STATE: Final[dict[ResourceKind, str]] = {
    ResourceKind.INSTANCE: "IncorrectInstanceState",
    ResourceKind.SECURITY_GROUP: "CannotDelete",  # the default group
    ResourceKind.TEMPLATE: "InvalidAMIID.Unavailable",  # not available (yet) in any zone
}

# IncorrectState by (kind, state), checked before INCORRECT_STATE.
INCORRECT_STATE_BY_STATE: Final[dict[tuple[ResourceKind, str], str]] = {
    (ResourceKind.GATEWAY, "attached"): "Resource.AlreadyAssociated",
    (ResourceKind.VPC, "attached"): "Resource.AlreadyAssociated",
    (ResourceKind.NETWORK, "associated"): "Resource.AlreadyAssociated",
    (ResourceKind.GATEWAY, "detached"): "Gateway.NotAttached",
}

IN_USE: Final[dict[ResourceKind, str]] = {
    ResourceKind.VOLUME: "VolumeInUse",
    ResourceKind.PUBLIC_IP: "InvalidIPAddress.InUse",
    ResourceKind.SNAPSHOT: "InvalidSnapshot.InUse",
    ResourceKind.AFFINITY_GROUP: "InvalidPlacementGroup.InUse",
    ResourceKind.NIC: "InvalidNetworkInterface.InUse",
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
        case ZoneMismatch(volume=volume, instance=instance):
            return Ec2Error("InvalidVolume.ZoneMismatch",
                            f"The volume '{_wire_id(ResourceKind.VOLUME, volume)}' is not in "
                            f"the same availability zone as instance "
                            f"'{_wire_id(ResourceKind.INSTANCE, instance)}'")
        case e.InvalidParameter(name=name):
            return Ec2Error(INVALID_PARAMETER.get(name, "InvalidParameterValue"), exc.message)
        case e.Duplicate(kind=kind):
            return Ec2Error(DUPLICATE.get(kind, "InvalidParameterValue"), exc.message)
        case e.IncorrectState(kind=kind, state=state):
            code = INCORRECT_STATE_BY_STATE.get((kind, str(state))) or INCORRECT_STATE.get(
                kind, "IncorrectState")
            return Ec2Error(code, exc.message)
        case e.InUse(kind=kind):
            return Ec2Error(IN_USE.get(kind, "DependencyViolation"), exc.message)
        case e.QuotaExceeded(quota="cpu"):
            return Ec2Error("VcpuLimitExceeded", exc.message)
        case e.LimitExceeded(resource=kind):
            return Ec2Error(LIMIT.get(kind, "ResourceLimitExceeded"), exc.message)
        case e.InsufficientCapacity(resource=kind):
            code = CAPACITY.get(kind, "InsufficientInstanceCapacity")
            return Ec2Error(code, text, status=500)
        case e.Protected(kind=kind, operation=operation):
            return Ec2Error("OperationNotPermitted", _protected_text(kind, operation))
        case e.PermissionDenied(kind=ResourceKind.TEMPLATE, ident=ident):
            # QUIRK(ec2): another account's visible image (tests/integration/awsapi/
            # test_ec2_image_management.py::test_public_image_of_another_account_is_read_only)
            return Ec2Error("AuthFailure",
                            f"Not authorized for image:{_wire_id(ResourceKind.TEMPLATE, ident)}")
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
    ResourceKind.SECURITY_RULE: Kind.SECURITY_GROUP_RULE,
    ResourceKind.NETWORK: Kind.SUBNET,
    ResourceKind.VPC: Kind.VPC,
    ResourceKind.GATEWAY: Kind.INTERNET_GATEWAY,
    ResourceKind.ROUTE_TABLE: Kind.ROUTE_TABLE,
    ResourceKind.ROUTE_TABLE_LINK: Kind.ROUTE_TABLE_ASSOCIATION,
    ResourceKind.NIC: Kind.NETWORK_INTERFACE,
}


def _protected_text(kind: ResourceKind, operation: str) -> str:
    if kind is ResourceKind.INSTANCE and operation == "terminate":
        # AWS names the instance; the engine error carries its uuid, which EC2 never shows.
        return ("The instance may not be terminated. Modify its 'disableApiTermination' "
                "instance attribute and try again.")
    return f"The {kind.value.replace('_', ' ')} is protected against {operation}."


def _wire_id(kind: ResourceKind, ident: object) -> object:
    """The EC2 id for an engine sid of ``kind``; anything else unchanged."""
    wire = WIRE_KIND.get(kind)
    if wire is not None and isinstance(ident, str) and len(ident) in (8, 17) and "-" not in ident:
        return render(wire, ident)
    return ident


def _not_found_text(kind: ResourceKind, ident: object) -> str:
    ident = _wire_id(kind, ident)
    match kind:
        case ResourceKind.INSTANCE:
            return f"The instance ID '{ident}' does not exist"
        case ResourceKind.TEMPLATE:
            return f"The image id '[{ident}]' does not exist"
        case ResourceKind.KEY_PAIR:
            return f"The key pair '{ident}' does not exist"
        case ResourceKind.SECURITY_GROUP:
            return f"The security group '{ident}' does not exist"
        case ResourceKind.ZONE:
            return f"Invalid availability zone: [{ident}]"
        case ResourceKind.SERVICE_OFFERING:
            return f"The instance type '{ident}' does not exist"
        case ResourceKind.NETWORK:
            return f"The subnet ID '{ident}' does not exist"
        case ResourceKind.GATEWAY:
            return f"The internetGateway ID '{ident}' does not exist"
        case ResourceKind.ROUTE_TABLE:
            return f"The routeTable ID '{ident}' does not exist"
        case ResourceKind.ROUTE_TABLE_LINK:
            return f"The association ID '{ident}' does not exist"
        case ResourceKind.ROUTE:
            return f"There is no route defined for '{ident}' in the route table."
        case _:
            return f"The {kind.value.replace('_', ' ')} ID '{ident}' does not exist"
