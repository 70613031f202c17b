"""The EC2 metadata layout built from an instance's neutral metadata (fakes, no DB)."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace as NS
from typing import Any

from engine.services.instance_metadata import AccessOptions, Interface
from engine.states import VolumeKind
from imds import tree
from imds.tree import Directory, listing, resolve


def _metadata(*, public: str | None = None, key: str | None = "ssh-ed25519 AAAAC3Nz",
              expose_tags: bool = False, user_data: bytes | None = b"hi") -> Any:
    network = NS(sid="a" * 17, cidr="172.31.0.0/20")
    nic = NS(sid="b" * 17, ip_address="172.31.0.7", mac_address="02:00:00:00:00:07",
             device_id=0, is_default=True)
    nic_detail = NS(nic=nic, network=network, vpc_sid="c" * 17,
                    public_ip=NS(address=public) if public else None)
    instance = NS(sid="d" * 17, launch_index=2, reservation_sid="e" * 17,
                  key_pair_name="mykey" if key else None, created_at=datetime(2024, 5, 6, 7, 8, 9))
    detail = NS(
        instance=instance, template=NS(sid="f" * 17, root_device_name="/dev/xvda", arch="x86_64"),
        zone=NS(name="us-east-1a"), offering=NS(name="t3.micro"), account=NS(number="123456789012"),
        security_groups=[NS(name="default", sid="1" * 17), NS(name="web", sid="2" * 17)],
        volumes=[NS(kind=VolumeKind.ROOT, device_id=0), NS(kind=VolumeKind.DATADISK, device_id=1)],
        affinity_groups=[], tags=[NS(key="Name", value="box"), NS(key="a/b", value="x")],
        nics=[nic_detail], primary_nic=nic_detail)
    return NS(detail=detail, region=NS(name="us-east-1"), public_key=key, user_data=user_data,
              access=AccessOptions(expose_tags=expose_tags),
              interfaces=(Interface(nic_detail, "172.31.0.0/16"),))  # type: ignore[arg-type]


def test_listing_marks_directories_and_has_no_final_newline() -> None:
    d = Directory({"b": "x", "a": Directory({}), "c": Directory({})}, labels={"c": "c=label"})
    assert listing(d) == "a/\nb\nc=label"
    assert listing(Directory({"x": Directory({})}, slashes=False)) == "x"


def test_resolve_ignores_trailing_and_double_slashes() -> None:
    root = Directory({"a": Directory({"b": "leaf"})})
    assert resolve(root, "a/b") == resolve(root, "a/b/") == resolve(root, "a//b") == "leaf"
    assert resolve(root, "") is root
    assert resolve(root, "a/b/c") is None
    assert resolve(root, "nope") is None


def test_meta_data_values() -> None:
    md = tree.meta_data(_metadata())
    get = lambda p: resolve(md, p)
    assert get("instance-id") == "i-" + "d" * 17
    assert get("ami-id") == "ami-" + "f" * 17
    assert get("ami-launch-index") == "2"
    assert get("reservation-id") == "r-" + "e" * 17
    assert get("local-ipv4") == "172.31.0.7"
    assert get("hostname") == get("local-hostname") == "ip-172-31-0-7.ec2.internal"
    assert get("security-groups") == "default\nweb"
    assert get("placement/availability-zone") == "us-east-1a"
    assert get("placement/region") == "us-east-1"
    assert get("placement/availability-zone-id") == "use1-az1"
    assert listing(get("block-device-mapping")) == "ami\nebs1\nroot"  # type: ignore[arg-type]
    assert get("block-device-mapping/ebs1") == "sdf"
    assert listing(get("public-keys")) == "0=mykey"  # type: ignore[arg-type]
    assert get("public-keys/0/openssh-key") == "ssh-ed25519 AAAAC3Nz mykey"
    assert "public-ipv4" not in md.entries and "tags" not in md.entries
    mac = get("network/interfaces/macs/02:00:00:00:00:07")
    assert isinstance(mac, Directory)
    assert mac.entries["vpc-id"] == "vpc-" + "c" * 17
    assert mac.entries["subnet-id"] == "subnet-" + "a" * 17
    assert mac.entries["vpc-ipv4-cidr-block"] == "172.31.0.0/16"
    assert mac.entries["security-group-ids"] == f"sg-{'1' * 17}\nsg-{'2' * 17}"
    assert "public-ipv4s" not in mac.entries


def test_public_address_keys_and_tags() -> None:
    md = tree.meta_data(_metadata(public="198.51.100.4", key=None, expose_tags=True))
    assert resolve(md, "public-ipv4") == "198.51.100.4"
    assert resolve(md, "network/interfaces/macs/02:00:00:00:00:07/ipv4-associations/"
                       "198.51.100.4") == "172.31.0.7"
    assert "public-keys" not in md.entries
    assert listing(resolve(md, "tags/instance")) == "Name"  # type: ignore[arg-type]


def test_version_tree_and_identity_document() -> None:
    v = tree.version_tree(_metadata())
    assert listing(v) == "dynamic\nmeta-data\nuser-data"
    assert resolve(v, "user-data") == b"hi"
    assert "user-data" not in tree.version_tree(_metadata(user_data=None)).entries
    text = resolve(v, "dynamic/instance-identity/document")
    assert isinstance(text, str) and '"region" : "us-east-1"' in text
    doc = json.loads(text)
    assert doc["pendingTime"] == "2024-05-06T07:08:09Z"
    assert doc["accountId"] == "123456789012" and doc["privateIp"] == "172.31.0.7"
    assert doc["ramdiskId"] is None and doc["version"] == "2017-09-30"
