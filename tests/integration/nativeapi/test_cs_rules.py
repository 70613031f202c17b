"""Port forwarding, firewall and egress firewall rules through the CloudStack API
(cs and libcloud's CloudStack driver)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from tests.integration.nativeapi.errors import api_error, type_errors


@pytest.fixture
def c(user: Any, make_cs: Any) -> CloudStack:
    return make_cs(user.key, user.secret, fetch_result=True)  # type: ignore[no-any-return]


def _vm_and_ip(c: CloudStack, catalog: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    ip = c.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]
    return vm, ip


def test_port_forwarding_create_list_delete(user: Any, make_cs: Any, c: CloudStack,
                                            catalog: Any) -> None:
    vm, ip = _vm_and_ip(c, catalog)
    submit = make_cs(user.key, user.secret)
    submitted = submit.createPortForwardingRule(
        ipaddressid=ip["id"], virtualmachineid=vm["id"], protocol="TCP", publicport=2222,
        privateport=22)
    assert set(submitted) == {"id", "jobid"}
    job = submit.queryAsyncJobResult(jobid=submitted["jobid"])
    assert job["jobstatus"] == 1 and job["jobinstancetype"] == "FirewallRule"
    rule = job["jobresult"]["portforwardingrule"]
    assert rule["id"] == submitted["id"] and type_errors("createPortForwardingRule", rule) == []
    # QUIRK(cloudstack): forwarding rule ports are JSON strings.
    assert (rule["publicport"], rule["publicendport"]) == ("2222", "2222")
    assert (rule["privateport"], rule["privateendport"]) == ("22", "22")
    assert rule["protocol"] == "tcp" and rule["state"] == "Active"
    assert rule["ipaddress"] == ip["ipaddress"] and rule["virtualmachineid"] == vm["id"]
    assert rule["vmguestip"] == vm["nic"][0]["ipaddress"]
    assert rule["networkid"] == vm["nic"][0]["networkid"]

    listed = c.listPortForwardingRules()
    assert listed["count"] == 1 and listed["portforwardingrule"][0]["id"] == rule["id"]
    assert c.listPortForwardingRules(ipaddressid=ip["id"])["count"] == 1
    assert type_errors("listPortForwardingRules", listed["portforwardingrule"][0]) == []
    # openfirewall (default true) opened the public port.
    [fw] = c.listFirewallRules(ipaddressid=ip["id"])["firewallrule"]
    assert (fw["startport"], fw["endport"], fw["protocol"]) == (2222, 2222, "tcp")
    assert c.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0][
        "associatednetworkid"] == rule["networkid"]

    conflict = api_error(c.createPortForwardingRule, ipaddressid=ip["id"],
                      virtualmachineid=vm["id"], protocol="tcp", publicport=2222,
                      privateport=23)
    assert conflict["errorcode"] == 537
    assert conflict["errortext"].startswith("The range specified, 2222-2222, conflicts with rule")

    assert c.deletePortForwardingRule(id=rule["id"]) == {"success": True}
    assert c.listPortForwardingRules() == {} and c.listFirewallRules() == {}


def test_port_forwarding_errors(c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm_and_ip(c, catalog)
    base = {"ipaddressid": ip["id"], "virtualmachineid": vm["id"], "protocol": "tcp"}
    assert api_error(c.createPortForwardingRule, **base, publicport=70000,
                  privateport=22)["errorcode"] == 431
    assert api_error(c.createPortForwardingRule, **base, publicport=80, publicendport=81,
                  privateport=80)["errorcode"] == 431
    assert api_error(c.createPortForwardingRule, **base, publicport=22)["errorcode"] == 431
    assert api_error(c.createPortForwardingRule, ipaddressid=ip["id"], virtualmachineid=vm["id"],
                  protocol="icmp", publicport=1, privateport=1)["errorcode"] == 431
    c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])
    err = api_error(c.createPortForwardingRule, **base, publicport=22, privateport=22)
    assert err["errorcode"] == 431 and "static nat" in err["errortext"]
    assert api_error(c.deletePortForwardingRule,
                  id="6b0b2f1e-0000-4000-8000-000000000000")["errorcode"] == 431


def test_update_port_forwarding_rule(c: CloudStack, catalog: Any) -> None:
    vm, ip = _vm_and_ip(c, catalog)
    rule = c.createPortForwardingRule(ipaddressid=ip["id"], virtualmachineid=vm["id"],
                                      protocol="udp", publicport=5000, privateport=5000,
                                      openfirewall=False)["portforwardingrule"]
    updated = c.updatePortForwardingRule(id=rule["id"], privateport=6000)["portforwardingrule"]
    assert (updated["privateport"], updated["privateendport"]) == ("6000", "6000")
    assert c.listFirewallRules() == {}


def test_firewall_rules(c: CloudStack, catalog: Any) -> None:
    ip = c.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]
    rule = c.createFirewallRule(ipaddressid=ip["id"], protocol="tcp", startport=80,
                                endport=90, cidrlist="10.0.0.0/8,192.168.0.0/16")["firewallrule"]
    assert type_errors("createFirewallRule", rule) == []
    assert (rule["startport"], rule["endport"], rule["traffictype"]) == (80, 90, "Ingress")
    assert rule["cidrlist"] == "10.0.0.0/8,192.168.0.0/16" and rule["ipaddress"] == ip["ipaddress"]
    ping = c.createFirewallRule(ipaddressid=ip["id"], protocol="icmp", icmptype=8,
                                icmpcode=0)["firewallrule"]
    assert (ping["icmptype"], ping["icmpcode"]) == (8, 0) and "startport" not in ping
    err = api_error(c.createFirewallRule, ipaddressid=ip["id"], protocol="tcp", startport=85,
                 cidrlist="192.168.0.0/16,10.0.0.0/8")
    assert err["errorcode"] == 537
    assert api_error(c.createFirewallRule, ipaddressid=ip["id"], protocol="icmp",
                  startport=1)["errorcode"] == 431
    listed = c.listFirewallRules(ipaddressid=ip["id"])
    assert listed["count"] == 2
    assert type_errors("listFirewallRules", listed["firewallrule"][0]) == []
    assert c.listEgressFirewallRules() == {}
    assert c.deleteFirewallRule(id=rule["id"]) == {"success": True}
    assert [r["id"] for r in c.listFirewallRules()["firewallrule"]] == [ping["id"]]
    # Releasing the address removes its rules.
    c.disassociateIpAddress(id=ip["id"])
    assert c.listFirewallRules() == {}


def test_egress_firewall_rules_on_an_isolated_network(c: CloudStack, catalog: Any) -> None:
    offering = c.listNetworkOfferings(
        name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    net = c.createNetwork(zoneid=catalog.zone_id, name="egress",
                          networkofferingid=offering["id"])["network"]
    rule = c.createEgressFirewallRule(networkid=net["id"], protocol="tcp", startport=443,
                                      destcidrlist="1.1.1.1/32")["firewallrule"]
    assert type_errors("createEgressFirewallRule", rule) == []
    assert rule["traffictype"] == "Egress" and rule["networkid"] == net["id"]
    assert rule["cidrlist"] == net["cidr"] and rule["destcidrlist"] == "1.1.1.1/32"
    assert "ipaddressid" not in rule
    everything = c.createEgressFirewallRule(networkid=net["id"], protocol="all")["firewallrule"]
    assert "startport" not in everything
    assert c.listEgressFirewallRules(networkid=net["id"])["count"] == 2
    assert c.listFirewallRules() == {}
    # An ingress delete does not find an egress rule.
    assert api_error(c.deleteFirewallRule, id=rule["id"])["errorcode"] == 431
    assert c.deleteEgressFirewallRule(id=rule["id"]) == {"success": True}
    # Deleting the network removes its rules.
    assert c.deleteNetwork(id=net["id"]) == {"success": True}
    assert c.listEgressFirewallRules() == {}


def test_egress_rules_refused_on_shared_networks(cs: CloudStack, catalog: Any) -> None:
    shared = cs.listNetworks(zoneid=catalog.zone_id, type="Shared")["network"][0]
    assert api_error(cs.createEgressFirewallRule, networkid=shared["id"],
                  protocol="all")["errorcode"] == 431


def test_rules_are_private_to_their_account(server: Any, make_cs: Any, c: CloudStack,
                                            cs: CloudStack, catalog: Any) -> None:
    vm, ip = _vm_and_ip(c, catalog)
    rule = c.createPortForwardingRule(ipaddressid=ip["id"], virtualmachineid=vm["id"],
                                      protocol="tcp", publicport=8080,
                                      privateport=80)["portforwardingrule"]
    key, secret = server.new_user("rules-other")
    other = make_cs(key, secret, fetch_result=True)
    assert other.listPortForwardingRules() == {} and other.listFirewallRules() == {}
    assert other.listPortForwardingRules(id=rule["id"]) == {}
    assert api_error(other.deletePortForwardingRule, id=rule["id"])["errorcode"] == 431
    assert api_error(other.createFirewallRule, ipaddressid=ip["id"],
                  protocol="all")["errorcode"] == 431
    assert api_error(other.updatePortForwardingRule, id=rule["id"],
                  privateport=81)["errorcode"] == 431
    # The root admin sees it with listall.
    assert rule["id"] in {r["id"] for r in cs.listPortForwardingRules(listall=True)[
        "portforwardingrule"]}


def test_libcloud_port_forwarding(server: Any, user: Any, c: CloudStack, catalog: Any) -> None:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    [node] = [n for n in driver.list_nodes() if n.id == vm["id"]]
    address = driver.ex_allocate_public_ip()
    rule = driver.ex_create_port_forwarding_rule(node, address, 22, 2022, "TCP")
    assert rule.id
    [listed] = driver.ex_list_port_forwarding_rules()
    assert listed.id == rule.id and int(listed.public_port) == 2022
    [node] = [n for n in driver.list_nodes() if n.id == vm["id"]]
    [on_node] = node.extra["port_forwarding_rules"]
    assert on_node.id == rule.id and address.address in node.public_ips
    [fw] = driver.ex_list_firewall_rules()
    assert fw.address.address == address.address
    assert driver.ex_delete_port_forwarding_rule(node, on_node) is True
    assert driver.ex_list_port_forwarding_rules() == []
