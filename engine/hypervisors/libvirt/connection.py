"""Opening libvirt connections, translating libvirt errors, probing the host.

``open_connection`` maps failures onto the driver vocabulary: an unreachable host is
``Unavailable``, refused credentials are ``DriverError``. ``errors`` is the context
manager every driver operation runs in: libvirt errors become ``Unavailable`` when
the connection is dead, ``DriverError`` otherwise (engine errors pass through).
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import libvirt

from engine.errors import DriverError, EngineError, Unavailable
from engine.hypervisors.base import HostConnection

DRIVER = "kvm"
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # no stderr noise

_AUTH_ERRORS = frozenset(
    getattr(libvirt, n, -1)
    for n in ("VIR_ERR_AUTH_FAILED", "VIR_ERR_AUTH_CANCELLED", "VIR_ERR_AUTH_UNAVAILABLE")
)
_VIRT_FEATURES = frozenset({"vmx", "svm"})


def is_test_uri(url: str) -> bool:
    """True for libvirt's in-process test driver (``test:///default``, ``test:///file.xml``)."""
    return urlsplit(url).scheme.lower() == "test"


def is_local_uri(url: str) -> bool:
    """True if the libvirt daemon runs on this machine (files it writes are readable here)."""
    parts = urlsplit(url)
    transport = parts.scheme.partition("+")[2].lower()
    return transport in ("", "unix") and (parts.hostname or "localhost") in ("localhost", "")


def open_connection(conn: HostConnection) -> libvirt.virConnect:
    """A read-write connection to ``conn.url`` (with username/password when given)."""
    try:
        if conn.username or conn.password:
            creds = [libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE]

            def answer(requests: list[list[object]], _data: object) -> int:
                for req in requests:
                    if req[0] == libvirt.VIR_CRED_AUTHNAME:
                        req[4] = conn.username or ""
                    elif req[0] == libvirt.VIR_CRED_PASSPHRASE:
                        req[4] = conn.password or ""
                return 0

            opened = libvirt.openAuth(conn.url, [creds, answer, None], 0)
        else:
            opened = libvirt.open(conn.url)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in _AUTH_ERRORS:
            raise DriverError(DRIVER, "log in", str(exc)) from exc
        raise Unavailable(f"libvirt host {conn.url}") from exc
    if opened is None:  # older bindings returned None instead of raising
        raise Unavailable(f"libvirt host {conn.url}")
    return opened


@contextlib.contextmanager
def errors(current: Callable[[], libvirt.virConnect | None], op: str) -> Iterator[None]:
    """Translate libvirt errors raised inside the block into engine errors.

    ``current`` returns the connection in use (checked when an error happens): a dead
    or missing connection means ``Unavailable``, anything else ``DriverError``.
    """
    try:
        yield
    except EngineError:
        raise
    except libvirt.libvirtError as exc:
        lv, alive = current(), False
        with contextlib.suppress(libvirt.libvirtError):
            alive = lv is not None and lv.isAlive() == 1
        if not alive:
            raise Unavailable("libvirt host") from exc
        raise DriverError(DRIVER, op, str(exc)) from exc


def error_code(exc: libvirt.libvirtError) -> int:
    return int(exc.get_error_code() or 0)


def detect_domain_type(capabilities_xml: str) -> str:
    """"kvm" only if libvirt offers it AND the host CPU has vmx/svm; else "qemu"
    (or the only type offered, e.g. "test" on the test driver)."""
    caps = ET.fromstring(capabilities_xml)
    offered = {d.get("type", "") for d in caps.iterfind("guest/arch/domain")}
    features = {f.get("name", "") for f in caps.iterfind("host/cpu/feature")}
    if "kvm" in offered and features & _VIRT_FEATURES:
        return "kvm"
    if "qemu" in offered or not offered:
        return "qemu"
    return min(offered)


def version_string(number: int) -> str:
    """libvirt's packed version (major*1e6 + minor*1e3 + micro) as "major.minor.micro"."""
    major, rest = divmod(int(number), 1_000_000)
    minor, micro = divmod(rest, 1_000)
    return f"{major}.{minor}.{micro}"


def sanitize_name(text: str) -> str:
    """A string usable in a libvirt object name (pools, volumes)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)
