"""One logged-in XAPI session through the PyPI ``XenAPI`` client, plus task waiting.

``XapiSession.call("VM.get_record", ref)`` sends the XML-RPC method with the session
ref prepended. Login is lazy. ``SESSION_INVALID`` (xapi restarted, session expired)
makes the client log in again and retry; if that still fails we log in afresh once.
``run("VM.start", ...)`` uses ``Async.VM.start`` and waits for the task by blocking on
``event.from`` for that task (polling ``task.get_status`` only if events are refused).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import xmlrpc.client
from typing import Any
from urllib.parse import urlsplit

import XenAPI  # type: ignore[import-untyped]

from engine.errors import InvalidParameter
from engine.hypervisors.base import HostConnection
from engine.hypervisors.xen.errors import code

ORIGINATOR = "nimbostack"
API_VERSION = "2.21"


class TaskTimeout(Exception):
    """The task was still running when the wait ended; ``task`` is still alive."""

    def __init__(self, task: str) -> None:
        super().__init__(task)
        self.task = task


class _Transport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> Any:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class _SafeTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float, context: ssl.SSLContext | None) -> None:
        super().__init__(context=context)
        self.timeout = timeout

    def make_connection(self, host: Any) -> Any:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def endpoint(url: str) -> str:
    """``http(s)://host[:port][/]`` -> the XML-RPC endpoint; InvalidParameter otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("url", url, "expected http(s)://host[:port] of a XenServer host")
    return f"{parts.scheme.lower()}://{parts.netloc}/"


def parse_task_result(result: str) -> Any:
    """A task's ``result`` field (the XML-RPC ``<value>`` of the return value) decoded."""
    if not result or not result.strip():
        return ""
    doc = f"<methodResponse><params><param>{result}</param></params></methodResponse>"
    return xmlrpc.client.loads(doc)[0][0]


class XapiSession:
    """A thread-safe, lazily logged-in session to one XAPI endpoint."""

    def __init__(self, conn: HostConnection, *, timeout: float = 60.0) -> None:
        self.url = endpoint(conn.url)
        self.username = conn.username or "root"
        self._password = conn.password or ""
        options = conn.extra.get("xenserver", {}) if conn.extra else {}
        self._verify = bool(options.get("verify_tls", True))
        self._timeout = float(options.get("timeout", timeout))
        self._lock = threading.RLock()
        self._session: XenAPI.Session | None = None
        self._events_ok = True

    # -- login -----------------------------------------------------------------------

    def _new_session(self) -> XenAPI.Session:
        if self.url.startswith("https"):
            ctx = None if self._verify else ssl._create_unverified_context()
            transport: xmlrpc.client.Transport = _SafeTransport(self._timeout, ctx)
        else:
            transport = _Transport(self._timeout)
        return XenAPI.Session(self.url, transport=transport)

    def login(self) -> None:
        """Log in (again); raises ``XenAPI.Failure`` SESSION_AUTHENTICATION_FAILED."""
        with self._lock:
            session = self._new_session()
            session.xenapi.login_with_password(self.username, self._password, API_VERSION,
                                               ORIGINATOR)
            self._session = session

    def logout(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                with contextlib.suppress(Exception):  # the session may be gone already
                    session.xenapi.session.logout()

    @property
    def logged_in(self) -> bool:
        return self._session is not None

    # -- calls -------------------------------------------------------------------------

    def call(self, method: str, *args: Any) -> Any:
        """Call ``Class.method`` with the session; re-login once if the session is lost."""
        with self._lock:
            if self._session is None:
                self.login()
            assert self._session is not None
            try:
                return self._session.xenapi_request(method, args)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode not in (401, 500) or "session" not in exc.faultString.lower():
                    raise
            self.login()
            return self._session.xenapi_request(method, args)

    def start_task(self, method: str, *args: Any) -> str:
        return str(self.call(f"Async.{method}", *args))

    def wait_task(self, task: str, timeout: float) -> Any:
        """Wait for ``task``; return its decoded result and destroy it.

        Raises ``XenAPI.Failure`` with the task's ``error_info`` if it failed (or
        ``TASK_CANCELLED``), ``TaskTimeout`` if it is still running at ``timeout``.
        """
        deadline = time.monotonic() + timeout
        token = self._event_token(task)
        while True:
            status = self.call("task.get_status", task)
            if status not in ("pending", "cancelling"):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TaskTimeout(task)
            token = self._wait_event(task, token, min(left, 30.0))
        try:
            if status == "success":
                return parse_task_result(self.call("task.get_result", task))
            info = self.call("task.get_error_info", task) or ["TASK_CANCELLED", task]
            raise XenAPI.Failure(info if status == "failure" else ["TASK_CANCELLED", task])
        finally:
            self.forget_task(task)

    def run(self, method: str, *args: Any, timeout: float) -> Any:
        """``Async.<method>`` and wait; on timeout cancel the task and raise TaskTimeout."""
        task = self.start_task(method, *args)
        try:
            return self.wait_task(task, timeout)
        except TaskTimeout:
            self.cancel_task(task)
            raise

    def cancel_task(self, task: str) -> None:
        try:
            self.call("task.cancel", task)
        except XenAPI.Failure:
            pass

    def forget_task(self, task: str) -> None:
        try:
            self.call("task.destroy", task)
        except XenAPI.Failure:
            pass

    # -- events ----------------------------------------------------------------------------

    def _from(self, classes: list[str], token: str, timeout: float) -> dict[str, Any]:
        return self.call("event.from", classes, token, float(timeout))  # type: ignore[no-any-return]

    def _event_token(self, task: str) -> str:
        if not self._events_ok:
            return ""
        try:
            return str(self._from([f"task/{task}"], "", 0.0)["token"])
        except XenAPI.Failure as exc:
            if code(exc) not in ("MESSAGE_METHOD_UNKNOWN", "EVENT_SUBSCRIPTION_PARSE_FAILURE"):
                raise
            self._events_ok = False
            return ""

    def _wait_event(self, task: str, token: str, timeout: float) -> str:
        """Block until the task changes (or ``timeout``); return the next token."""
        if not token:
            time.sleep(min(timeout, 0.1))
            return token
        return str(self._from([f"task/{task}"], token, timeout)["token"])
