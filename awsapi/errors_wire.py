"""The EC2 wire error: a code, a message and the HTTP status EC2 answers with.

Front-end code raises :class:`Ec2Error` for problems it detects itself (bad
signature, unknown parameter, malformed id ...). The mapping of engine errors
onto EC2 codes lives elsewhere (``awsapi.errors``); this module only knows the
wire vocabulary and the status each code travels with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

DEFAULT_STATUS: Final = 400

# EC2 answers every client error with 400 unless listed here. Server-class
# codes are the ones AWS's "Error codes for the Amazon EC2 API" page lists under
# "Server error codes" (they travel with a 5xx status).
STATUS_BY_CODE: Final[Mapping[str, int]] = MappingProxyType(
    {
        # QUIRK(ec2): authentication failures are 401, not the 403 other AWS
        # query services use (observed: "EC2ResponseError: 401 Unauthorized ...
        # AuthFailure"). MissingAuthenticationToken follows AuthFailure here;
        # AWS's generic common-errors page says 403, so confirm in conformance.
        "AuthFailure": 401,
        "MissingAuthenticationToken": 401,
        "SignatureDoesNotMatch": 403,
        "UnauthorizedOperation": 403,
        "OptInRequired": 403,
        "Blocked": 403,
        "DryRunOperation": 412,
        "IncompleteSignature": 400,
        "RequestExpired": 400,
        "InvalidAction": 400,
        "UnsupportedOperation": 400,
        "UnknownParameter": 400,
        "MissingParameter": 400,
        "InvalidParameterValue": 400,
        # server errors
        "InternalError": 500,
        "InternalFailure": 500,
        "ServerInternal": 500,
        "InsufficientAddressCapacity": 500,
        "InsufficientCapacity": 500,
        "InsufficientInstanceCapacity": 500,
        "InsufficientHostCapacity": 500,
        "InsufficientReservedInstanceCapacity": 500,
        "InsufficientVolumeCapacity": 500,
        "ServiceUnavailable": 503,
        "Unavailable": 503,
        "RequestLimitExceeded": 503,
    }
)


def status_for(code: str) -> int:
    """HTTP status EC2 sends with ``code`` (400 for any code not in the table)."""
    return STATUS_BY_CODE.get(code, DEFAULT_STATUS)


class Ec2Error(Exception):
    """An error to be rendered as an EC2 ``<Response><Errors>`` document.

    ``status`` defaults to :func:`status_for` ``(code)``. The message is sent to
    the client verbatim, so it must never contain secrets or internal detail.
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status_for(code) if status is None else status

    def __repr__(self) -> str:
        return f"Ec2Error({self.code!r}, {self.message!r}, status={self.status})"
