"""Engine key pairs, security groups, rules and tags -> EC2 output dicts.

Keys are botocore member names. Security group rules are stored one per peer
(a CIDR or a source group); EC2's ``IpPermissions`` bundle the rules that share
protocol and ports, in the order their first rule was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from awsapi.ids import Kind, render
from awsapi.views import aware, tags
from engine.errors import ResourceKind
from engine.states import RuleDirection

if TYPE_CHECKING:
    from engine.models import KeyPair, SecurityGroup, SecurityRule, Tag
    from engine.services.key_pairs import KeyPairDetail
    from engine.services.security_groups import GroupDetail, RuleDetail

# Resources CreateTags/DescribeTags know: engine kind -> (EC2 id kind, EC2 resource type).
TAGGABLE: Final[dict[ResourceKind, tuple[Kind, str]]] = {
    ResourceKind.INSTANCE: (Kind.INSTANCE, "instance"),
    ResourceKind.VOLUME: (Kind.VOLUME, "volume"),
    ResourceKind.SNAPSHOT: (Kind.SNAPSHOT, "snapshot"),
    ResourceKind.TEMPLATE: (Kind.IMAGE, "image"),
    ResourceKind.SECURITY_GROUP: (Kind.SECURITY_GROUP, "security-group"),
    ResourceKind.SECURITY_RULE: (Kind.SECURITY_GROUP_RULE, "security-group-rule"),
    ResourceKind.KEY_PAIR: (Kind.KEY_PAIR, "key-pair"),
    ResourceKind.PUBLIC_IP: (Kind.ADDRESS, "elastic-ip"),
    ResourceKind.NETWORK: (Kind.SUBNET, "subnet"),
    ResourceKind.VPC: (Kind.VPC, "vpc"),
    ResourceKind.GATEWAY: (Kind.INTERNET_GATEWAY, "internet-gateway"),
    ResourceKind.ROUTE_TABLE: (Kind.ROUTE_TABLE, "route-table"),
    ResourceKind.NIC: (Kind.NETWORK_INTERFACE, "network-interface"),
}

# Engine protocol -> EC2 IpProtocol, and the names/numbers EC2 accepts for each.
# Other protocols are kept as their number ("50"), in and out.
PROTOCOL_OUT: Final[dict[str, str]] = {"tcp": "tcp", "udp": "udp", "icmp": "icmp",
                                       "icmpv6": "icmpv6", "all": "-1"}
PROTOCOL_IN: Final[dict[str, str]] = {
    **{str(n): str(n) for n in range(256)},
    "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmpv6", "58": "icmpv6", "-1": "all", "all": "all",
}


# ------------------------------------------------------------------ key pairs
def key_pair(d: KeyPairDetail, *, include_public: bool = False) -> dict[str, Any]:
    k = d.key_pair
    out = _key_pair_head(k, d.tags)
    out.update({"KeyType": k.key_type, "CreateTime": aware(k.created_at)})
    if include_public:
        out["PublicKey"] = k.public_key
    return out


def new_key_pair(k: KeyPair, pairs: Sequence[tuple[str, str]],
                 material: str | None = None) -> dict[str, Any]:
    """CreateKeyPair (with the private key, shown once) and ImportKeyPair output."""
    out = {"KeyPairId": render(Kind.KEY_PAIR, k.sid), "KeyName": k.name,
           "KeyFingerprint": k.fingerprint, "Tags": given_tags(pairs)}
    if material is not None:
        out["KeyMaterial"] = material
    return out


def _key_pair_head(k: KeyPair, tag_rows: list[Tag]) -> dict[str, Any]:
    return {"KeyPairId": render(Kind.KEY_PAIR, k.sid), "KeyName": k.name,
            "KeyFingerprint": k.fingerprint, "Tags": tags(tag_rows) or None}


def given_tags(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]] | None:
    """Tags as the request gave them (a repeated key keeps its last value)."""
    return [{"Key": k, "Value": v} for k, v in dict(pairs).items()] or None


# ------------------------------------------------------------ security groups
def group_arn(region: str, owner: str, group: SecurityGroup) -> str:
    return f"arn:aws:ec2:{region}:{owner}:security-group/{render(Kind.SECURITY_GROUP, group.sid)}"


def security_group(d: GroupDetail, *, region: str, vpc_id: str | None) -> dict[str, Any]:
    g = d.group
    return {
        "GroupId": render(Kind.SECURITY_GROUP, g.sid),
        "GroupName": g.name,
        "Description": g.description,
        "OwnerId": d.account.number,
        "VpcId": vpc_id,
        "IpPermissions": ip_permissions(d.ingress, d),
        "IpPermissionsEgress": ip_permissions(d.egress, d),
        "Tags": tags(d.tags) or None,
        "SecurityGroupArn": group_arn(region, d.account.number, g),
    }


def _ports(rule: SecurityRule) -> dict[str, int]:
    if rule.start_port is None and rule.protocol not in ("tcp", "udp", "icmp", "icmpv6"):
        return {}  # all protocols, or one given by number: no ports
    return {"FromPort": rule.start_port if rule.start_port is not None else -1,
            "ToPort": rule.end_port if rule.end_port is not None else -1}


def _described(item: dict[str, Any], description: str) -> dict[str, Any]:
    if description:
        item["Description"] = description
    return item


def ip_permissions(rules: list[SecurityRule], d: GroupDetail) -> list[dict[str, Any]]:
    """Rules bundled by (protocol, ports) as EC2 ``IpPermission`` items."""
    bundles: dict[tuple[object, ...], dict[str, Any]] = {}
    for r in rules:
        key = (r.protocol, r.start_port, r.end_port)
        perm = bundles.get(key)
        if perm is None:
            perm = bundles[key] = {"IpProtocol": PROTOCOL_OUT.get(r.protocol, r.protocol), **_ports(r),
                                   "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                   "UserIdGroupPairs": []}
        if r.cidr is not None and ":" in r.cidr:
            perm["Ipv6Ranges"].append(_described({"CidrIpv6": r.cidr}, r.description))
        elif r.cidr is not None:
            perm["IpRanges"].append(_described({"CidrIp": r.cidr}, r.description))
        elif r.source_group_uuid in d.peers:
            peer = d.peers[r.source_group_uuid]
            owner = d.peer_accounts[peer.account_uuid].number
            perm["UserIdGroupPairs"].append(_described(
                {"UserId": owner, "GroupId": render(Kind.SECURITY_GROUP, peer.sid)},
                r.description))
    return list(bundles.values())


def _rule_common(r: SecurityRule, group: SecurityGroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SecurityGroupRuleId": render(Kind.SECURITY_GROUP_RULE, r.sid),
        "GroupId": render(Kind.SECURITY_GROUP, group.sid),
        "IsEgress": r.direction == RuleDirection.EGRESS,
        "IpProtocol": PROTOCOL_OUT.get(r.protocol, r.protocol),
        "FromPort": -1 if r.start_port is None else r.start_port,
        "ToPort": -1 if r.end_port is None else r.end_port,
        "Description": r.description or None,
    }
    if r.cidr is not None:
        out["CidrIpv6" if ":" in r.cidr else "CidrIpv4"] = r.cidr
    return out


def security_group_rule(d: RuleDetail, *, region: str) -> dict[str, Any]:
    out = _rule_common(d.rule, d.group)
    owner = d.account.number
    out["GroupOwnerId"] = owner
    if d.peer is not None and d.peer_account is not None:
        out["ReferencedGroupInfo"] = {"GroupId": render(Kind.SECURITY_GROUP, d.peer.sid),
                                      "UserId": d.peer_account.number}
    out["Tags"] = tags(d.tags)
    out["SecurityGroupRuleArn"] = (f"arn:aws:ec2:{region}:{owner}:security-group-rule/"
                                   f"{out['SecurityGroupRuleId']}")
    return out


def revoked_rule(r: SecurityRule, d: GroupDetail) -> dict[str, Any]:
    out = _rule_common(r, d.group)
    peer = d.peers.get(r.source_group_uuid or "")
    if peer is not None:
        out["ReferencedGroupId"] = render(Kind.SECURITY_GROUP, peer.sid)
    return out


# ----------------------------------------------------------------------- tags
def tag_description(t: Tag, sid: str) -> dict[str, Any]:
    kind, type_name = TAGGABLE[t.resource_kind]
    return {"ResourceId": render(kind, sid), "ResourceType": type_name, "Key": t.key,
            "Value": t.value}
