"""Logging in to vSphere, waiting for tasks, reading properties, mapping faults.

Everything that talks to the SOAP endpoint goes through a ``VsphereSession``;
every vim fault or transport error leaves this package as an engine error via
``translate`` (see ``engine.hypervisors.base`` for the error contract).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from engine.errors import (
    DriverError,
    EngineError,
    IncorrectState,
    InsufficientCapacity,
    NotFound,
    ResourceKind,
    Unavailable,
)
from engine.hypervisors.vmware.urls import VsphereTarget

DRIVER = "vmware"
HTTP_TIMEOUT = 60.0  # seconds for one SOAP round trip
PC = vmodl.query.PropertyCollector

_CAPACITY_FAULTS = (vim.fault.InsufficientResourcesFault, vim.fault.NoDiskSpace,
                    vim.fault.OutOfBounds)
_STATE_FAULTS = (vim.fault.InvalidPowerState, vim.fault.InvalidState)


def _message(fault: Any) -> str:
    text = getattr(fault, "msg", None) or ""
    return text or type(fault).__name__.rsplit(".", 1)[-1]


def translate(exc: BaseException, op: str, ident: str = "") -> EngineError:
    """The engine error for a vSphere fault or transport error raised during ``op``."""
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, vmodl.fault.ManagedObjectNotFound):
        return NotFound(ResourceKind.INSTANCE, ident or _message(exc))
    if isinstance(exc, vim.fault.FileNotFound):
        return NotFound(ResourceKind.VOLUME, getattr(exc, "file", "") or ident)
    if isinstance(exc, _STATE_FAULTS):
        return IncorrectState(ResourceKind.INSTANCE, ident, _message(exc))
    if isinstance(exc, _CAPACITY_FAULTS):
        return InsufficientCapacity(ResourceKind.HOST, _message(exc))
    if isinstance(exc, vim.fault.InvalidLogin):
        return DriverError(DRIVER, op, "invalid user name or password")
    if isinstance(exc, vim.fault.NotAuthenticated):
        return Unavailable(f"vSphere session ({op}: the session expired)")
    if isinstance(exc, vmodl.MethodFault):
        return DriverError(DRIVER, op, f"{type(exc).__name__}: {_message(exc)}")
    if isinstance(exc, ssl.SSLError):
        # Certificate problems are configuration errors, not outages.
        return DriverError(DRIVER, op, f"TLS: {exc} (add ?insecure=true or ?cafile=...)")
    if isinstance(exc, (OSError, http.client.HTTPException, socket.timeout)):
        return Unavailable(f"vSphere endpoint ({op}: {exc})")
    return DriverError(DRIVER, op, f"{type(exc).__name__}: {exc}")


@contextmanager
def faults(op: str, ident: str = "") -> Iterator[None]:
    """Translate whatever the block raises into engine errors."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        raise translate(exc, op, ident) from exc


def _ssl_context(target: VsphereTarget) -> ssl.SSLContext:
    if target.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    # Always an explicit context: pyvmomi silently skips verification for localhost.
    return ssl.create_default_context(cafile=target.cafile)


class VsphereSession:
    """One logged-in SOAP session; reconnects lazily after ``close``."""

    def __init__(self, target: VsphereTarget, username: str, password: str) -> None:
        self.target = target
        self._username, self._password = username, password
        self._si: Any = None
        self._content: Any = None

    @property
    def si(self) -> Any:
        """The ServiceInstance, logging in first if needed."""
        if self._si is None:
            t = self.target
            with faults("log in"):
                kwargs: dict[str, Any] = {"httpConnectionTimeout": HTTP_TIMEOUT}
                if t.protocol == "https":
                    kwargs["sslContext"] = _ssl_context(t)
                self._si = SmartConnect(protocol=t.protocol, host=t.endpoint, port=t.port,
                                        user=self._username, pwd=self._password, **kwargs)
        return self._si

    @property
    def content(self) -> Any:
        """The ServiceContent (fetched once per session: every read is a round trip)."""
        if self._content is None:
            with faults("log in"):
                self._content = self.si.RetrieveContent()
        return self._content

    def close(self) -> None:
        si, self._si, self._content = self._si, None, None
        if si is not None:
            with contextlib.suppress(Exception):  # the session may already be dead
                Disconnect(si)

    # -- properties -----------------------------------------------------------------

    def props(self, obj: Any, paths: Sequence[str]) -> dict[str, Any] | None:
        """Properties of one managed object; None if it no longer exists."""
        spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=obj)],
                             propSet=[PC.PropertySpec(type=type(obj), pathSet=list(paths))])
        try:
            found = self.content.propertyCollector.RetrieveContents([spec])
        except vmodl.fault.ManagedObjectNotFound:
            return None
        if not found:
            return None
        return {p.name: p.val for p in found[0].propSet}

    def collect(self, root: Any, kind: type, paths: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
        """``(object, properties)`` of every ``kind`` object below ``root``."""
        view = self.content.viewManager.CreateContainerView(root, [kind], True)
        try:
            spec = PC.FilterSpec(
                objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[PC.TraversalSpec(
                    name="view", type=vim.view.ContainerView, path="view", skip=False)])],
                propSet=[PC.PropertySpec(type=kind, pathSet=list(paths))])
            found = self.content.propertyCollector.RetrieveContents([spec])
        finally:
            with contextlib.suppress(Exception):  # cleanup only
                view.DestroyView()
        return [(o.obj, {p.name: p.val for p in o.propSet}) for o in found
                if not o.missingSet]

    # -- tasks --------------------------------------------------------------------------

    def wait(self, task: Any, op: str, ident: str = "", timeout: float | None = None) -> Any:
        """Wait for a task; return its result or raise its fault as an engine error.

        Reads only ``info.state``/``info.error``/``info.result`` (never ``info``: vcsim
        sets snapshot entities pyvmomi cannot parse). ``DriverError`` on timeout.
        """
        limit = self.target.task_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        delay = 0.01
        while True:
            with faults(op, ident):
                state = self.props(task, ["info.state", "info.error"]) or {}
            if state.get("info.state") == "success":
                with faults(op, ident):
                    return (self.props(task, ["info.result"]) or {}).get("info.result")
            if state.get("info.state") == "error":
                raise translate(state.get("info.error") or RuntimeError("task failed"),
                                op, ident)
            if time.monotonic() > deadline:
                raise DriverError(DRIVER, op, f"task did not finish within {limit:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def run(self, op: str, ident: str, start: Any, *args: Any, **kwargs: Any) -> Any:
        """Start a task with ``start(*args, **kwargs)`` and wait for it."""
        with faults(op, ident):
            task = start(*args, **kwargs)
        return self.wait(task, op, ident)
