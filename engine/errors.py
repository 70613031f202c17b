"""The engine's neutral error vocabulary.

Every error the engine raises on purpose is one of these classes. They carry
structured facts (resource kind, identifier, state, limit), never a wire code:
each front end maps them onto its own format in one table
(``awsapi/errors.py``, ``nativeapi/errors.py``).

``message`` is safe to show the caller; it never contains secrets. Errors that
may reveal infrastructure (capacity, driver failures) also carry
``public_message``, the text shown to callers who are not root admins.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class ResourceKind(str, Enum):
    """Kinds of resources, named neutrally; front ends render their own names."""

    REGION = "region"
    ZONE = "zone"
    POD = "pod"
    CLUSTER = "cluster"
    HOST = "host"
    STORAGE_POOL = "storage_pool"
    IMAGE_STORE = "image_store"
    VLAN_RANGE = "vlan_range"
    PUBLIC_IP = "public_ip"
    NETWORK = "network"
    NIC = "nic"
    DOMAIN = "domain"
    ACCOUNT = "account"
    USER = "user"
    SERVICE_OFFERING = "service_offering"
    DISK_OFFERING = "disk_offering"
    OS_TYPE = "os_type"
    TEMPLATE = "template"
    INSTANCE = "instance"
    VOLUME = "volume"
    SNAPSHOT = "snapshot"
    SECURITY_GROUP = "security_group"
    SECURITY_RULE = "security_rule"
    KEY_PAIR = "key_pair"
    TAG = "tag"
    JOB = "job"
    EVENT = "event"
    SETTING = "setting"
    AFFINITY_GROUP = "affinity_group"
    VPC = "vpc"
    GATEWAY = "gateway"
    ROUTE_TABLE = "route_table"
    ROUTE = "route"
    ROUTE_TABLE_LINK = "route_table_link"
    PORT_FORWARDING_RULE = "port_forwarding_rule"
    FIREWALL_RULE = "firewall_rule"
    LOAD_BALANCER_RULE = "load_balancer_rule"
    IP_FORWARDING_RULE = "ip_forwarding_rule"
    NETWORK_OFFERING = "network_offering"
    PHYSICAL_NETWORK = "physical_network"
    TRAFFIC_TYPE = "traffic_type"
    NETWORK_SERVICE_PROVIDER = "network_service_provider"
    PROVIDER_ELEMENT = "provider_element"
    PROJECT = "project"
    VM_SNAPSHOT = "vm_snapshot"


class EngineError(Exception):
    """Base of all deliberate engine errors."""

    retryable = False

    def __init__(self, message: str, *, public_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.public_message = public_message if public_message is not None else message


class InvalidParameter(EngineError):
    """A parameter has a value the engine cannot accept."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(f"Invalid value '{value}' for {name}: {reason}")
        self.name, self.value, self.reason = name, value, reason


class MissingParameter(EngineError):
    """A parameter the operation needs was not given."""

    def __init__(self, name: str) -> None:
        super().__init__(f"The request must contain the parameter {name}")
        self.name = name


class ConflictingParameters(EngineError):
    """Parameters that cannot be combined were given together."""

    def __init__(self, names: Iterable[str], reason: str = "") -> None:
        self.names = tuple(names)
        super().__init__(reason or f"The parameters {', '.join(self.names)} cannot be combined")


class NotFound(EngineError):
    """The resource does not exist or the caller may not see it (indistinguishable)."""

    def __init__(self, kind: ResourceKind, ident: object) -> None:
        super().__init__(f"The {kind.value.replace('_', ' ')} '{ident}' does not exist")
        self.kind, self.ident = kind, ident


class Duplicate(EngineError):
    """A resource with this unique name already exists."""

    def __init__(self, kind: ResourceKind, ident: object) -> None:
        super().__init__(f"The {kind.value.replace('_', ' ')} '{ident}' already exists")
        self.kind, self.ident = kind, ident


class IncorrectState(EngineError):
    """The resource is not in a state that allows the operation."""

    def __init__(
        self, kind: ResourceKind, ident: object, state: object, allowed: Iterable[object] = ()
    ) -> None:
        self.kind, self.ident = kind, ident
        self.state = getattr(state, "value", state)
        self.allowed = tuple(getattr(a, "value", a) for a in allowed)
        super().__init__(
            f"The {kind.value.replace('_', ' ')} '{ident}' is in state '{self.state}', "
            "which does not allow this operation"
        )


