"""XAPI failures -> the engine's errors.

XAPI reports errors as ``XenAPI.Failure(details)`` with ``details == [CODE, *params]``
(codes from the XenAPI reference's error list); transport problems surface as
``OSError``/``http.client`` exceptions or ``xmlrpc.client.ProtocolError``/``Fault``.
"""

from __future__ import annotations

import functools
import http.client
import xmlrpc.client
from collections.abc import Callable
from typing import Any, TypeVar

import XenAPI  # type: ignore[import-untyped]

from engine.errors import (
    DriverError,
    EngineError,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unavailable,
)

DRIVER = "xenserver"
F = TypeVar("F", bound=Callable[..., Any])

# XAPI class of a HANDLE_INVALID/UUID_INVALID -> what the engine calls it.
_KINDS = {"VM": ResourceKind.INSTANCE, "VDI": ResourceKind.VOLUME, "VBD": ResourceKind.VOLUME,
          "host": ResourceKind.HOST, "SR": ResourceKind.STORAGE_POOL,
          "network": ResourceKind.NETWORK}

_CAPACITY = {"HOST_NOT_ENOUGH_FREE_MEMORY": ResourceKind.HOST,
             "HOST_NOT_ENOUGH_PCPUS": ResourceKind.HOST,
             "SR_FULL": ResourceKind.STORAGE_POOL,
             "SR_BACKEND_FAILURE_44": ResourceKind.STORAGE_POOL}

_UNAVAILABLE = {"HOST_OFFLINE", "HOST_STILL_BOOTING", "HOST_IS_SLAVE", "TOO_BUSY",
                "HOST_HAS_NO_MANAGEMENT_IP", "CANNOT_CONTACT_HOST"}


def code(exc: BaseException) -> str:
    """The XAPI error code of a ``XenAPI.Failure`` ('' for anything else)."""
    if isinstance(exc, XenAPI.Failure) and exc.details:
        return str(exc.details[0])
    return ""


def params(exc: BaseException) -> list[Any]:
    return list(exc.details[1:]) if isinstance(exc, XenAPI.Failure) else []


def translate(exc: BaseException, op: str, where: str = "") -> EngineError:
    """The engine error for a failure of ``op``; ``where`` names the host for messages."""
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, XenAPI.Failure):
        return _from_failure(exc, op)
    if isinstance(exc, OSError | http.client.HTTPException):
        return Unavailable(f"XenServer host {where}".strip())
    if isinstance(exc, xmlrpc.client.ProtocolError):
        return DriverError(DRIVER, op, f"HTTP {exc.errcode} {exc.errmsg} from {where}")
    if isinstance(exc, xmlrpc.client.Fault):
        return DriverError(DRIVER, op, f"XML-RPC fault {exc.faultCode}: {exc.faultString}")
    return DriverError(DRIVER, op, f"{type(exc).__name__}: {exc}")


def _from_failure(exc: XenAPI.Failure, op: str) -> EngineError:
    name, args = code(exc), [str(a) for a in params(exc)]
    if name in ("HANDLE_INVALID", "UUID_INVALID") and args and args[0] in _KINDS:
        return NotFound(_KINDS[args[0]], args[1] if len(args) > 1 else "")
    if name == "VM_BAD_POWER_STATE" and len(args) >= 3:
        return IncorrectState(ResourceKind.INSTANCE, args[0], args[2], [args[1]])
    if name in _CAPACITY:
        return InsufficientCapacity(_CAPACITY[name], " ".join([name, *args]))
    if name == "VDI_IN_USE":
        return InUse(ResourceKind.VOLUME, args[0] if args else "", "a running VM")
    if name in ("VM_IS_TEMPLATE", "MEMORY_CONSTRAINT_VIOLATION", "VALUE_NOT_SUPPORTED",
                "FIELD_TYPE_ERROR", "MAC_INVALID", "DEVICE_ALREADY_EXISTS"):
        return InvalidParameter(op, " ".join(args), name)
    if name in _UNAVAILABLE:
        return Unavailable(f"XenServer host ({name})")
    if name == "SESSION_AUTHENTICATION_FAILED":
        return DriverError(DRIVER, op, "authentication failed: wrong username or password")
    return DriverError(DRIVER, op, " ".join([name, *args]))


def guarded(op: str) -> Callable[[F], F]:
    """Decorate a driver method: XAPI and transport failures leave as engine errors."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except EngineError:
                raise
            except (XenAPI.Failure, OSError, http.client.HTTPException,
                    xmlrpc.client.Error) as exc:
                raise translate(exc, op, getattr(self, "where", "")) from exc

        return wrapper  # type: ignore[return-value]

    return decorate
