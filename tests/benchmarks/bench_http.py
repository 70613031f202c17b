"""Signed raw EC2 Query requests over keep-alive HTTP connections.

boto3 costs about 2 ms a call plus about 0.5 ms per instance it parses, which
would hide a fast server, so the timed calls go through this thin client: the
form body is built by hand, signed with botocore's SigV4 signer and sent with
``http.client``; the response body is read in full but only scanned with
regular expressions. The same code drives nimbostack and moto.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EC2_VERSION = "2016-11-15"
_NEXT_TOKEN = re.compile(rb"<nextToken>([^<]+)</nextToken>")
_INSTANCE_ID = re.compile(rb"<instanceId>(i-[0-9a-f]+)</instanceId>")
_CODE = re.compile(rb"<Code>([^<]+)</Code>")


class Ec2CallError(RuntimeError):
    """A non-2xx answer: ``status`` and the EC2 error ``code`` (if any)."""

    def __init__(self, action: str, status: int, body: bytes) -> None:
        match = _CODE.search(body)
        self.status = status
        self.code = match.group(1).decode() if match else ""
        super().__init__(f"{action}: HTTP {status} {self.code} {body[:300]!r}")


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens and the keys to sign with."""

    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def instance_ids(body: bytes) -> list[str]:
    """The distinct instance ids of a DescribeInstances/RunInstances body, in order."""
    return list(dict.fromkeys(m.decode() for m in _INSTANCE_ID.findall(body)))


def next_token(body: bytes) -> str | None:
    """The ``nextToken`` of a paged answer, or None on the last page."""
    match = _NEXT_TOKEN.search(body)
    return match.group(1).decode() if match else None


def filter_params(filters: Mapping[str, list[str]]) -> dict[str, str]:
    """EC2's flattened ``Filter.N.Name`` / ``Filter.N.Value.M`` form of a filter dict."""
    out: dict[str, str] = {}
    for n, (name, values) in enumerate(filters.items(), start=1):
        out[f"Filter.{n}.Name"] = name
        for m, value in enumerate(values, start=1):
            out[f"Filter.{n}.Value.{m}"] = value
    return out


class Ec2Connection:
    """One keep-alive connection that sends signed EC2 Query calls (not thread-safe)."""

    def __init__(self, endpoint: Endpoint, timeout: float = 600.0) -> None:
        parts = urlsplit(endpoint.url)
        self._endpoint = endpoint
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout
        self._signer = SigV4Auth(Credentials(endpoint.access_key, endpoint.secret_key),
                                 "ec2", endpoint.region)
        self._conn: http.client.HTTPConnection | None = None
        self._last: tuple[tuple[Any, int], tuple[bytes, dict[str, str]]] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def signed(self, action: str, params: Mapping[str, str] | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a freshly signed call (SigV4, Authorization header).

        A SigV4 signature covers the request and its ``X-Amz-Date``, which has a
        resolution of one second, and nothing else (no nonce): signing the same
        call again within the same second gives the same bytes. So the last
        call's signature is reused while the clock stays in its second, which
        spares a client sending one call back to back most of its CPU without
        changing a byte on the wire.
        """
        form = {"Action": action, "Version": EC2_VERSION, **(params or {})}
        key = (tuple(form.items()), int(time.time()))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        body = urlencode(form)
        req = AWSRequest(method="POST", url=self._endpoint.url.rstrip("/") + "/", data=body,
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded; charset=utf-8"})
        self._signer.add_auth(req)
        if int(time.time()) != key[1]:
            key = (key[0], -1)  # the second ended while signing: do not reuse
        signed = body.encode(), {k: str(v) for k, v in req.headers.items()}
        self._last = (key, signed)
        return signed

    def call(self, action: str, params: Mapping[str, str] | None = None) -> bytes:
        """Send one signed call and return the whole body; raises Ec2CallError on non-2xx."""
        body, headers = self.signed(action, params)
        status, payload = self._send(body, headers)
        if not 200 <= status < 300:
            raise Ec2CallError(action, status, payload)
        return payload

    def timed(self, action: str, params: Mapping[str, str] | None = None) -> tuple[float, bytes]:
        """(seconds from first byte sent to last byte read, body); signing is not timed."""
        body, headers = self.signed(action, params)
        start = time.perf_counter()
        status, payload = self._send(body, headers)
        elapsed = time.perf_counter() - start
        if not 200 <= status < 300:
            raise Ec2CallError(action, status, payload)
        return elapsed, payload

    def _send(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port,
                                                        timeout=self._timeout)
            try:
                self._conn.request("POST", "/", body=body, headers=headers)
                resp = self._conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, payload
            except (ConnectionError, http.client.HTTPException, OSError):
                # A keep-alive connection the server closed while idle: reconnect once.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def describe_all(conn: Ec2Connection, page_size: int,
                 filters: Mapping[str, list[str]] | None = None) -> tuple[float, int, int]:
    """Page through DescribeInstances; returns (seconds on the wire, instances, pages)."""
    total = 0.0
    seen = 0
    pages = 0
    token: str | None = None
    while True:
        params = {"MaxResults": str(page_size), **filter_params(filters or {})}
        if token:
            params["NextToken"] = token
        elapsed, body = conn.timed("DescribeInstances", params)
        total += elapsed
        pages += 1
        seen += len(instance_ids(body))
        token = next_token(body)
        if not token:
            return total, seen, pages


@dataclass(frozen=True)
class Throughput:
    connections: int
    seconds: float
    ok: int
    errors: int
    client_cpu_s: float = 0.0  # CPU the client process spent in the timed loop

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def throughput(endpoint: Endpoint, action: str, *, connections: int, seconds: float,
               params: Mapping[str, str] | None = None) -> Throughput:
    """wrk-style closed loop: ``connections`` threads, each on its own keep-alive
    connection, send freshly signed calls back to back for ``seconds``.

    The client shares the machine with the server, so what matters is its CPU
    per call: signatures are reused within their second (see
    :meth:`Ec2Connection.signed`), which leaves ``http.client`` as its main
    cost, and ``client_cpu_s`` reports what the loop spent. Threads of one
    process cost less CPU per call than one process per connection (measured
    on two cores: about 0.3 against 0.45 ms), so threads it is.
    """
    counts = [[0, 0] for _ in range(connections)]
    start_gate = threading.Barrier(connections + 1)
    deadline = [0.0]

    def worker(slot: list[int]) -> None:
        conn = Ec2Connection(endpoint, timeout=30.0)
        conn.call(action, params)  # open the connection before the clock starts
        start_gate.wait()
        while time.perf_counter() < deadline[0]:
            try:
                conn.call(action, params)
                slot[0] += 1
            except (Ec2CallError, OSError, http.client.HTTPException):
                slot[1] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in counts]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds + 3600  # released below
    start_gate.wait()
    begin = time.perf_counter()
    cpu = time.process_time()
    deadline[0] = begin + seconds
    for t in threads:
        t.join()
    took = time.perf_counter() - begin
    return Throughput(connections, took, sum(c[0] for c in counts), sum(c[1] for c in counts),
                      time.process_time() - cpu)
