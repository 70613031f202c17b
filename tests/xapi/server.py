"""The XAPI double's dispatcher and XML-RPC server.

``Xapi`` answers XAPI calls exactly as they arrive on the wire (``"VM.start"`` with
``(session, *args)``): sessions, generic per-class accessors, hand-written semantics
(``vms``, ``storage``), ``Async.*`` tasks run on worker threads, and ``event.from``.
Results are ``{'Status': 'Success', 'Value': v}`` or
``{'Status': 'Failure', 'ErrorDescription': [code, ...]}``; integers go out as strings.

Test controls (Python only, not on the wire): ``fail``, ``expire_sessions``,
``settings`` (``task_delay``, ``guest_seconds``, ``guest_timeout``,
``guests_ignoring_acpi``) and the ``calls``/``logins`` counters.
"""

from __future__ import annotations

import collections
import inspect
import random
import socketserver
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape
from xmlrpc.client import DateTime
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from tests.xapi import storage, vms
from tests.xapi.schema import CLASS_BY_LOWER, CREATABLE, FIELDS, NAMED, READ_ONLY
from tests.xapi.store import Store, XapiError

Handler = Callable[..., Any]
_EPOCH = DateTime("19700101T00:00:00Z")


def wire(value: Any) -> Any:
    """A value as XAPI puts it on the XML-RPC wire (int64 as strings, no nil)."""
    if isinstance(value, bool | float | str | DateTime):
        return value
    if isinstance(value, int):
        return str(value)
    if value is None:
        return _EPOCH
    if isinstance(value, dict):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return str(value)


def _task_result(value: Any) -> str:
    """XAPI stores a task's result as the XML-RPC ``<value>`` of the return value."""
    return "" if value in ("", None) else f"<value>{escape(str(value))}</value>"


