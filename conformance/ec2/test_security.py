"""Key pairs (create rsa/ed25519, import, describe with fingerprints, delete)
and security groups with ingress/egress rules, their paginator and waiters."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from harness import unique


def _load_private(pem: str) -> Any:
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError:
        return serialization.load_ssh_private_key(pem.encode(), password=None)


def test_create_describe_delete_key_pairs(ec2: Any, wait: dict[str, float],
                                          cleanup: Any) -> None:
    for key_type in ("rsa", "ed25519"):
        name = unique(f"kp-{key_type}")
        made = ec2.create_key_pair(KeyName=name, KeyType=key_type, KeyFormat="pem")
        cleanup(lambda name=name: ec2.delete_key_pair(KeyName=name))
        assert made["KeyName"] == name and made["KeyPairId"].startswith("key-")
        key = _load_private(made["KeyMaterial"])
        if key_type == "rsa":
            assert isinstance(key, rsa.RSAPrivateKey)
            # AWS: SHA-1 of the DER PKCS#8 private key, colon-separated hex.
            der = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            digest = hashlib.sha1(der).hexdigest()
            assert made["KeyFingerprint"] == ":".join(
                digest[i:i + 2] for i in range(0, len(digest), 2))
        else:
            assert isinstance(key, ed25519.Ed25519PrivateKey)
        ec2.get_waiter("key_pair_exists").wait(KeyNames=[name], WaiterConfig=wait)
        (desc,) = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
        assert desc["KeyName"] == name and desc["KeyType"] == key_type
        assert desc["KeyFingerprint"] == made["KeyFingerprint"]
        assert desc["PublicKey"].startswith("ssh-")
        with pytest.raises(ClientError) as err:
            ec2.create_key_pair(KeyName=name)
        assert err.value.response["Error"]["Code"] == "InvalidKeyPair.Duplicate"
        ec2.delete_key_pair(KeyName=name)
        with pytest.raises(ClientError) as err:
            ec2.describe_key_pairs(KeyNames=[name])
        assert err.value.response["Error"]["Code"] == "InvalidKeyPair.NotFound"


def test_import_key_pair_fingerprint(ec2: Any, cleanup: Any) -> None:
    name = unique("kp-import")
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    openssh = public.public_bytes(serialization.Encoding.OpenSSH,
                                  serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=openssh)
    cleanup(lambda: ec2.delete_key_pair(KeyName=name))
    assert imported["KeyName"] == name and imported["KeyPairId"].startswith("key-")
    # AWS: base64 SHA-256 of the OpenSSH key blob for ed25519 (padding varies by tool).
    blob = base64.b64decode(openssh.split()[1])
    expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert imported["KeyFingerprint"].rstrip("=") == expected
    found = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [name]}])
    assert [k["KeyName"] for k in found["KeyPairs"]] == [name]
    ec2.delete_key_pair(KeyPairId=imported["KeyPairId"])


def _default_vpc(ec2: Any) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    return str(vpcs[0]["VpcId"])


def test_security_group_rules_lifecycle(ec2: Any, wait: dict[str, float],
                                        cleanup: Any) -> None:
    vpc = _default_vpc(ec2)
    name = unique("conf-sg")
    gid = ec2.create_security_group(GroupName=name, Description="conformance", VpcId=vpc,
                                    TagSpecifications=[{"ResourceType": "security-group",
                                                        "Tags": [{"Key": "Name",
                                                                  "Value": name}]}])["GroupId"]
    cleanup(lambda: ec2.delete_security_group(GroupId=gid))
    assert gid.startswith("sg-")
    ec2.get_waiter("security_group_exists").wait(GroupIds=[gid], WaiterConfig=wait)
    peer = ec2.create_security_group(GroupName=name + "-peer", Description="peer",
                                     VpcId=vpc)["GroupId"]
    cleanup(lambda: ec2.delete_security_group(GroupId=peer))
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName=name, Description="again", VpcId=vpc)
    assert err.value.response["Error"]["Code"] == "InvalidGroup.Duplicate"

    added = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "UserIdGroupPairs": [{"GroupId": peer}]}])
    assert added["Return"] is True and len(added["SecurityGroupRules"]) == 3
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert err.value.response["Error"]["Code"] == "InvalidPermission.Duplicate"
    egress = ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "IpRanges": [{"CidrIp": "10.0.0.2/32"}]}])
    assert egress["Return"] is True

    (sg,) = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]
    assert sg["GroupName"] == name and sg["VpcId"] == vpc and sg["Description"] == "conformance"
    ports = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in sg["IpPermissions"]}
    assert ports == {("tcp", 22, 22), ("icmp", -1, -1), ("tcp", 443, 443)}
    assert ("udp", 53, 53) in {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
                               for p in sg["IpPermissionsEgress"]}
    rules = ec2.describe_security_group_rules(Filters=[
        {"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    assert sum(not r["IsEgress"] for r in rules) == 3
    assert all(r["SecurityGroupRuleId"].startswith("sgr-") and r["GroupId"] == gid
               for r in rules)
    by_name = ec2.describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [gid]

    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    ssh_rule = [r["SecurityGroupRuleId"] for r in rules
                if not r["IsEgress"] and r.get("FromPort") == 443]
    ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=ssh_rule)
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "IpRanges": [{"CidrIp": "10.0.0.2/32"}]}])
    (sg,) = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]
    assert [p["IpProtocol"] for p in sg["IpPermissions"]] == ["icmp"]
    ec2.delete_security_group(GroupId=gid)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[gid])
    assert err.value.response["Error"]["Code"] == "InvalidGroup.NotFound"


def test_security_group_paginator(ec2: Any, cleanup: Any) -> None:
    vpc = _default_vpc(ec2)
    tag = unique("sgpage")
    gids = []
    for i in range(6):
        gid = ec2.create_security_group(
            GroupName=f"{tag}-{i}", Description="paging", VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": "page", "Value": tag}]}])["GroupId"]
        cleanup(lambda gid=gid: ec2.delete_security_group(GroupId=gid))
        gids.append(gid)
    pages = list(ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "tag:page", "Values": [tag]}], PaginationConfig={"PageSize": 5}))
    seen = [g["GroupId"] for p in pages for g in p["SecurityGroups"]]
    assert sorted(seen) == sorted(gids) and len(pages) == 2
    assert all(len(p["SecurityGroups"]) <= 5 for p in pages)
