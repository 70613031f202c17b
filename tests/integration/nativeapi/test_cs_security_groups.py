"""Security groups and their rules through the CloudStack API (cs and libcloud)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack, CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from nativeapi import registry


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def _name() -> str:
    return f"sg-{uuid.uuid4().hex[:8]}"


def test_create_starts_with_no_rules_and_names_are_unique(cs_user: CloudStack,
                                                          user: Any) -> None:
    name = _name()
    group = cs_user.createSecurityGroup(name=name, description="web tier")["securitygroup"]
    assert (group["name"], group["description"], group["account"]) == (name, "web tier",
                                                                       user.name)
    assert group["ingressrule"] == [] and group["egressrule"] == []
    assert group["virtualmachinecount"] == 0
    assert registry.response_type_errors(registry.metadata("listSecurityGroups"), group) == []
    err = _error(cs_user.createSecurityGroup, name=name)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    [listed] = cs_user.listSecurityGroups(securitygroupname=name)["securitygroup"]
    assert listed["id"] == group["id"]
    assert cs_user.listSecurityGroups(keyword=name[3:])["count"] == 1
    assert cs_user.deleteSecurityGroup(name=name) == {"success": True}
    assert cs_user.listSecurityGroups(securitygroupname=name) == {}


def test_authorize_and_revoke_rules(cs_user: CloudStack, cs_submit: CloudStack,
                                    user: Any, make_cs: Any) -> None:
    group = cs_user.createSecurityGroup(name=_name())["securitygroup"]
    peer = cs_user.createSecurityGroup(name=_name())["securitygroup"]
    added = cs_user.authorizeSecurityGroupIngress(
        securitygroupid=group["id"], protocol="TCP", startport=22, endport=22,
        cidrlist="10.0.0.0/8,192.168.0.0/16")["securitygroup"]
    assert added["id"] == group["id"] and added["egressrule"] == []
    assert [(r["protocol"], r["startport"], r["endport"], r["cidr"])
            for r in added["ingressrule"]] == [("tcp", 22, 22, "10.0.0.0/8"),
                                               ("tcp", 22, 22, "192.168.0.0/16")]
    icmp = cs_user.authorizeSecurityGroupIngress(
        securitygroupname=group["name"], protocol="icmp", icmptype=8, icmpcode=0,
        **{"usersecuritygrouplist[0].account": user.name,
           "usersecuritygrouplist[0].group": peer["name"]})["securitygroup"]["ingressrule"]
    assert icmp == [{"ruleid": icmp[0]["ruleid"], "protocol": "icmp", "icmptype": 8,
                     "icmpcode": 0, "securitygroupname": peer["name"], "account": user.name,
                     "tags": []}]
    egress = cs_user.authorizeSecurityGroupEgress(
        securitygroupid=group["id"], protocol="all", cidrlist="0.0.0.0/0")["securitygroup"]
    assert [(r["protocol"], r["cidr"]) for r in egress["egressrule"]] == [("all", "0.0.0.0/0")]
    assert "startport" not in egress["egressrule"][0]

    [full] = cs_user.listSecurityGroups(id=group["id"])["securitygroup"]
    assert len(full["ingressrule"]) == 3 and len(full["egressrule"]) == 1
    err = _error(cs_user.authorizeSecurityGroupIngress, securitygroupid=group["id"],
                 protocol="tcp", startport=22, endport=22, cidrlist="10.0.0.0/8")
    assert err["errorcode"] == 431  # the same rule again

    # Revoking an egress rule through the ingress command names no rule of that kind.
    rule_id = egress["egressrule"][0]["ruleid"]
    err = _error(cs_user.revokeSecurityGroupIngress, id=rule_id)
    assert err["errorcode"] == 431 and f"value={rule_id} due to" in err["errortext"]
    submit = make_cs(user.key, user.secret)
    job = submit.revokeSecurityGroupEgress(id=rule_id)
    assert submit.queryAsyncJobResult(jobid=job["jobid"])["jobresult"] == {"success": True}
    assert cs_user.revokeSecurityGroupIngress(id=icmp[0]["ruleid"]) == {"success": True}
    [full] = cs_user.listSecurityGroups(id=group["id"])["securitygroup"]
    assert [r["cidr"] for r in full["ingressrule"]] == ["10.0.0.0/8", "192.168.0.0/16"]
    assert full["egressrule"] == []
    cs_user.deleteSecurityGroup(id=group["id"])
    cs_user.deleteSecurityGroup(id=peer["id"])


def test_rule_parameter_errors(cs_user: CloudStack) -> None:
    group = cs_user.createSecurityGroup(name=_name())["securitygroup"]
    err = _error(cs_user.authorizeSecurityGroupIngress, securitygroupid=group["id"],
                 protocol="tcp", startport=80, endport=80)
    assert err["errortext"] == ("At least one cidr or at least one security group needs to "
                                "be specified")
    err = _error(cs_user.authorizeSecurityGroupIngress, protocol="tcp", startport=80,
                 endport=80, cidrlist="0.0.0.0/0")
    assert err["errorcode"] == 431
    err = _error(cs_user.authorizeSecurityGroupIngress, securitygroupid=group["id"],
                 protocol="tcp", startport=90, endport=80, cidrlist="0.0.0.0/0")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    err = _error(cs_user.revokeSecurityGroupIngress)
    assert err["errortext"].endswith("due to missing parameter id")
    err = _error(cs_user.deleteSecurityGroup)
    assert err["errorcode"] == 431
    cs_user.deleteSecurityGroup(id=group["id"])


def test_default_group_and_groups_in_use(cs_user: CloudStack, cs: CloudStack,
                                         catalog: Any) -> None:
    group = cs_user.createSecurityGroup(name=_name())["securitygroup"]
    vm = cs_user.deployVirtualMachine(**catalog.args(securitygroupids=group["id"]))[
        "virtualmachine"]
    [used] = cs_user.listSecurityGroups(virtualmachineid=vm["id"])["securitygroup"]
    assert used["id"] == group["id"]
    assert used["virtualmachinecount"] == 1 and used["virtualmachineids"] == [vm["id"]]
    err = _error(cs_user.deleteSecurityGroup, id=group["id"])
    assert err["errorcode"] == 536
    # Another account's group is not found by the user, and the admin's listall finds it.
    theirs = cs.createSecurityGroup(name=_name())["securitygroup"]
    err = _error(cs_user.deleteSecurityGroup, id=theirs["id"])
    assert err["errorcode"] == 431 and f"value={theirs['id']} due to" in err["errortext"]
    assert group["id"] in {g["id"] for g in cs.listSecurityGroups(listall=True,
                                                                   fetch_list=True)}
    cs.deleteSecurityGroup(id=theirs["id"])
    # A launch without groups uses the account's default group, which stays.
    plain = cs_user.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    assert [g["name"] for g in plain["securitygroup"]] == ["default"]
    err = _error(cs_user.deleteSecurityGroup, name="default")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    for v in (vm, plain):
        cs_user.destroyVirtualMachine(id=v["id"])


def test_libcloud_security_groups(server: Any, user: Any) -> None:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    name = _name()
    created = driver.ex_create_security_group(name, description="from libcloud")
    assert created["name"] == name and created["ingressrule"] == []
    group = driver.ex_authorize_security_group_ingress(name, "TCP", "0.0.0.0/0", 443)
    assert [(r["startport"], r["endport"]) for r in group["ingressrule"]] == [(443, 443)]
    [listed] = [g for g in driver.ex_list_security_groups() if g["name"] == name]
    assert listed["ingressrule"][0]["cidr"] == "0.0.0.0/0"
    assert driver.ex_revoke_security_group_ingress(listed["ingressrule"][0]["ruleid"]) is True
    assert driver.ex_delete_security_group(name) is True
    assert name not in {g["name"] for g in driver.ex_list_security_groups()}


def test_group_from_cloudstack_is_visible_to_ec2(server: Any, user: Any,
                                                 cs_user: CloudStack) -> None:
    name = _name()
    group = cs_user.createSecurityGroup(name=name, description="shared")["securitygroup"]
    cs_user.authorizeSecurityGroupIngress(securitygroupid=group["id"], protocol="tcp",
                                          startport=80, endport=81, cidrlist="10.1.0.0/16")
    ec2 = server.ec2(user.key, user.secret)
    [seen] = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert seen["Description"] == "shared"
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], p["IpRanges"][0]["CidrIp"])
            for p in seen["IpPermissions"]] == [("tcp", 80, 81, "10.1.0.0/16")]
    assert seen["IpPermissionsEgress"] == []  # CloudStack groups start with no rules
    ec2.delete_security_group(GroupId=seen["GroupId"])
    assert cs_user.listSecurityGroups(securitygroupname=name) == {}