class InUse(EngineError):
    """The resource is used by another and cannot be changed or removed.
    ``user`` names that other resource as (kind, sid) when it is one."""

    def __init__(self, kind: ResourceKind, ident: object, by: str = "", *,
                 user: tuple[ResourceKind, str] | None = None) -> None:
        if user is not None and not by:
            by = f"{user[0].value.replace('_', ' ')} '{user[1]}'"
        self.kind, self.ident, self.by, self.user = kind, ident, by, user
        suffix = f" by {by}" if by else ""
        super().__init__(f"The {kind.value.replace('_', ' ')} '{ident}' is in use{suffix}")


class LimitExceeded(EngineError):
    """An account limit would be exceeded."""

    def __init__(self, resource: ResourceKind, limit: int) -> None:
        self.resource, self.limit = resource, limit
        super().__init__(
            f"The limit of {limit} for {resource.value.replace('_', ' ')} resources is reached"
        )


class QuotaExceeded(LimitExceeded):
    """A configured resource limit of an account (or of a domain above it) would
    be exceeded. ``quota`` is the limited resource's neutral name (e.g. "cpu",
    "primary_storage"; see engine.services.resource_limits.Resource), ``resource``
    the resource kind it is closest to; ``domain_limited`` says the limit is the
    domain's (``domain_uuid``), not the account's."""

    def __init__(self, quota: str, limit: int, resource: ResourceKind, *, account_name: str,
                 domain_uuid: str, domain_limited: bool = False, project_name: str = "") -> None:
        self.quota, self.account_name, self.domain_uuid = quota, account_name, domain_uuid
        self.domain_limited, self.project_name = domain_limited, project_name
        EngineError.__init__(self, (
            f"The limit of {limit} for {quota.replace('_', ' ')} of "
            + (f"domain {domain_uuid}" if domain_limited else
               f"project {project_name}" if project_name else f"account {account_name}")
            + " is reached"))
        self.resource, self.limit = resource, limit


class InsufficientCapacity(EngineError):
    """No host, pool or address can take the request right now."""

    retryable = True

    def __init__(self, resource: ResourceKind, detail: str = "") -> None:
        self.resource = resource
        super().__init__(
            f"Insufficient {resource.value.replace('_', ' ')} capacity"
            + (f": {detail}" if detail else ""),
            public_message=f"Insufficient {resource.value.replace('_', ' ')} capacity",
        )


class PermissionDenied(EngineError):
    """The caller may not perform this operation on this resource."""

    def __init__(self, action: str, kind: ResourceKind | None = None, ident: object = None) -> None:
        self.action, self.kind, self.ident = action, kind, ident
        target = f" on {kind.value.replace('_', ' ')} '{ident}'" if kind else ""
        super().__init__(f"The caller is not authorized to {action}{target}")


class Protected(EngineError):
    """The resource is protected against ``operation`` (e.g. termination protection);
    the owner must lift the protection first. Not an authorization failure."""

    def __init__(self, kind: ResourceKind, ident: object, operation: str) -> None:
        self.kind, self.ident, self.operation = kind, ident, operation
        super().__init__(
            f"The {kind.value.replace('_', ' ')} '{ident}' is protected against {operation}; "
            "remove the protection first"
        )


class Unsupported(EngineError):
    """The operation is not supported (by this driver, or at all)."""

    def __init__(self, operation: str, driver: str = "") -> None:
        self.operation, self.driver = operation, driver
        on = f" by the {driver} hypervisor" if driver else ""
        super().__init__(f"The operation {operation} is not supported{on}")


class DriverError(EngineError):
    """A hypervisor driver failed; details are for admins only."""

    def __init__(self, driver: str, op: str, detail: str) -> None:
        self.driver, self.op, self.detail = driver, op, detail
        super().__init__(
            f"{driver} failed to {op}: {detail}",
            public_message="Internal error executing the operation",
        )


class Unavailable(EngineError):
    """A dependency (database, host) is unreachable; the caller may retry."""

    retryable = True

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"{what} is unavailable; try again", public_message="The service is unavailable"
        )


class RuleConflict(EngineError):
    """A network rule overlaps an existing rule on the same address or network."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Conflict(EngineError):
    """A concurrent transaction conflicted with this one (deadlock, lock timeout);
    running the whole operation again is safe and usually succeeds."""

    retryable = True

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__("A concurrent operation conflicted with this request; try again",
                         public_message="A concurrent operation conflicted; try again")
