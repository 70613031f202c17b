"""Load balancer rules (members, conflicts, cleanup) and IP forwarding rules through
the CloudStack API (cs and libcloud's CloudStack load balancer driver)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack
from libcloud.loadbalancer.base import Algorithm, Member
from libcloud.loadbalancer.providers import get_driver
from libcloud.loadbalancer.types import Provider, State

from tests.integration.nativeapi.errors import api_error, type_errors


@pytest.fixture
def c(user: Any, make_cs: Any) -> CloudStack:
    return make_cs(user.key, user.secret, fetch_result=True)  # type: ignore[no-any-return]


def _vm(c: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    return c.deployVirtualMachine(**catalog.args(**extra))["virtualmachine"]  # type: ignore[no-any-return]


def _ip(c: CloudStack, catalog: Any) -> dict[str, Any]:
    return c.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]  # type: ignore[no-any-return]


def _lb(c: CloudStack, ip: dict[str, Any], vm: dict[str, Any], port: int = 80,
        **extra: Any) -> dict[str, Any]:
    args = {"publicipid": ip["id"], "name": f"web{port}", "algorithm": "roundrobin",
            "publicport": port, "privateport": 8080, "networkid": vm["nic"][0]["networkid"],
            **extra}
    return c.createLoadBalancerRule(**args)["loadbalancerrule"]  # type: ignore[no-any-return]


def _member_ids(c: CloudStack, rule_id: str, **extra: Any) -> list[str]:
    listed = c.listLoadBalancerRuleInstances(id=rule_id, **extra)
    for vm in listed.get("loadbalancerruleinstance", []):
        assert type_errors("listLoadBalancerRuleInstances", vm) == []
    return sorted(vm["id"] for vm in listed.get("loadbalancerruleinstance", []))


def test_load_balancer_rule_lifecycle(user: Any, make_cs: Any, c: CloudStack,
                                      catalog: Any) -> None:
    vm1, vm2 = _vm(c, catalog), _vm(c, catalog)
    ip = _ip(c, catalog)
    network_id = vm1["nic"][0]["networkid"]
    submit = make_cs(user.key, user.secret)
    submitted = submit.createLoadBalancerRule(
        publicipid=ip["id"], name="web", algorithm="leastconn", publicport=80,
        privateport=8080, networkid=network_id, description="front door", protocol="TCP")
    assert set(submitted) == {"id", "jobid"}
    job = submit.queryAsyncJobResult(jobid=submitted["jobid"])
    assert job["jobstatus"] == 1 and job["jobinstancetype"] == "FirewallRule"
    rule = job["jobresult"]["loadbalancerrule"]
    assert rule["id"] == submitted["id"] and type_errors("createLoadBalancerRule", rule) == []
    # QUIRK(cloudstack): a balancer's ports are JSON strings.
    assert (rule["publicport"], rule["privateport"]) == ("80", "8080")
    assert (rule["name"], rule["algorithm"], rule["protocol"]) == ("web", "leastconn", "tcp")
    assert (rule["publicip"], rule["publicipid"]) == (ip["ipaddress"], ip["id"])
    assert rule["networkid"] == network_id and rule["state"] == "Active"
    assert rule["zoneid"] == catalog.zone_id and rule["account"] == user.name
    assert rule["description"] == "front door"

    listed = c.listLoadBalancerRules()
    assert listed["count"] == 1 and type_errors("listLoadBalancerRules",
                                                listed["loadbalancerrule"][0]) == []
    assert c.listLoadBalancerRules(publicipid=ip["id"], keyword="WE")["count"] == 1
    assert c.listLoadBalancerRules(name="nope") == {}
    # openfirewall (default true) opened the public port for any source.
    [fw] = c.listFirewallRules(ipaddressid=ip["id"])["firewallrule"]
    assert (fw["startport"], fw["endport"], fw["protocol"], fw["cidrlist"]) == (
        80, 80, "tcp", "0.0.0.0/0")
    assert c.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0][
        "associatednetworkid"] == network_id

    assert _member_ids(c, rule["id"]) == []
    assert _member_ids(c, rule["id"], applied=False) == sorted([vm1["id"], vm2["id"]])
    assert c.assignToLoadBalancerRule(id=rule["id"], virtualmachineids=f"{vm1['id']},{vm2['id']}"
                                      ) == {"success": True}
    assert _member_ids(c, rule["id"]) == sorted([vm1["id"], vm2["id"]])
    assert _member_ids(c, rule["id"], applied=False) == []
    assert c.listLoadBalancerRules(virtualmachineid=vm2["id"])["count"] == 1
    again = api_error(c.assignToLoadBalancerRule, id=rule["id"], virtualmachineids=vm1["id"])
    assert again["errorcode"] == 431 and "already mapped" in again["errortext"]

    assert c.removeFromLoadBalancerRule(id=rule["id"], virtualmachineids=vm2["id"]) == {
        "success": True}
    assert _member_ids(c, rule["id"]) == [vm1["id"]]
    assert c.listLoadBalancerRules(virtualmachineid=vm2["id"]) == {}

    assert c.deleteLoadBalancerRule(id=rule["id"]) == {"success": True}
    assert c.listLoadBalancerRules() == {} and c.listFirewallRules() == {}
    assert api_error(c.listLoadBalancerRuleInstances, id=rule["id"])["errorcode"] == 431
    assert api_error(c.deleteLoadBalancerRule, id=rule["id"])["errorcode"] == 431


def test_members_by_guest_ip(c: CloudStack, catalog: Any) -> None:
    vm = _vm(c, catalog)
    rule = _lb(c, _ip(c, catalog), vm, openfirewall=False)
    primary = vm["nic"][0]["ipaddress"]
    assert c.assignToLoadBalancerRule(id=rule["id"], vmidipmap=[
        {"vmid": vm["id"], "vmip": primary}]) == {"success": True}
    assert _member_ids(c, rule["id"]) == [vm["id"]]
    err = api_error(c.assignToLoadBalancerRule, id=rule["id"],
                    vmidipmap=[{"vmid": vm["id"], "vmip": "10.255.255.254"}])
    assert err["errorcode"] == 431 and "does not belong" in err["errortext"]
    err = api_error(c.removeFromLoadBalancerRule, id=rule["id"],
                    vmidipmap=[{"vmid": vm["id"], "vmip": "10.255.255.254"}])
    assert err["errorcode"] == 431
    assert c.removeFromLoadBalancerRule(id=rule["id"], vmidipmap=[
        {"vmid": vm["id"], "vmip": primary}]) == {"success": True}
    assert _member_ids(c, rule["id"]) == []
    assert api_error(c.assignToLoadBalancerRule, id=rule["id"])["errorcode"] == 431


def test_create_errors(c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    net = vm["nic"][0]["networkid"]
    base = {"publicipid": ip["id"], "name": "x", "privateport": 80, "networkid": net}
    for bad in ({"algorithm": "random", "publicport": 80},
                {"algorithm": "source", "publicport": 70000},
                {"algorithm": "source", "publicport": 80, "protocol": "icmp"},
                {"algorithm": "source", "publicport": 80, "cidrlist": "10.0.0.0/33"}):
        assert api_error(c.createLoadBalancerRule, **base, **bad)["errorcode"] == 431, bad
    assert api_error(c.createLoadBalancerRule, name="x", algorithm="source", publicport=80,
                     privateport=80)["errorcode"] == 431
    assert api_error(c.createLoadBalancerRule, **{**base, "privateport": 0},
                     algorithm="source", publicport=80)["errorcode"] == 431
    # Nothing was left behind by the failures.
    assert c.listLoadBalancerRules() == {} and c.listFirewallRules() == {}
    assert c.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0].get(
        "associatednetworkid") is None


def test_public_port_conflicts(c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    pf = c.createPortForwardingRule(
        ipaddressid=ip["id"], virtualmachineid=vm["id"], protocol="udp", publicport=20,
        publicendport=25, privateport=20, privateendport=25)["portforwardingrule"]
    # A forwarding rule's ports are taken whatever its protocol.
    err = api_error(c.createLoadBalancerRule, publicipid=ip["id"], name="x", algorithm="source",
                    publicport=22, privateport=22)
    assert err["errorcode"] == 537
    assert err["errortext"].startswith("The range specified, 22-22, conflicts with rule")
    rule = _lb(c, ip, vm, port=80)
    err = api_error(c.createPortForwardingRule, ipaddressid=ip["id"], virtualmachineid=vm["id"],
                    protocol="udp", publicport=79, publicendport=81, privateport=79,
                    privateendport=81)
    assert err["errorcode"] == 537
    assert api_error(c.createLoadBalancerRule, publicipid=ip["id"], name="y", algorithm="source",
                     publicport=80, privateport=81, protocol="udp")["errorcode"] == 537
    # Another port is fine; the failed attempts left no rule.
    _lb(c, ip, vm, port=443, openfirewall=False)
    assert c.listLoadBalancerRules(publicipid=ip["id"])["count"] == 2
    assert c.listPortForwardingRules()["count"] == 1
    # An address with balancers takes no static NAT.
    c.deletePortForwardingRule(id=pf["id"])
    err = api_error(c.enableStaticNat, ipaddressid=ip["id"], virtualmachineid=vm["id"])
    assert err["errorcode"] == 537 and "LoadBalancing" in err["errortext"]
    c.deleteLoadBalancerRule(id=rule["id"])


def test_static_nat_address_takes_no_balancer(c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])
    err = api_error(c.createLoadBalancerRule, publicipid=ip["id"], name="x",
                    algorithm="roundrobin", publicport=80, privateport=80)
    assert err["errorcode"] == 537 and ip["ipaddress"] in err["errortext"]


def test_members_must_be_the_owners_and_on_the_network(
        server: Any, make_cs: Any, c: CloudStack, cs: CloudStack, catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    rule = _lb(c, ip, vm)
    # Another account's instance, seen by the root admin acting for the owner.
    theirs = _vm(cs, catalog)
    err = api_error(cs.assignToLoadBalancerRule, id=rule["id"], virtualmachineids=theirs["id"])
    assert err["errorcode"] == 431 and "different accounts" in err["errortext"]
    # The owner cannot even see it.
    assert api_error(c.assignToLoadBalancerRule, id=rule["id"],
                     virtualmachineids=theirs["id"])["errorcode"] == 431
    # An instance of the owner on another network.
    offering = c.listNetworkOfferings(
        name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    other_net = c.createNetwork(zoneid=catalog.zone_id, name="lb-other",
                                networkofferingid=offering["id"])["network"]
    elsewhere = _vm(c, catalog, networkids=other_net["id"])
    err = api_error(c.assignToLoadBalancerRule, id=rule["id"], virtualmachineids=elsewhere["id"])
    assert err["errorcode"] == 431 and "same network" in err["errortext"]
    # A destroyed instance.
    gone = _vm(c, catalog)
    c.destroyVirtualMachine(id=gone["id"])
    assert api_error(c.assignToLoadBalancerRule, id=rule["id"],
                     virtualmachineids=gone["id"])["errorcode"] == 431
    assert _member_ids(c, rule["id"]) == []
    cs.destroyVirtualMachine(id=theirs["id"], expunge=True)

    # Rules are private to their account; the root admin sees them with listall.
    key, secret = server.new_user("lb-other")
    other = make_cs(key, secret, fetch_result=True)
    assert other.listLoadBalancerRules() == {}
    assert api_error(other.deleteLoadBalancerRule, id=rule["id"])["errorcode"] == 431
    assert api_error(other.listLoadBalancerRuleInstances, id=rule["id"])["errorcode"] == 431
    assert rule["id"] in {r["id"] for r in cs.listLoadBalancerRules(
        listall=True, fetch_list=True)}


def test_cleanup_with_the_address_and_the_instances(c: CloudStack, cs: CloudStack,
                                                   catalog: Any) -> None:
    vm1, vm2, ip = _vm(c, catalog), _vm(c, catalog), _ip(c, catalog)
    rule = _lb(c, ip, vm1)
    c.assignToLoadBalancerRule(id=rule["id"], virtualmachineids=f"{vm1['id']},{vm2['id']}")
    # A destroyed member is not listed; expunged, it is no member at all.
    c.destroyVirtualMachine(id=vm2["id"])
    assert _member_ids(c, rule["id"]) == [vm1["id"]]
    cs.destroyVirtualMachine(id=vm1["id"], expunge=True)  # users may not expunge
    assert _member_ids(c, rule["id"]) == []
    cs.recoverVirtualMachine(id=vm2["id"])  # users may not recover either
    assert _member_ids(c, rule["id"]) == [vm2["id"]]
    # Releasing the address removes its rules, members and firewall rules.
    assert c.disassociateIpAddress(id=ip["id"]) == {"success": True}
    assert c.listLoadBalancerRules() == {} and c.listFirewallRules() == {}
    assert c.listLoadBalancerRules(virtualmachineid=vm2["id"]) == {}


def test_ip_forwarding_rules(user: Any, make_cs: Any, c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    err = api_error(c.createIpForwardingRule, ipaddressid=ip["id"], protocol="tcp",
                    startport=22)
    assert err["errorcode"] == 537 and ip["ipaddress"] in err["errortext"]
    c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])
    submit = make_cs(user.key, user.secret)
    submitted = submit.createIpForwardingRule(ipaddressid=ip["id"], protocol="TCP",
                                              startport=22, endport=25)
    assert set(submitted) == {"id", "jobid"}
    rule = submit.queryAsyncJobResult(jobid=submitted["jobid"])["jobresult"]["ipforwardingrule"]
    assert type_errors("createIpForwardingRule", rule) == []
    assert (rule["publicport"], rule["publicendport"]) == ("22", "25")
    assert (rule["privateport"], rule["privateendport"]) == ("22", "25")
    assert rule["protocol"] == "tcp" and rule["virtualmachineid"] == vm["id"]
    assert rule["ipaddress"] == ip["ipaddress"] and rule["vmguestip"] == vm["nic"][0]["ipaddress"]
    [fw] = c.listFirewallRules(ipaddressid=ip["id"])["firewallrule"]
    assert (fw["startport"], fw["endport"]) == (22, 25)

    assert api_error(c.createIpForwardingRule, ipaddressid=ip["id"], protocol="tcp",
                     startport=25, endport=30)["errorcode"] == 537
    assert api_error(c.createIpForwardingRule, ipaddressid=ip["id"], protocol="icmp",
                     startport=1)["errorcode"] == 431
    assert api_error(c.createIpForwardingRule, ipaddressid=ip["id"], protocol="tcp",
                     startport=100, cidrlist="10.0.0.0/8")["errorcode"] == 431
    udp = c.createIpForwardingRule(ipaddressid=ip["id"], protocol="udp", startport=22,
                                   openfirewall=False)["ipforwardingrule"]
    listed = c.listIpForwardingRules(ipaddressid=ip["id"])
    assert listed["count"] == 2
    assert type_errors("listIpForwardingRules", listed["ipforwardingrule"][0]) == []
    assert c.listIpForwardingRules(virtualmachineid=vm["id"])["count"] == 2
    assert c.deleteIpForwardingRule(id=rule["id"]) == {"success": True}
    assert c.listFirewallRules() == {}
    assert [r["id"] for r in c.listIpForwardingRules()["ipforwardingrule"]] == [udp["id"]]
    assert api_error(c.deleteIpForwardingRule, id=rule["id"])["errorcode"] == 431
    # Ending the static NAT removes the remaining rules.
    c.createIpForwardingRule(ipaddressid=ip["id"], protocol="tcp", startport=80)
    assert c.disableStaticNat(ipaddressid=ip["id"]) == {"success": True}
    assert c.listIpForwardingRules() == {} and c.listFirewallRules() == {}


def test_ip_forwarding_rules_go_with_an_expunged_instance(c: CloudStack, cs: CloudStack,
                                                         catalog: Any) -> None:
    vm, ip = _vm(c, catalog), _ip(c, catalog)
    c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])
    c.createIpForwardingRule(ipaddressid=ip["id"], protocol="tcp", startport=80)
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert c.listIpForwardingRules() == {} and c.listFirewallRules() == {}


def test_libcloud_load_balancer(server: Any, user: Any, c: CloudStack, catalog: Any) -> None:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    vm1, vm2 = _vm(c, catalog), _vm(c, catalog)
    member = Member(vm1["id"], vm1["nic"][0]["ipaddress"], 8080)
    balancer = driver.create_balancer("lc-web", [member], port=80,
                                      algorithm=Algorithm.ROUND_ROBIN, private_port=8080,
                                      network_id=vm1["nic"][0]["networkid"])
    assert balancer.name == "lc-web" and balancer.state == State.RUNNING
    assert int(balancer.port) == 80 and balancer.ip
    [listed] = driver.list_balancers()
    assert listed.id == balancer.id and listed.ip == balancer.ip
    assert driver.get_balancer(balancer.id).name == "lc-web"
    [m] = driver.balancer_list_members(balancer)
    assert m.id == vm1["id"] and m.ip == vm1["nic"][0]["ipaddress"]
    balancer.attach_member(Member(vm2["id"], None, None))
    assert sorted(x.id for x in driver.balancer_list_members(balancer)) == sorted(
        [vm1["id"], vm2["id"]])
    assert balancer.detach_member(Member(vm1["id"], None, None)) is True
    assert [x.id for x in driver.balancer_list_members(balancer)] == [vm2["id"]]
    driver.destroy_balancer(balancer)
    assert driver.list_balancers() == []
    assert c.listPublicIpAddresses(ipaddress=balancer.ip) == {}
