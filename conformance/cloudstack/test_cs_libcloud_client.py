"""apache-libcloud's CloudStack driver end to end, as a user account: libcloud signs
with lowercased-name order and no expiry, and polls async jobs itself
(``CloudStackConnection._async_request``)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Account, Target, World, libcloud_driver, unique
from cs import CloudStack
from libcloud.compute.types import InvalidCredsError, NodeState


@pytest.fixture
def driver(target: Target, account: Account) -> Any:
    return libcloud_driver(target, account.key, account.secret)


@pytest.fixture
def node(driver: Any, admin: CloudStack, world: World) -> Any:
    location = next(loc for loc in driver.list_locations() if loc.id == world.zone_id)
    image = next(i for i in driver.list_images(location) if i.id == world.template_id)
    size = next(s for s in driver.list_sizes() if s.id == world.offering_id)
    created = driver.create_node(name=unique("lc"), size=size, image=image, location=location,
                                 ex_start_vm=True)
    yield created
    admin.destroyVirtualMachine(id=created.id, expunge=True)


def test_node_lifecycle(driver: Any, node: Any, user_cs: CloudStack) -> None:
    assert node.state == NodeState.RUNNING and node.private_ips
    assert {n.id: n.state for n in driver.list_nodes()}[node.id] == NodeState.RUNNING
    assert driver.ex_stop(node) == "Stopped"  # libcloud returns the job result's state
    assert user_cs.listVirtualMachines(id=node.id)["virtualmachine"][0]["state"] == "Stopped"
    assert driver.ex_start(node) == "Running"
    assert driver.reboot_node(node) is True
    assert user_cs.listVirtualMachines(id=node.id)["virtualmachine"][0]["state"] == "Running"
    # libcloud's destroy_node without expunge: the VM is Destroyed, not listed as running.
    assert driver.destroy_node(node) is True
    assert node.id not in {n.id for n in driver.list_nodes() if n.state == NodeState.RUNNING}


def test_default_create_leaves_vm_stopped(driver: Any, admin: CloudStack, world: World) -> None:
    image = next(i for i in driver.list_images() if i.id == world.template_id)
    size = next(s for s in driver.list_sizes() if s.id == world.offering_id)
    created = driver.create_node(name=unique("lc"), size=size, image=image)
    try:
        assert created.state == NodeState.STOPPED  # libcloud sends startvm=false
    finally:
        admin.destroyVirtualMachine(id=created.id, expunge=True)


def test_volumes(driver: Any, node: Any, world: World) -> None:
    location = next(loc for loc in driver.list_locations() if loc.id == world.zone_id)
    offering = next(o for o in driver.ex_list_disk_offerings()
                    if o.id == world.disk_offering_id)
    # libcloud sends camelCase names here (diskOfferingId, zoneId).
    volume = driver.create_volume(size=offering.size, name=unique("lcvol"), location=location,
                                  ex_volume_type=offering.name)
    assert volume.id in {v.id for v in driver.list_volumes()}
    assert driver.attach_volume(node, volume) is True
    assert driver.list_volumes(node=node) and volume.id in {
        v.id for v in driver.list_volumes(node=node)}
    assert driver.detach_volume(volume) is True
    assert driver.destroy_volume(volume) is True
    assert volume.id not in {v.id for v in driver.list_volumes()}


def test_public_ips_and_forwarding(driver: Any, node: Any, world: World) -> None:
    location = next(loc for loc in driver.list_locations() if loc.id == world.zone_id)
    ip = driver.ex_allocate_public_ip(location=location)
    assert ip.id in {i.id for i in driver.ex_list_public_ips()}
    rule = driver.ex_create_port_forwarding_rule(node, ip, 80, 8080, "TCP")
    assert (int(rule.public_port), int(rule.private_port)) == (8080, 80)
    assert rule.id in {r.id for r in driver.ex_list_port_forwarding_rules()}
    assert driver.ex_delete_port_forwarding_rule(node, rule) is True
    assert rule.id not in {r.id for r in driver.ex_list_port_forwarding_rules()}
    assert driver.ex_release_public_ip(ip) is True
    assert ip.id not in {i.id for i in driver.ex_list_public_ips()}


def test_key_pairs(driver: Any) -> None:
    name = unique("lckp")
    pair = driver.create_key_pair(name)
    assert pair.private_key and pair.fingerprint
    assert name in {k.name for k in driver.list_key_pairs()}
    assert driver.get_key_pair(name).fingerprint == pair.fingerprint
    # libcloud compares ``success`` with the string "true" while CloudStack sends a JSON
    # boolean, so its return value is False against any CloudStack; the pair is gone.
    driver.delete_key_pair(pair)
    assert name not in {k.name for k in driver.list_key_pairs()}


def test_tags(driver: Any, node: Any, user_cs: CloudStack) -> None:
    assert driver.ex_create_tags([node.id], "UserVm", {"owner": "libcloud", "tier": "web"})
    vm = user_cs.listVirtualMachines(id=node.id)["virtualmachine"][0]
    assert {(t["key"], t["value"]) for t in vm["tags"]} == {("owner", "libcloud"),
                                                            ("tier", "web")}
    listed = next(n for n in driver.list_nodes() if n.id == node.id)
    assert listed.extra["tags"] == {"owner": "libcloud", "tier": "web"}
    assert driver.ex_delete_tags([node.id], "UserVm", ["owner", "tier"])
    assert user_cs.listTags(resourceid=node.id) == {}


def test_security_groups(driver: Any) -> None:
    name = unique("lcsg")
    group = driver.ex_create_security_group(name, description="libcloud")
    assert group["name"] == name
    rules = driver.ex_authorize_security_group_ingress(name, "tcp", "0.0.0.0/0", 443)
    assert any(r["startport"] == 443 for r in rules["ingressrule"])
    assert name in {g["name"] for g in driver.ex_list_security_groups()}
    assert driver.ex_delete_security_group(name) is True
    assert name not in {g["name"] for g in driver.ex_list_security_groups()}


def test_bad_secret_is_invalid_creds(target: Target, account: Account) -> None:
    with pytest.raises(InvalidCredsError):
        libcloud_driver(target, account.key, "not-the-secret").list_locations()
