"""A wire-level test double of XAPI (the XenServer / XCP-ng management API).

It speaks XAPI's real XML-RPC protocol on 127.0.0.1, so code under test uses the real
PyPI ``XenAPI`` client over HTTP. Start one in-process::

    with XapiDouble(user="root", password="secret") as xapi:
        session = XenAPI.Session(xapi.url)
        ...
        xapi.xapi.fail("VM.start", "HOST_NOT_ENOUGH_FREE_MEMORY", "1", "0")
        xapi.xapi.expire_sessions()

or as a process: ``python -m tests.xapi --port 0 --user root --password secret`` prints
``XAPI double listening on http://127.0.0.1:<port>/`` and serves until SIGTERM/SIGINT.
This is a protocol double, not xapi: see ``seed`` for what a fresh one holds.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from tests.xapi.seed import LOCAL_SR, STOCK_TEMPLATE, TEMPLATE, seed
from tests.xapi.server import Xapi, XapiServer
from tests.xapi.store import XapiError

__all__ = ["LOCAL_SR", "STOCK_TEMPLATE", "TEMPLATE", "Xapi", "XapiDouble", "XapiError"]


class XapiDouble:
    """A seeded ``Xapi`` served on a background thread; ``url`` is its endpoint."""

    def __init__(self, *, user: str = "root", password: str = "xenroot", port: int = 0,
                 **seed_options: Any) -> None:
        self.xapi = Xapi({user: password})
        seed(self.xapi, **seed_options)
        self.server = XapiServer(self.xapi, port)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"xapi-double-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
