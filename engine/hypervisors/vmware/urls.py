"""The host URL of the vSphere driver (pure parsing, no network).

One driver instance manages ONE ESXi host. The URL names the endpoint to log in
to (a vCenter Server or the ESXi host itself) and, optionally, which host::

    vmware://ENDPOINT[:PORT]/[DATACENTER[/CLUSTER[/HOST]]][?OPTIONS]
    vsphere://...                      same as vmware:// (https on the wire)
    https://ENDPOINT[:PORT]/...        the same, for CloudStack-style URLs
    http://ENDPOINT[:PORT]/...         plain http (test rigs only)

* Path parts are inventory names, percent-encoded where needed (``My%20DC``).
  A missing or empty part means "the first one found": ``vmware://vc/DC0//esx3``
  is host esx3 in any cluster of DC0, and ``vmware://esxi.example`` is the only
  host of a standalone ESXi. CLUSTER is the compute resource: a cluster's name, or
  for a standalone host under vCenter the host's own name.
* A leading ``sdk`` segment is ignored, so vcsim's ``https://127.0.0.1:8989/sdk``
  works as it is (the SOAP endpoint is always ``/sdk``).
* Credentials come from ``HostConnection.username``/``password``; user info in
  the URL (``vmware://user:pass@vc/...``) is used only when those are empty.
* OPTIONS: ``insecure=true`` turns TLS certificate verification OFF (self-signed
  certificates; verification is on by default); ``cafile=/path/ca.pem`` trusts an
  extra CA bundle; ``timeout=SECONDS`` bounds each vSphere task (default 300).
  Unknown options are rejected, so a typo cannot silently disable anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.errors import InvalidParameter

SCHEMES = frozenset({"vmware", "vsphere", "https", "http"})
DEFAULT_TASK_TIMEOUT = 300.0
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class VsphereTarget:
    """Where to log in and which host to manage (parsed from the host URL)."""

    endpoint: str
    port: int
    protocol: str = "https"
    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None
    insecure: bool = False
    cafile: str | None = None
    task_timeout: float = DEFAULT_TASK_TIMEOUT
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def _bad(url: str, reason: str) -> InvalidParameter:
    return InvalidParameter("url", _redacted(url), reason)


def _redacted(url: str) -> str:
    """The URL without any password (for error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def _flag(url: str, name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _bad(url, f"option {name} must be true or false, not {value!r}")


def parse_host_url(url: str) -> VsphereTarget:
    """Parse a vSphere host URL; ``InvalidParameter("url", ...)`` if it is malformed."""
    try:
        parts = urlsplit(url.strip())
        port_given = parts.port
    except ValueError as exc:
        raise _bad(url, str(exc)) from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _bad(url, f"scheme must be one of {', '.join(sorted(SCHEMES))}")
    if not parts.hostname:
        raise _bad(url, "no vCenter or ESXi address")
    protocol = "http" if scheme == "http" else "https"
    port = port_given or (80 if protocol == "http" else 443)

    names = [unquote(p) for p in parts.path.split("/")[1:]]
    if names and names[0].lower() == "sdk":
        names = names[1:]
    while names and not names[-1]:
        names.pop()
    if len(names) > 3:
        raise _bad(url, "path must be /DATACENTER/CLUSTER/HOST at most")
    datacenter, cluster, host = ([n or None for n in names] + [None, None, None])[:3]

    insecure, cafile, timeout = False, None, DEFAULT_TASK_TIMEOUT
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = key.lower()
        if name == "insecure":
            insecure = _flag(url, key, value)
        elif name == "cafile":
            cafile = value or None
        elif name == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                raise _bad(url, f"option timeout must be a number, not {value!r}") from None
            if timeout <= 0:
                raise _bad(url, "option timeout must be positive")
        else:
            raise _bad(url, f"unknown option {key!r} (known: insecure, cafile, timeout)")

    return VsphereTarget(
        endpoint=parts.hostname, port=port, protocol=protocol, datacenter=datacenter,
        cluster=cluster, host=host, insecure=insecure, cafile=cafile, task_timeout=timeout,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