class Xapi:
    """One pool with one host: the state plus the call dispatcher."""

    def __init__(self, users: dict[str, str], address: str = "127.0.0.1") -> None:
        self.store = Store()
        self.users = dict(users)
        self.address = address
        self.sessions: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, Any] = {"task_delay": 0.0, "guest_seconds": 0.0,
                                         "guest_timeout": 30.0, "guests_ignoring_acpi": []}
        self.calls: collections.Counter[str] = collections.Counter()
        self.logins = 0
        self.next_domid = 0
        self.host = ""
        self._failures: dict[str, list[Any]] = {}
        self._local = threading.local()
        self._methods: dict[str, Handler] = {**vms.METHODS, **storage.METHODS}
        self._methods.update({"task.cancel": self._task_cancel, "event.from": self._event_from,
                              "pool.get_default_SR": lambda x, p: self.store.get("pool", p)[
                                  "default_SR"]})

    # -- helpers the semantics use -------------------------------------------------

    @staticmethod
    def now() -> DateTime:
        return DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime()))

    @staticmethod
    def random_mac() -> str:
        return "02:" + ":".join(f"{random.randrange(256):02x}" for _ in range(5))

    def default_sr(self) -> str:
        pool = next(iter(self.store.table("pool").values()))
        return str(pool["default_SR"])

    def current_task(self) -> str | None:
        return getattr(self._local, "task", None)

    def pause(self, seconds: float) -> None:
        """Let time pass with the lock released (for the store's lock holder)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.store.changed.wait(left)

    # -- test controls ---------------------------------------------------------------

    def fail(self, method: str, *description: str, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` (sync or Async) fail with ``description``."""
        with self.store.lock:
            self._failures[method] = [count, list(description) or ["INTERNAL_ERROR", "injected"]]

    def expire_sessions(self) -> int:
        """Forget every session (as a xapi restart does); return how many there were."""
        with self.store.lock:
            n = len(self.sessions)
            self.sessions.clear()
            return n

    # -- the wire entry point -----------------------------------------------------------

    def _dispatch(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        try:
            value = self.call(method, list(params))
            return {"Status": "Success", "Value": wire(value)}
        except XapiError as exc:
            return {"Status": "Failure", "ErrorDescription": exc.description}
        except Exception as exc:  # noqa: BLE001 - a server bug answers as xapi would
            traceback.print_exc()
            return {"Status": "Failure", "ErrorDescription": ["INTERNAL_ERROR", repr(exc)]}

    def call(self, method: str, params: list[Any]) -> Any:
        if method == "session.login_with_password":
            return self._login(*params[:2]) if len(params) >= 2 else self._count_error(method, 2)
        if not params or params[0] not in self.sessions:
            raise XapiError("SESSION_INVALID", params[0] if params else "")
        session, args = params[0], params[1:]
        with self.store.lock:
            self.calls[method] += 1
            if method == "session.logout":
                self.sessions.pop(session, None)
                return ""
            if method.startswith("Async."):
                inner = method[len("Async."):]
                handler = self._resolve(inner, args)
                return self._spawn(inner, handler, args)
            handler = self._resolve(method, args)
            self._injected(method)
            return handler(self, *args)

    def _count_error(self, method: str, expected: int) -> None:
        raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method, expected, 0)

    def _login(self, user: str, password: str) -> str:
        if self.users.get(user) != password:
            raise XapiError("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
        ref = f"OpaqueRef:{uuidlib.uuid4()}"
        with self.store.lock:
            self.sessions[ref] = {"uuid": str(uuidlib.uuid4()), "user": user,
                                  "started": time.time()}
            self.logins += 1
        return ref

    def _injected(self, method: str) -> None:
        armed = self._failures.get(method)
        if armed:
            armed[0] -= 1
            if armed[0] <= 0:
                del self._failures[method]
            raise XapiError(*armed[1])

    # -- resolving a method name ---------------------------------------------------------

    def _resolve(self, method: str, args: list[Any]) -> Handler:
        handler = self._methods.get(method) or self._generic(method)
        if handler is None:
            raise XapiError("MESSAGE_METHOD_UNKNOWN", method)
        try:
            inspect.signature(handler).bind(self, *args)
        except TypeError:
            expected = len(inspect.signature(handler).parameters) - 1
            raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method, expected,
                            len(args)) from None
        return handler

    def _generic(self, method: str) -> Handler | None:
        cls, _, op = method.partition(".")
        if cls not in FIELDS:
            return None
        s = self.store
        fields = FIELDS[cls]
        simple: dict[str, Handler] = {
            "get_all": lambda x: list(s.table(cls)),
            "get_all_records": lambda x: dict(s.table(cls)),
            "get_record": lambda x, ref: s.get(cls, ref),
            "get_by_uuid": lambda x, value: s.by_uuid(cls, value),
            "get_uuid": lambda x, ref: s.get(cls, ref)["uuid"],
        }
        if cls in NAMED:
            simple["get_by_name_label"] = lambda x, label: s.where(cls, name_label=label)
        if cls in CREATABLE:
            simple["create"] = lambda x, record: s.create(cls, dict(record))
        if cls in CREATABLE or cls == "task":
            simple["destroy"] = lambda x, ref: self._destroy(cls, ref)
        if op in simple:
            return simple[op]
        for prefix in ("get_", "set_", "add_to_", "remove_from_"):
            if not op.startswith(prefix):
                continue
            field = op[len(prefix):]
            if field not in fields or (prefix != "get_" and field in READ_ONLY):
                return None
            if prefix == "get_":
                return lambda x, ref: s.get(cls, ref)[field]
            if prefix == "set_":
                return lambda x, ref, value: s.update(cls, ref, **{field: value}) and ""
            if not isinstance(fields[field], dict):
                return None
            if prefix == "add_to_":
                return lambda x, ref, key, value: self._map_add(cls, ref, field, key, value)
            return lambda x, ref, key: self._map_remove(cls, ref, field, key)
        return None

    def _destroy(self, cls: str, ref: str) -> str:
        self.store.destroy(cls, ref)
        return ""

    def _map_add(self, cls: str, ref: str, field: str, key: str, value: str) -> str:
        current = dict(self.store.get(cls, ref)[field])
        if key in current:
            raise XapiError("MAP_DUPLICATE_KEY", cls, field, ref, key)
        current[key] = value
        self.store.update(cls, ref, **{field: current})
        return ""

    def _map_remove(self, cls: str, ref: str, field: str, key: str) -> str:
        current = dict(self.store.get(cls, ref)[field])
        current.pop(key, None)
        self.store.update(cls, ref, **{field: current})
        return ""

    # -- tasks ----------------------------------------------------------------------------

    def _spawn(self, method: str, handler: Handler, args: list[Any]) -> str:
        task = self.store.create("task", {
            "name_label": f"Async.{method}", "created": self.now(), "status": "pending",
            "resident_on": self.host})
        thread = threading.Thread(target=self._run_task, args=(task, method, handler, args),
                                  name=f"xapi-task-{method}", daemon=True)
        thread.start()
        return task

    def _run_task(self, task: str, method: str, handler: Handler, args: list[Any]) -> None:
        time.sleep(self.settings["task_delay"])
        with self.store.lock:
            self._local.task = task
            try:
                self._injected(method)
                result = handler(self, *args)
                fields: dict[str, Any] = {"result": _task_result(wire(result))}
                status = "success"
            except XapiError as exc:
                status, fields = "failure", {"error_info": exc.description}
            except Exception as exc:  # noqa: BLE001
                status, fields = "failure", {"error_info": ["INTERNAL_ERROR", repr(exc)]}
            finally:
                self._local.task = None
            if self.store.exists("task", task):
                if fields.get("error_info", [""])[0] == "TASK_CANCELLED":
                    status = "cancelled"
                self.store.update("task", task, status=status, progress=1.0,
                                  finished=self.now(), **fields)

    def _task_cancel(self, x: Xapi, task: str) -> str:
        rec = self.store.get("task", task)
        if rec["status"] == "pending":
            self.store.update("task", task, status="cancelling")
        return ""

    # -- events -------------------------------------------------------------------------

    def _event_from(self, x: Xapi, classes: list[str], token: str, timeout: float) -> Any:
        wanted = []
        for item in classes:
            name, _, ref = item.partition("/")
            if name != "*" and name.lower() not in CLASS_BY_LOWER:
                raise XapiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", item)
            wanted.append((name.lower(), ref))

        def matches(ev: dict[str, Any]) -> bool:
            return any(c in ("*", ev["class"]) and (not r or r == ev["ref"]) for c, r in wanted)

        if token == "":
            events = [{"id": self.store.token(), "class": cls.lower(), "operation": "add",
                       "ref": ref, "snapshot": rec}
                      for cls, table in self.store.tables.items() for ref, rec in table.items()]
            return {"events": [e for e in events if matches(e)], "valid_ref_counts": {},
                    "token": self.store.token()}
        if not token.isdigit():
            raise XapiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token)
        since, deadline = int(token), time.monotonic() + float(timeout)
        while True:
            found = [e for e in self.store.events if int(e["id"]) > since and matches(e)]
            left = deadline - time.monotonic()
            if found or left <= 0:
                return {"events": found, "valid_ref_counts": {}, "token": self.store.token()}
            self.store.changed.wait(min(left, 1.0))


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2", "/json")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class XapiServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """Threaded XML-RPC server on 127.0.0.1 serving one ``Xapi``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, xapi: Xapi, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), requestHandler=_Handler, allow_none=True,
                         logRequests=False)
        self.xapi = xapi
        self.register_instance(xapi)
