"""CloudStack wire error vocabulary: the exception the front end raises and its codes.

``CloudStackError`` is what protocol code and command handlers raise when they
want a specific CloudStack error on the wire. The renderer turns it into the
``<cmd>response`` error envelope; the HTTP status equals ``errorcode``.

Codes are CloudStack's ``ApiErrorCode`` (HTTP-like, 4xx/5xx) and
``CSExceptionErrorCode`` (``cserrorcode``, 4xxx/9999). Mapping *engine* errors
onto these codes is not done here (that is ``nativeapi.errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ApiErrorCode(IntEnum):
    """``errorcode`` values; the HTTP status of an error response equals the code."""

    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    METHOD_NOT_ALLOWED = 405
    API_LIMIT_EXCEED = 429
    MALFORMED_PARAMETER_ERROR = 430
    PARAM_ERROR = 431
    UNSUPPORTED_ACTION_ERROR = 432
    SERVICE_UNAVAILABLE = 503
    UNAUTHORIZED2FA = 511
    INTERNAL_ERROR = 530
    ACCOUNT_ERROR = 531
    ACCOUNT_RESOURCE_LIMIT_ERROR = 532
    INSUFFICIENT_CAPACITY_ERROR = 533
    RESOURCE_UNAVAILABLE_ERROR = 534
    RESOURCE_ALLOCATION_ERROR = 535
    RESOURCE_IN_USE_ERROR = 536
    NETWORK_RULE_CONFLICT_ERROR = 537


class CsErrorCode(IntEnum):
    """``cserrorcode`` values, one per CloudStack exception class."""

    CLOUD_RUNTIME = 4250
    EXECUTION = 4260
    HYPERVISOR_VERSION_CHANGED = 4265
    CLOUD = 4275
    ACCOUNT_LIMIT = 4280
    AGENT_UNAVAILABLE = 4285
    CLOUD_AUTHENTICATION = 4290
    CONCURRENT_OPERATION = 4300
    CONFLICTING_NETWORK_SETTINGS = 4305
    DISCOVERED_WITH_ERROR = 4310
    HA_STATE = 4315
    INSUFFICIENT_ADDRESS_CAPACITY = 4320
    INSUFFICIENT_CAPACITY = 4325
    INSUFFICIENT_NETWORK_CAPACITY = 4330
    INSUFFICIENT_VIRTUAL_NETWORK_CAPACITY = 4331
    INSUFFICIENT_SERVER_CAPACITY = 4335
    INSUFFICIENT_STORAGE_CAPACITY = 4340
    INTERNAL_ERROR = 4345
    INVALID_PARAMETER_VALUE = 4350
    MANAGEMENT_SERVER = 4355
    NETWORK_RULE_CONFLICT = 4360
    PERMISSION_DENIED = 4365
    RESOURCE_ALLOCATION = 4370
    RESOURCE_IN_USE = 4375
    RESOURCE_UNAVAILABLE = 4380
    STORAGE_UNAVAILABLE = 4385
    UNSUPPORTED_SERVICE = 4390
    VIRTUAL_MACHINE_MIGRATION = 4395
    ASYNC_COMMAND_QUEUED = 4540
    REQUEST_LIMIT = 4545
    STORAGE_CONFLICT = 4550
    UNAVAILABLE_COMMAND = 4555
    # QUIRK(cloudstack): a ServerApiException raised on its own (no wrapped cause),
    # e.g. "missing parameter", malformed map syntax or an unparseable integer,
    # carries cserrorcode 9999, not 4350.
    SERVER_API = 9999


# Text the server uses for every failed signature/session/apiKey check (HTTP 401).
AUTH_FAILED_TEXT = "unable to verify user credentials and/or request signature"

# Text that replaces the real message of 530/533/534 errors for non-admin callers.
USER_ERROR_TEXT = "Internal error executing command, please contact your system administrator"

UuidRef = tuple[str, str | None]
"""One ``uuidList`` entry: (uuid, description such as ``"zoneId"``)."""


class CloudStackError(Exception):
    """An error to be rendered as CloudStack's error envelope.

    ``errorcode`` is also the HTTP status. ``cserrorcode`` is omitted from the
    body when None (CloudStack sends none on authentication failures).
    ``log_detail`` is for server logs only and never reaches the wire.
    """

    def __init__(
        self,
        errorcode: int,
        errortext: str,
        cserrorcode: int | None = None,
        uuid_list: Iterable[UuidRef] = (),
        *,
        log_detail: str | None = None,
    ) -> None:
        super().__init__(errortext)
        self.errorcode = int(errorcode)
        self.errortext = errortext
        self.cserrorcode = None if cserrorcode is None else int(cserrorcode)
        self.uuid_list: tuple[UuidRef, ...] = tuple(uuid_list)
        self.log_detail = log_detail

    def __repr__(self) -> str:
        return (
            f"CloudStackError({self.errorcode}, {self.errortext!r}, cserrorcode={self.cserrorcode})"
        )


def param_error(text: str, cserrorcode: int = CsErrorCode.SERVER_API) -> CloudStackError:
    """A 431 PARAM_ERROR; by default with the 9999 code of a bare ServerApiException."""
    return CloudStackError(ApiErrorCode.PARAM_ERROR, text, cserrorcode)


def auth_failed(log_detail: str | None = None) -> CloudStackError:
    """The 401 every failed credential check yields (no cserrorcode, fixed text)."""
    return CloudStackError(ApiErrorCode.UNAUTHORIZED, AUTH_FAILED_TEXT, None, log_detail=log_detail)
