"""The one table mapping engine errors onto EC2 wire errors (codes here; the
EC2 wording of their messages in ``awsapi.errors_text``)."""

from __future__ import annotations

from typing import Final

from awsapi import errors_text as text_of
from awsapi.errors_text import ec2_words, shown, wire_id
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
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
            return Ec2Error(code, text_of.not_found(kind, ident))
        case e.MissingParameter():
            return Ec2Error("MissingParameter", exc.message)
        case e.ConflictingParameters():
            return Ec2Error("InvalidParameterCombination", ec2_words(exc.message))
        case ZoneMismatch(volume=volume, instance=instance):
            return Ec2Error("InvalidVolume.ZoneMismatch",
                            f"The volume '{wire_id(ResourceKind.VOLUME, volume)}' is not in "
                            f"the same availability zone as instance "
                            f"'{wire_id(ResourceKind.INSTANCE, instance)}'")
        case e.InvalidParameter(name=name, value=value, reason=reason):
            return Ec2Error(INVALID_PARAMETER.get(name, "InvalidParameterValue"),
                            _invalid_text(name, value, reason))
        case e.Duplicate(kind=kind, ident=ident):
            return Ec2Error(DUPLICATE.get(kind, "InvalidParameterValue"),
                            text_of.duplicate(kind, ident))
        case e.IncorrectState(kind=kind, ident=ident, state=state):
            code = INCORRECT_STATE_BY_STATE.get((kind, str(state))) or INCORRECT_STATE.get(
                kind, "IncorrectState")
            return Ec2Error(code, text_of.incorrect_state(kind, ident))
        case e.InUse(kind=kind, ident=ident):
            code = IN_USE.get(kind, "DependencyViolation")
            return Ec2Error(code, text_of.in_use(kind, ident, code, getattr(exc, "user", None)))
        case e.QuotaExceeded(quota="cpu", limit=count):
            return Ec2Error("VcpuLimitExceeded", text_of.quota("cpu", count))
        case e.QuotaExceeded(quota=quota, resource=kind, limit=count):
            return Ec2Error(LIMIT.get(kind, "ResourceLimitExceeded"), text_of.quota(quota, count))
        case e.LimitExceeded(resource=kind, limit=count):
            return Ec2Error(LIMIT.get(kind, "ResourceLimitExceeded"), text_of.limit(kind, count))
        case e.InsufficientCapacity(resource=kind):
            code = CAPACITY.get(kind, "InsufficientInstanceCapacity")
            return Ec2Error(code, ec2_words(text), status=500)
        case e.Protected(kind=kind, operation=operation):
            return Ec2Error("OperationNotPermitted", text_of.protected(kind, operation))
        case e.PermissionDenied(kind=ResourceKind.TEMPLATE, ident=ident):
            # QUIRK(ec2): another account's visible image (tests/integration/awsapi/
            # test_ec2_image_management.py::test_public_image_of_another_account_is_read_only)
            return Ec2Error("AuthFailure",
                            f"Not authorized for image:{shown(ResourceKind.TEMPLATE, ident)}")
        case e.PermissionDenied():
            return Ec2Error("UnauthorizedOperation",
                            "You are not authorized to perform this operation.")
        case e.Unsupported():
            return Ec2Error("UnsupportedOperation", ec2_words(exc.message))
        case e.Unavailable() | e.Conflict():
            # Retryable: boto3 and awscli retry a 503 on their own.
            return Ec2Error("ServiceUnavailable", text, status=503)
        case _:
            return Ec2Error("InternalError", text if show_details else
                            "An internal error has occurred", status=500)


# Engine parameter names -> the EC2 parameters they come from.
PARAMETER_NAMES: Final[dict[str, str]] = {
    "templateid": "ImageId", "serviceofferingid": "InstanceType", "networkid": "SubnetId",
    "zoneid": "AvailabilityZone", "virtualmachineid": "InstanceId", "volumeid": "VolumeId",
    "snapshotid": "SnapshotId", "diskofferingid": "VolumeType",
}


def _invalid_text(name: str, value: object, reason: str) -> str:
    """An InvalidParameter in EC2 words; a uuid value is left out."""
    param = PARAMETER_NAMES.get(name, name)
    shown_value = "" if text_of.is_uuid(value) else f" '{value}'"
    return f"Invalid value{shown_value} for {param}: {ec2_words(reason)}"
