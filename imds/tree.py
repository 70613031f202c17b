"""An instance's metadata laid out as EC2's instance metadata tree (pure functions).

:func:`version_tree` builds the tree under one version (``latest/``):
``meta-data/``, ``dynamic/`` and ``user-data`` (only when the instance has
some). :func:`resolve` walks it; :func:`listing` renders a directory the way
EC2 does: one entry per line, no final newline, sub-directories with a trailing
``/`` (the version directory itself lists its three entries without one).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Union

from awsapi.devices import device_name
from awsapi.ids import Kind, render
from awsapi.views import private_dns, zone_id
from engine.states import VolumeKind
from imds import identity

if TYPE_CHECKING:
    from engine.services.instance_metadata import InstanceMetadata, Interface

# The metadata versions EC2 lists at the root; every one is served like ``latest``.
VERSIONS: Final = (
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
    "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25",
    "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28",
    "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23",
    "2021-07-15", "2022-09-24", "2024-04-11", "latest",
)
IDENTITY_VERSION: Final = "2017-09-30"

# A leaf is text, bytes, or a function making the text (called only when served).
Node = Union[str, bytes, "Directory", Callable[[], str]]


@dataclass
class Directory:
    """Entries by path segment; ``labels`` replace a segment (and its slash) in
    the listing only (``public-keys/`` lists ``0=<key name>`` for the segment ``0``)."""

    entries: dict[str, Node]
    labels: dict[str, str] = field(default_factory=dict)
    slashes: bool = True  # sub-directories listed with a trailing "/"


def listing(d: Directory) -> str:
    lines = []
    for name in sorted(d.entries):
        if name in d.labels:
            lines.append(d.labels[name])
        elif d.slashes and isinstance(d.entries[name], Directory):
            lines.append(name + "/")
        else:
            lines.append(name)
    return "\n".join(lines)


def resolve(root: Directory, path: str) -> Node | None:
    """The node at ``path`` (``a/b/`` and ``a/b`` are the same node), or None."""
    node: Node = root
    for part in (p for p in path.split("/") if p):
        if not isinstance(node, Directory) or part not in node.entries:
            return None
        node = node.entries[part]
    return node


def version_tree(m: InstanceMetadata, seed: Callable[[], bytes] | None = None) -> Directory:
    """The tree under one version; ``seed`` gives the identity signing key's
    seed (:mod:`imds.identity`), asked for only when a signature is served
    (without it there are no signatures)."""
    entries: dict[str, Node] = {"meta-data": meta_data(m), "dynamic": dynamic(m, seed)}
    if m.user_data is not None:
        entries["user-data"] = m.user_data
    return Directory(entries, slashes=False)


def meta_data(m: InstanceMetadata) -> Directory:
    d, i = m.detail, m.detail.instance
    primary = next((f for f in m.interfaces if f.detail.nic.is_default),
                   m.interfaces[0] if m.interfaces else None)
    private_ip = primary.detail.nic.ip_address if primary else ""
    public = primary.detail.public_ip if primary else None
    hostname = private_dns(private_ip)
    root_device = d.template.root_device_name
    devices: dict[str, Node] = {"ami": root_device, "root": root_device}
    data = [v for v in d.volumes if v.kind != VolumeKind.ROOT]
    for n, v in enumerate(data, start=1):
        devices[f"ebs{n}"] = device_name(v.device_id, v.kind).removeprefix("/dev/")
    placement: dict[str, Node] = {
        "availability-zone": d.zone.name,
        "availability-zone-id": zone_id(d.zone, m.region),
        "region": m.region.name,
    }
    if d.affinity_groups:
        placement["group-name"] = d.affinity_groups[0].name
    out: dict[str, Node] = {
        "ami-id": render(Kind.IMAGE, d.template.sid),
        "ami-launch-index": str(i.launch_index),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": Directory(devices),
        "hostname": hostname,
        "instance-action": "none",
        "instance-id": render(Kind.INSTANCE, i.sid),
        "instance-life-cycle": "on-demand",
        "instance-type": d.offering.name,
        "events": Directory({"maintenance": Directory({"history": "[]", "scheduled": "[]"})}),
        "local-hostname": hostname,
        "placement": Directory(placement),
        "profile": "default-hvm",
        "reservation-id": render(Kind.RESERVATION, i.reservation_sid),
        "security-groups": "\n".join(g.name for g in d.security_groups),
        "services": Directory({"domain": "amazonaws.com", "partition": "aws"}),
    }
    if primary is not None:
        out["local-ipv4"] = private_ip
        out["mac"] = primary.detail.nic.mac_address
        macs: dict[str, Node] = {f.detail.nic.mac_address: _interface(m, f) for f in m.interfaces}
        out["network"] = Directory({"interfaces": Directory({"macs": Directory(macs)})})
    if public is not None:
        out["public-ipv4"] = public.address
    if m.public_key and i.key_pair_name:
        out["public-keys"] = Directory(
            {"0": Directory({"openssh-key": _openssh_key(m.public_key, i.key_pair_name)})},
            labels={"0": f"0={i.key_pair_name}"})
    if m.access.expose_tags:
        # QUIRK(ec2): tag keys containing "/" are not exposed in metadata.
        out["tags"] = Directory({"instance": Directory(
            {t.key: t.value for t in d.tags if "/" not in t.key and t.key not in ("", ".", "..")})})
    return Directory(out)


def _interface(m: InstanceMetadata, f: Interface) -> Directory:
    d, nic, network = m.detail, f.detail.nic, f.detail.network
    hostname = private_dns(nic.ip_address)
    out: dict[str, Node] = {
        "device-number": str(nic.device_id),
        "interface-id": render(Kind.NETWORK_INTERFACE, nic.sid),
        "local-hostname": hostname,
        "local-ipv4s": nic.ip_address,
        "mac": nic.mac_address,
        "owner-id": d.account.number,
        "security-group-ids": "\n".join(render(Kind.SECURITY_GROUP, g.sid)
                                        for g in d.security_groups),
        "security-groups": "\n".join(g.name for g in d.security_groups),
        "subnet-id": render(Kind.SUBNET, network.sid),
        "subnet-ipv4-cidr-block": network.cidr,
        "vpc-id": render(Kind.VPC, f.detail.vpc_sid or network.sid),
        "vpc-ipv4-cidr-block": f.container_cidr,
        "vpc-ipv4-cidr-blocks": f.container_cidr,
    }
    if f.detail.public_ip is not None:
        address = f.detail.public_ip.address
        out["public-ipv4s"] = address
        out["ipv4-associations"] = Directory({address: nic.ip_address})
    return Directory(out)


def _openssh_key(public_key: str, name: str) -> str:
    """The key as EC2 serves it: ``<type> <base64> <comment>``, the key pair's
    name standing in for a missing comment."""
    parts = public_key.strip().split()
    if len(parts) == 2:
        parts.append(name)
    return " ".join(parts)


def dynamic(m: InstanceMetadata, seed: Callable[[], bytes] | None = None) -> Directory:
    document = identity_document(m)
    entries: dict[str, Node] = {"document": document}
    if seed is not None:
        entries["signature"] = lambda: identity.signature(seed(), document)
        entries["pkcs7"] = lambda: identity.pkcs7_signature(seed(), document)
    return Directory({"instance-identity": Directory(entries)})


def identity_document(m: InstanceMetadata) -> str:
    """The instance identity document: EC2's fields, pretty-printed as EC2 does."""
    d, i = m.detail, m.detail.instance
    primary = d.primary_nic
    launched = i.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "accountId": d.account.number,
        "architecture": d.template.arch,
        "availabilityZone": d.zone.name,
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": render(Kind.IMAGE, d.template.sid),
        "instanceId": render(Kind.INSTANCE, i.sid),
        "instanceType": d.offering.name,
        "kernelId": None,
        "pendingTime": launched,
        "privateIp": primary.nic.ip_address if primary else None,
        "ramdiskId": None,
        "region": m.region.name,
        "version": IDENTITY_VERSION,
    }
    return json.dumps(doc, indent=2, separators=(",", " : "))
