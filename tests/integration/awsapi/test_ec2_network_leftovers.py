"""EC2 network leftovers through boto3: address PTR records
(Modify/Reset/DescribeAddressesAttribute), DescribePrefixLists,
DescribeNetworkAcls (each VPC's default ACL), the route-table filter
route.state (blackhole routes), DescribeVpcs' dhcp-options-id filter and the
interface filter source-dest-check."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import (
    error_code,
    fresh_account_client,
    new_subnet,
    scratch_vpc,
)


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[Any]:
    yield from fresh_account_client(server, "netleft")


@pytest.fixture
def vpc(client: Any) -> Iterator[dict[str, Any]]:
    yield from scratch_vpc(client)


_subnet = new_subnet


# ------------------------------------------------------------- address PTR
def test_address_ptr_record_modify_describe_reset(client: Any) -> None:
    alloc = client.allocate_address(Domain="vpc")
    aid, ip = alloc["AllocationId"], alloc["PublicIp"]
    default = f"ec2-{ip.replace('.', '-')}.compute-1.amazonaws.com."
    try:
        shown = client.describe_addresses_attribute(AllocationIds=[aid],
                                                    Attribute="domain-name")["Addresses"]
        assert shown == [{"PublicIp": ip, "AllocationId": aid}]  # no record set

        out = client.modify_address_attribute(AllocationId=aid, DomainName="Mail.Example.com")
        assert out["Address"] == {
            "PublicIp": ip, "AllocationId": aid,
            "PtrRecordUpdate": {"Value": "mail.example.com.", "Status": "PENDING"}}
        out = client.modify_address_attribute(AllocationId=aid, DomainName="mx.example.com.")
        assert out["Address"]["PtrRecord"] == "mail.example.com."
        assert out["Address"]["PtrRecordUpdate"]["Value"] == "mx.example.com."
        shown = client.describe_addresses_attribute(AllocationIds=[aid],
                                                    Attribute="domain-name")["Addresses"]
        assert shown[0]["PtrRecord"] == "mx.example.com."
        # without Attribute, no record is shown
        assert "PtrRecord" not in client.describe_addresses_attribute(
            AllocationIds=[aid])["Addresses"][0]

        out = client.reset_address_attribute(AllocationId=aid, Attribute="domain-name")
        assert out["Address"]["PtrRecord"] == "mx.example.com."
        assert out["Address"]["PtrRecordUpdate"] == {"Value": default, "Status": "PENDING"}
        shown = client.describe_addresses_attribute(AllocationIds=[aid],
                                                    Attribute="domain-name")["Addresses"]
        assert "PtrRecord" not in shown[0]
    finally:
        client.release_address(AllocationId=aid)


def test_address_ptr_errors(client: Any) -> None:
    aid = client.allocate_address(Domain="vpc")["AllocationId"]
    try:
        with pytest.raises(ClientError) as err:
            client.modify_address_attribute(AllocationId=aid, DomainName="not a name")
        assert error_code(err) == "InvalidParameterValue"
        with pytest.raises(ClientError) as err:
            client.modify_address_attribute(AllocationId=aid)
        assert error_code(err) == "MissingParameter"
        with pytest.raises(ClientError) as err:
            client.reset_address_attribute(AllocationId=aid, Attribute="color")
        assert error_code(err) == "InvalidParameterValue"
        with pytest.raises(ClientError) as err:
            client.describe_addresses_attribute(AllocationIds=[aid], Attribute="color")
        assert error_code(err) == "InvalidParameterValue"
    finally:
        client.release_address(AllocationId=aid)
    with pytest.raises(ClientError) as err:
        client.modify_address_attribute(AllocationId="eipalloc-0123456789abcdef0",
                                        DomainName="a.example.com")
    assert error_code(err) == "InvalidAllocationID.NotFound"


def test_a_released_address_forgets_its_ptr_record(client: Any) -> None:
    alloc = client.allocate_address(Domain="vpc")
    client.modify_address_attribute(AllocationId=alloc["AllocationId"],
                                    DomainName="gone.example.com")
    client.release_address(AllocationId=alloc["AllocationId"])
    again = client.allocate_address(Domain="vpc", Address=alloc["PublicIp"])
    try:
        shown = client.describe_addresses_attribute(
            AllocationIds=[again["AllocationId"]], Attribute="domain-name")["Addresses"]
        assert shown == [{"PublicIp": alloc["PublicIp"], "AllocationId": again["AllocationId"]}]
    finally:
        client.release_address(AllocationId=again["AllocationId"])


# ------------------------------------------------------------ prefix lists
def test_prefix_lists_of_the_region(client: Any) -> None:
    lists = client.describe_prefix_lists()["PrefixLists"]
    by_name = {pl["PrefixListName"]: pl for pl in lists}
    assert set(by_name) == {"com.amazonaws.us-east-1.s3", "com.amazonaws.us-east-1.dynamodb"}
    for pl in lists:
        assert pl["PrefixListId"].startswith("pl-") and len(pl["PrefixListId"]) == 11
        assert pl["Cidrs"] and all(ipaddress.IPv4Network(c) for c in pl["Cidrs"])
    s3 = by_name["com.amazonaws.us-east-1.s3"]
    # stable ids, by id and by the documented filters
    assert client.describe_prefix_lists(PrefixListIds=[s3["PrefixListId"]])["PrefixLists"] \
        == [s3]
    assert client.describe_prefix_lists(Filters=[
        {"Name": "prefix-list-name", "Values": ["*.s3"]}])["PrefixLists"] == [s3]
    assert client.describe_prefix_lists(Filters=[
        {"Name": "prefix-list-id", "Values": [s3["PrefixListId"]]}])["PrefixLists"] == [s3]
    with pytest.raises(ClientError) as err:
        client.describe_prefix_lists(PrefixListIds=["pl-00000000"])
    assert error_code(err) == "InvalidPrefixListID.NotFound"
    with pytest.raises(ClientError) as err:
        client.describe_prefix_lists(Filters=[{"Name": "color", "Values": ["x"]}])
    assert error_code(err) == "InvalidParameterValue"


def test_prefix_lists_page(client: Any) -> None:
    first = client.describe_prefix_lists(MaxResults=5)
    assert len(first["PrefixLists"]) == 2 and "NextToken" not in first
    seen = [pl["PrefixListId"]
            for page in client.get_paginator("describe_prefix_lists").paginate(
                PaginationConfig={"PageSize": 5})
            for pl in page["PrefixLists"]]
    assert len(seen) == 2
    with pytest.raises(ClientError) as err:
        client.describe_prefix_lists(MaxResults=4)
    assert error_code(err) == "InvalidParameterValue"


# ------------------------------------------------------------- network ACLs
def test_each_vpc_has_a_default_network_acl(client: Any, vpc: dict[str, Any]) -> None:
    vid = vpc["VpcId"]
    one, two = _subnet(client, vpc, 0), _subnet(client, vpc, 1)
    acls = client.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vid]}])[
        "NetworkAcls"]
    assert len(acls) == 1
    acl = acls[0]
    assert acl["NetworkAclId"].startswith("acl-") and acl["IsDefault"] is True
    assert acl["VpcId"] == vid and acl["OwnerId"] == vpc["OwnerId"]
    assert {a["SubnetId"] for a in acl["Associations"]} == {one, two}
    assert all(a["NetworkAclId"] == acl["NetworkAclId"]
               and a["NetworkAclAssociationId"].startswith("aclassoc-")
               for a in acl["Associations"])
    assert sorted((e["Egress"], e["RuleNumber"], e["RuleAction"], e["Protocol"],
                   e["CidrBlock"]) for e in acl["Entries"]) == [
        (False, 100, "allow", "-1", "0.0.0.0/0"), (False, 32767, "deny", "-1", "0.0.0.0/0"),
        (True, 100, "allow", "-1", "0.0.0.0/0"), (True, 32767, "deny", "-1", "0.0.0.0/0")]
    aid = acl["NetworkAclId"]
    # by id, and the same ACL again (ids derive from the VPC)
    assert client.describe_network_acls(NetworkAclIds=[aid])["NetworkAcls"] == [acl]
    for name, values in (("network-acl-id", [aid]), ("default", ["true"]),
                         ("association.subnet-id", [one]),
                         ("association.network-acl-id", [aid]),
                         ("association.association-id",
                          [acl["Associations"][0]["NetworkAclAssociationId"]]),
                         ("entry.rule-number", ["32767"]), ("entry.rule-action", ["deny"]),
                         ("entry.egress", ["true"]), ("entry.cidr", ["0.0.0.0/0"]),
                         ("entry.protocol", ["-1"]), ("entry.protocol", ["all"]),
                         ("owner-id", [vpc["OwnerId"]])):
        got = client.describe_network_acls(Filters=[
            {"Name": "vpc-id", "Values": [vid]}, {"Name": name, "Values": values}])
        assert [a["NetworkAclId"] for a in got["NetworkAcls"]] == [aid], name
    for name, values in (("default", ["false"]), ("entry.rule-number", ["200"]),
                         ("entry.protocol", ["tcp"]), ("entry.port-range.from", ["22"]),
                         ("entry.icmp.type", ["8"]), ("entry.ipv6-cidr", ["::/0"]),
                         ("tag:Name", ["x"]), ("tag-key", ["Name"])):
        got = client.describe_network_acls(Filters=[
            {"Name": "vpc-id", "Values": [vid]}, {"Name": name, "Values": values}])
        assert got["NetworkAcls"] == [], name


def test_network_acl_errors_and_paging(client: Any, vpc: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        client.describe_network_acls(NetworkAclIds=["acl-0123456789abcdef0"])
    assert error_code(err) == "InvalidNetworkAclID.NotFound"
    with pytest.raises(ClientError) as err:
        client.describe_network_acls(Filters=[{"Name": "color", "Values": ["x"]}])
    assert error_code(err) == "InvalidParameterValue"
    other = client.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]
    try:
        every = [a["NetworkAclId"] for a in client.describe_network_acls()["NetworkAcls"]]
        assert len(every) >= 2
        paged: list[str] = []
        token = None
        while True:
            kw: dict[str, Any] = {"MaxResults": 5}
            if token:
                kw["NextToken"] = token
            page = client.describe_network_acls(**kw)
            assert len(page["NetworkAcls"]) <= 5
            paged += [a["NetworkAclId"] for a in page["NetworkAcls"]]
            token = page.get("NextToken")
            if not token:
                break
        assert paged == every
        assert f"acl-{other['VpcId'][4:]}" in every
    finally:
        client.delete_vpc(VpcId=other["VpcId"])


# ------------------------------------------------------ routes: route.state
def test_detached_gateway_routes_are_blackholes(client: Any, vpc: dict[str, Any]) -> None:
    vid = vpc["VpcId"]
    gid = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=gid, VpcId=vid)
    rtb = client.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    try:
        client.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=gid)

        def state_of(state: str) -> list[str]:
            return [t["RouteTableId"] for t in client.describe_route_tables(Filters=[
                {"Name": "vpc-id", "Values": [vid]},
                {"Name": "route.state", "Values": [state]}])["RouteTables"]]

        def shown() -> dict[str, str]:
            table = client.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
            return {r["DestinationCidrBlock"]: r["State"] for r in table["Routes"]}

        assert shown() == {vpc["CidrBlock"]: "active", "0.0.0.0/0": "active"}
        assert rtb in state_of("active") and rtb not in state_of("blackhole")
        client.detach_internet_gateway(InternetGatewayId=gid, VpcId=vid)
        assert shown() == {vpc["CidrBlock"]: "active", "0.0.0.0/0": "blackhole"}
        assert rtb in state_of("blackhole") and rtb in state_of("active")  # the local route
        client.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
        assert rtb not in state_of("blackhole")
    finally:
        client.delete_route_table(RouteTableId=rtb)
        client.delete_internet_gateway(InternetGatewayId=gid)


# ------------------------------------------------- VPCs: dhcp-options-id
def test_vpc_filter_dhcp_options_id_is_the_real_set(client: Any, vpc: dict[str, Any]) -> None:
    dopt = vpc["DhcpOptionsId"]
    assert dopt.startswith("dopt-")
    assert dopt == client.describe_dhcp_options()["DhcpOptions"][0]["DhcpOptionsId"]

    def listed(values: list[str]) -> list[str]:
        return [v["VpcId"] for v in client.describe_vpcs(Filters=[
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
            {"Name": "dhcp-options-id", "Values": values}])["Vpcs"]]

    assert listed([dopt]) == [vpc["VpcId"]]
    assert listed(["dopt-*"]) == [vpc["VpcId"]]
    assert listed(["default"]) == []
    assert listed(["dopt-0123456789abcdef0"]) == []


# ------------------------------------- interfaces: source-dest-check filter
def test_interface_filter_source_dest_check(client: Any, vpc: dict[str, Any]) -> None:
    subnet = _subnet(client, vpc, 2)
    eni = client.create_network_interface(SubnetId=subnet)["NetworkInterface"][
        "NetworkInterfaceId"]
    try:
        def listed(value: str) -> list[str]:
            return [n["NetworkInterfaceId"] for n in client.describe_network_interfaces(
                Filters=[{"Name": "subnet-id", "Values": [subnet]},
                         {"Name": "source-dest-check", "Values": [value]}])[
                "NetworkInterfaces"]]

        assert listed("true") == [eni] and listed("false") == []
        client.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                                  SourceDestCheck={"Value": False})
        assert listed("true") == [] and listed("false") == [eni]
    finally:
        client.delete_network_interface(NetworkInterfaceId=eni)
