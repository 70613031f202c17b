"""The one table mapping engine errors onto CloudStack wire errors.

``to_cloudstack`` turns an :class:`engine.errors.EngineError` raised while a
command ran into the :class:`CloudStackError` the renderer writes;
``job_error`` does the same for a failed job, of which only the error's class
name and message were recorded. Texts that may reveal infrastructure
(530/533/534) are replaced by CloudStack's generic text for callers who are
not root admins, as ``ApiServer`` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from engine import errors as e
from engine.errors import ResourceKind
from nativeapi.errors_wire import (
    USER_ERROR_TEXT,
    ApiErrorCode,
    CloudStackError,
    CsErrorCode,
)
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import CommandMeta

Codes = tuple[int, int]

# Engine error class -> (errorcode, cserrorcode). Subclasses inherit their base's row.
CODES: Final[Mapping[type[e.EngineError], Codes]] = {
    e.InvalidParameter: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.MissingParameter: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.ConflictingParameters: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.NotFound: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.Duplicate: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    # QUIRK(cloudstack): an operation in the wrong state is an
    # InvalidParameterValueException (431/4350), e.g. "VM is not in Running state".
    e.IncorrectState: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.InUse: (ApiErrorCode.RESOURCE_IN_USE_ERROR, CsErrorCode.RESOURCE_IN_USE),
    e.LimitExceeded: (ApiErrorCode.ACCOUNT_RESOURCE_LIMIT_ERROR, CsErrorCode.RESOURCE_ALLOCATION),
    # QUIRK(cloudstack): a configured resource limit raises ResourceAllocationException
    # (535/4370) (tests/integration/nativeapi/test_cs_resource_limits.py).
    e.QuotaExceeded: (ApiErrorCode.RESOURCE_ALLOCATION_ERROR, CsErrorCode.RESOURCE_ALLOCATION),
    e.InsufficientCapacity: (
        ApiErrorCode.INSUFFICIENT_CAPACITY_ERROR,
        CsErrorCode.INSUFFICIENT_CAPACITY,
    ),
    e.PermissionDenied: (ApiErrorCode.ACCOUNT_ERROR, CsErrorCode.PERMISSION_DENIED),
    # QUIRK(cloudstack): destroying a VM with deleteprotection set is an
    # InvalidParameterValueException (431/4350), not a permission error.
    e.Protected: (ApiErrorCode.PARAM_ERROR, CsErrorCode.INVALID_PARAMETER_VALUE),
    e.Unsupported: (ApiErrorCode.UNSUPPORTED_ACTION_ERROR, CsErrorCode.CLOUD_RUNTIME),
    e.Unavailable: (ApiErrorCode.RESOURCE_UNAVAILABLE_ERROR, CsErrorCode.RESOURCE_UNAVAILABLE),
    e.DriverError: (ApiErrorCode.INTERNAL_ERROR, CsErrorCode.CLOUD_RUNTIME),
    e.Conflict: (ApiErrorCode.INTERNAL_ERROR, CsErrorCode.CONCURRENT_OPERATION),
    # QUIRK(cloudstack): a NetworkRuleConflictException is rethrown as a bare
    # ServerApiException(NETWORK_RULE_CONFLICT_ERROR), so its cserrorcode is 9999.
    e.RuleConflict: (ApiErrorCode.NETWORK_RULE_CONFLICT_ERROR, CsErrorCode.SERVER_API),
}
INTERNAL: Final[Codes] = (ApiErrorCode.INTERNAL_ERROR, CsErrorCode.CLOUD_RUNTIME)

# InsufficientCapacity's cserrorcode depends on what ran out.
CAPACITY_CODES: Final[Mapping[ResourceKind, int]] = {
    ResourceKind.HOST: CsErrorCode.INSUFFICIENT_SERVER_CAPACITY,
    ResourceKind.CLUSTER: CsErrorCode.INSUFFICIENT_SERVER_CAPACITY,
    ResourceKind.POD: CsErrorCode.INSUFFICIENT_SERVER_CAPACITY,
    ResourceKind.ZONE: CsErrorCode.INSUFFICIENT_SERVER_CAPACITY,
    ResourceKind.PUBLIC_IP: CsErrorCode.INSUFFICIENT_ADDRESS_CAPACITY,
    ResourceKind.NETWORK: CsErrorCode.INSUFFICIENT_ADDRESS_CAPACITY,
    ResourceKind.NIC: CsErrorCode.INSUFFICIENT_ADDRESS_CAPACITY,
    ResourceKind.STORAGE_POOL: CsErrorCode.INSUFFICIENT_STORAGE_CAPACITY,
    ResourceKind.VOLUME: CsErrorCode.INSUFFICIENT_STORAGE_CAPACITY,
}

# errorcodes whose real text only root admins see (ApiServer.handleRequest).
HIDDEN: Final = frozenset(
    {
        ApiErrorCode.INTERNAL_ERROR,
        ApiErrorCode.INSUFFICIENT_CAPACITY_ERROR,
        ApiErrorCode.RESOURCE_UNAVAILABLE_ERROR,
    }
)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_BY_NAME: Final[Mapping[str, Codes]] = {cls.__name__: codes for cls, codes in CODES.items()}


def codes_for(exc: e.EngineError) -> Codes:
    """(errorcode, cserrorcode) for an engine error (unknown kinds are 530/4250)."""
    for cls in type(exc).__mro__:
        codes = CODES.get(cls)
        if codes is not None:
            if isinstance(exc, e.InsufficientCapacity):
                return codes[0], CAPACITY_CODES.get(exc.resource, codes[1])
            return codes
    return INTERNAL


def to_cloudstack(
    exc: e.EngineError,
    *,
    show_details: bool,
    params: CsParams | None = None,
    meta: CommandMeta | None = None,
) -> CloudStackError:
    """The CloudStack error for ``exc``.

    ``show_details`` (root admins) keeps the real text of 530/533/534 errors.
    A ``NotFound`` whose identifier the caller passed in a parameter gets the
    parser's canonical "entity does not exist" text naming that parameter
    (Terraform matches it), when ``params`` is given.
    """
    errorcode, cserrorcode = codes_for(exc)
    if isinstance(exc, e.NotFound) and params is not None:
        name = _param_holding(params, meta, exc.ident)
        if name is not None:
            return params.entity_not_found(name, str(exc.ident))
    if errorcode in HIDDEN and not show_details:
        text = USER_ERROR_TEXT
    else:
        text = quota_text(exc) if isinstance(exc, e.QuotaExceeded) else exc.message
    return CloudStackError(errorcode, text, cserrorcode, log_detail=exc.message)


def quota_text(exc: e.QuotaExceeded) -> str:
    """ResourceLimitManagerImpl's text for a limit that would be exceeded."""
    kind = "user_vm" if exc.quota == "instance" else exc.quota
    owner = (f"domain id={exc.domain_uuid}" if exc.domain_limited else
             f"project name={exc.project_name} in domain id={exc.domain_uuid}"
             if exc.project_name else
             f"account name={exc.account_name} in domain id={exc.domain_uuid}")
    return f"Maximum number of resources of type '{kind}' for {owner} has been exceeded."


def job_error(error_kind: str | None, message: str | None, *, show_details: bool) -> tuple[int, str]:
    """(errorcode, errortext) for a failed job recorded as ``error_kind``/``message``.

    ``error_kind`` is the engine error's class name; anything else is a 530.
    """
    errorcode = _BY_NAME.get(error_kind or "", INTERNAL)[0]
    if errorcode in HIDDEN and not show_details:
        return errorcode, USER_ERROR_TEXT
    return errorcode, message or USER_ERROR_TEXT


def _param_holding(params: CsParams, meta: CommandMeta | None, ident: object) -> str | None:
    """The name (as the command declares it) of the parameter whose value is ``ident``."""
    wanted = str(ident).lower()
    if not _UUID.match(wanted):
        return None  # names (key pairs, groups) keep the engine's own text
    for key in params.names():
        value = params.get(key)
        if value is None:
            continue
        if value.lower() == wanted or wanted in (v.strip().lower() for v in value.split(",")):
            spec = meta.param(key) if meta is not None else None
            return spec.name if spec is not None else key
    return None
