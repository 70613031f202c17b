"""RuleService, NetworkOfferingService and GuestNetworkService through a Runtime:
forwarding and firewall rules with their validation and conflicts, the cleanup
when addresses, instances and networks go, offerings and isolated networks,
and tenant isolation, on SQLite or MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import InUse, InvalidParameter, NotFound, PermissionDenied, RuleConflict
from engine.models import FirewallRule, NetworkOffering, Nic, PortForwardingRule
from engine.principal import Principal
from engine.services.guest_networks import GuestNetworkRequest
from engine.services.instances import LaunchRequest
from engine.services.network_offerings import DEFAULT_NAMES, OfferingRequest
from engine.services.rules import FirewallRequest, PortForwardingRequest
from tests.integration.engine.worlds import Cloud, World


def _launch(w: World, who: Principal, name: str = "vm", network: str | None = None) -> str:
    with w.runtime.unit() as sv:
        launch = sv.instances.launch(who, LaunchRequest(
            template_uuid=w.template_uuid, offering_uuid=w.offering_uuid, name=name,
            start=False, network_uuid=network))
        return launch.instances[0].instance.uuid


def _ip(w: World | Cloud, who: Principal) -> str:
    with w.runtime.unit() as sv:
        return sv.addresses.allocate(who).uuid


def _pf(w: World | Cloud, who: Principal, ip: str, vm: str, public: int, private: int | None = None,
        **kw: object) -> str:
    with w.runtime.unit() as sv:
        return sv.rules.create_port_forwarding(who, PortForwardingRequest(
            ip_uuid=ip, instance_uuid=vm, protocol=str(kw.pop("protocol", "tcp")),
            public_start=public, private_start=private or public, **kw)).rule.uuid  # type: ignore[arg-type]


def _count(w: World | Cloud, model: type) -> int:
    with w.runtime.unit(readonly=True) as sv:
        return sv.session.scalar(select(func.count()).select_from(model)) or 0


# ----------------------------------------------------------------- forwarding
def test_port_forwarding_rule_maps_public_ports_to_the_vm_nic(world: World) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    rule = _pf(world, world.alice, ip, vm, 2222, 22, public_end=2223, private_end=23)
    with world.runtime.unit(readonly=True) as sv:
        [d] = sv.rules.port_forwarding_rules(world.alice, uuid=rule)
        nic = sv.session.scalar(select(Nic).where(Nic.instance_uuid == vm))
        assert d.rule.state == "Active" and d.rule.protocol == "tcp"
        assert (d.rule.public_start, d.rule.public_end) == (2222, 2223)
        assert (d.rule.private_start, d.rule.private_end) == (22, 23)
        assert d.instance is not None and d.instance.uuid == vm
        assert d.ip is not None and d.ip.network_uuid == d.rule.network_uuid
        assert d.rule.cidr_list == "0.0.0.0/0" and d.account.uuid == world.alice.account_uuid
        assert nic is not None and d.rule.private_ip == nic.ip_address
        # openfirewall (the default) opened the same public ports.
        [fw] = sv.rules.firewall_rules(world.alice, egress=False, ip_uuid=ip)
        assert (fw.rule.start_port, fw.rule.end_port) == (2222, 2223)
        assert fw.rule.related_uuid == rule


@pytest.mark.parametrize(("kw", "param"), [
    ({"protocol": "icmp"}, "protocol"),
    ({"public_end": 30}, "publicport"),  # end before start
    ({"private_end": 99}, "privateendport"),  # ranges of different sizes
    ({"cidrs": ("10.0.0.0/33",)}, "cidrlist"),
])
def test_port_forwarding_validation(world: World, kw: dict[str, object], param: str) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    with pytest.raises(InvalidParameter) as err:
        _pf(world, world.alice, ip, vm, 40, **kw)
    assert err.value.name == param
    with pytest.raises(InvalidParameter):
        _pf(world, world.alice, ip, vm, 0)
    with pytest.raises(InvalidParameter):
        _pf(world, world.alice, ip, vm, 65536)


def test_overlapping_forwarding_rules_conflict_unless_the_protocol_differs(world: World) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    first = _pf(world, world.alice, ip, vm, 100, public_end=110, private_end=110,
                open_firewall=False)
    with pytest.raises(RuleConflict) as err:
        _pf(world, world.alice, ip, vm, 105, 205, public_end=120, private_end=220)
    assert str(err.value) == (f"The range specified, 105-120, conflicts with rule {first} "
                              "which has 100-110")
    _pf(world, world.alice, ip, vm, 105, 205, public_end=120, private_end=220, protocol="udp")
    _pf(world, world.alice, ip, vm, 111)  # adjacent, no overlap
    assert _count(world, PortForwardingRule) == 3


def test_forwarding_refused_on_static_nat_and_static_nat_refused_with_forwarding(
        world: World) -> None:
    vm, nat, other = _launch(world, world.alice), _ip(world, world.alice), _ip(world, world.alice)
    with world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, nat, vm)
    with pytest.raises(InvalidParameter, match="static nat"):
        _pf(world, world.alice, nat, vm, 22)
    _pf(world, world.alice, other, vm, 22)
    with pytest.raises(InvalidParameter, match="port forwarding"), world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, other, vm, allow_reassociation=True)


def test_rules_of_other_accounts_are_invisible_and_untouchable(world: World) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    rule = _pf(world, world.alice, ip, vm, 8080)
    bob_vm, bob_ip = _launch(world, world.bob, "b"), _ip(world, world.bob)
    with pytest.raises(NotFound):
        _pf(world, world.bob, ip, bob_vm, 80)  # alice's address
    with pytest.raises(NotFound):
        _pf(world, world.bob, bob_ip, vm, 80)  # alice's VM
    with pytest.raises(NotFound):
        _pf(world, world.alice, ip, bob_vm, 81)
    with world.runtime.unit() as sv:
        assert sv.rules.port_forwarding_rules(world.bob) == []
        assert sv.rules.firewall_rules(world.bob, egress=False) == []
        assert [d.rule.uuid for d in sv.rules.port_forwarding_rules(world.admin, uuid=rule)] == [
            rule]
        with pytest.raises(NotFound):
            sv.rules.delete_port_forwarding(world.bob, rule)
        with pytest.raises(NotFound):
            sv.rules.update_port_forwarding(world.bob, rule, private_start=1)


def test_update_and_delete_forwarding_rule(world: World) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    rule = _pf(world, world.alice, ip, vm, 3000, 3000, public_end=3001, private_end=3001)
    with world.runtime.unit() as sv:
        d = sv.rules.update_port_forwarding(world.alice, rule, private_start=4000)
        assert (d.rule.private_start, d.rule.private_end) == (4000, 4001)
        with pytest.raises(InvalidParameter):
            sv.rules.update_port_forwarding(world.alice, rule, private_start=10, private_end=20)
    with world.runtime.unit() as sv:
        sv.rules.delete_port_forwarding(world.alice, rule)
    assert _count(world, PortForwardingRule) == 0
    assert _count(world, FirewallRule) == 0  # the rule it opened went with it


def test_releasing_the_address_removes_its_rules(world: World) -> None:
    vm, ip = _launch(world, world.alice), _ip(world, world.alice)
    _pf(world, world.alice, ip, vm, 22)
    with world.runtime.unit() as sv:
        sv.rules.create_firewall(world.alice, FirewallRequest(protocol="icmp", ip_uuid=ip))
    with world.runtime.unit() as sv:
        sv.addresses.release(world.alice, ip)
    assert _count(world, PortForwardingRule) == 0 and _count(world, FirewallRule) == 0


def test_expunging_the_instance_removes_the_rules_to_it(cloud: Cloud) -> None:
    vm = cloud.launch(cloud.alice)
    ip = _ip(cloud, cloud.alice)
    _pf(cloud, cloud.alice, ip, vm, 22)
    with cloud.runtime.unit() as sv:
        sv.rules.create_firewall(cloud.alice, FirewallRequest(protocol="tcp", ip_uuid=ip,
                                                              start_port=443))
        sv.instances.destroy(cloud.alice, vm, expunge=True)
    cloud.drain()
    assert _count(cloud, PortForwardingRule) == 0
    with cloud.runtime.unit(readonly=True) as sv:  # the address keeps its own firewall rule
        [left] = sv.rules.firewall_rules(cloud.alice, egress=False)
        assert left.rule.start_port == 443 and left.rule.related_uuid is None


# ------------------------------------------------------------------- firewall
def test_firewall_rules_validation_and_conflicts(world: World) -> None:
    ip = _ip(world, world.alice)

    def fw(**kw: object) -> str:
        with world.runtime.unit() as sv:
            return sv.rules.create_firewall(world.alice, FirewallRequest(
                ip_uuid=ip, **kw)).rule.uuid  # type: ignore[arg-type]

    first = fw(protocol="tcp", start_port=80, end_port=90)
    with pytest.raises(RuleConflict, match=f"conflicts with rule {first}"):
        fw(protocol="TCP", start_port=85, end_port=95)
    fw(protocol="tcp", start_port=85, end_port=95, cidrs=("10.0.0.0/8",))  # other sources
    fw(protocol="udp", start_port=80, end_port=90)
    ping = fw(protocol="icmp")
    with pytest.raises(InvalidParameter, match=f"conflicts with existing rule id={ping}"):
        fw(protocol="icmp", icmp_type=-1, icmp_code=-1)
    for bad in ({"protocol": "gre"}, {"protocol": "icmp", "start_port": 1},
                {"protocol": "tcp", "icmp_type": 8}, {"protocol": "tcp", "start_port": 70000},
                {"protocol": "all", "start_port": 1}):
        with pytest.raises(InvalidParameter):
            fw(**bad)
    with world.runtime.unit(readonly=True) as sv:
        rows = sv.rules.firewall_rules(world.alice, egress=False, ip_uuid=ip)
        assert len(rows) == 4
        icmp = next(d.rule for d in rows if d.rule.protocol == "icmp")
        assert (icmp.icmp_type, icmp.icmp_code, icmp.start_port) == (-1, -1, None)
    with world.runtime.unit() as sv:
        with pytest.raises(NotFound):  # an ingress rule is not an egress one
            sv.rules.delete_firewall(world.alice, first, egress=True)
        with pytest.raises(NotFound):
            sv.rules.delete_firewall(world.bob, first, egress=False)
        sv.rules.delete_firewall(world.alice, first, egress=False)


# ------------------------------------------------------- offerings and networks
def _offering(w: World, name: str) -> str:
    with w.runtime.unit(readonly=True) as sv:
        return sv.network_offerings.list(w.admin, name=name)[0].uuid


def test_default_offerings_are_bootstrapped_once(world: World) -> None:
    with world.runtime.unit(readonly=True) as sv:
        names = {o.name for o in sv.network_offerings.list(world.alice)}
    assert DEFAULT_NAMES <= names
    world.runtime.prepare()  # bootstrap again
    assert _count(world, NetworkOffering) == len(DEFAULT_NAMES)


def test_offering_lifecycle_and_admin_only(world: World) -> None:
    req = OfferingRequest(name="iso-pf", guest_ip_type="isolated",
                          services={"SourceNat": "", "PortForwarding": "VirtualRouter"})
    with world.runtime.unit() as sv:
        with pytest.raises(PermissionDenied):
            sv.network_offerings.create(world.alice, req)
        o = sv.network_offerings.create(world.admin, req)
        assert (o.guest_ip_type, o.state) == ("Isolated", "Disabled")
        assert o.services == "SourceNat:VirtualRouter,PortForwarding:VirtualRouter"
        uuid = o.uuid
    with world.runtime.unit(readonly=True) as sv:  # users see enabled offerings only
        assert uuid not in {x.uuid for x in sv.network_offerings.list(world.alice)}
    with world.runtime.unit() as sv, pytest.raises(InvalidParameter, match="not Enabled"):
        sv.guest_networks.create(world.alice, GuestNetworkRequest(world.zone_uuid, "n", uuid))
    with world.runtime.unit() as sv:
        sv.network_offerings.update(world.admin, uuid, state="enabled", display_text="PF")
        net = sv.guest_networks.create(world.alice, GuestNetworkRequest(world.zone_uuid, "n", uuid))
        assert net.offering.uuid == uuid
    with world.runtime.unit() as sv, pytest.raises(InUse):
        sv.network_offerings.delete(world.admin, uuid)
    with world.runtime.unit() as sv:
        sv.guest_networks.delete(world.alice, net.network.uuid)
        sv.network_offerings.delete(world.admin, uuid)
        with pytest.raises(InvalidParameter):
            sv.network_offerings.delete(world.admin, _offering(world, "DefaultSharedNetworkOffering"))


def test_isolated_networks_get_fresh_cidrs_and_egress_rules(world: World) -> None:
    iso = _offering(world, "DefaultIsolatedNetworkOfferingWithSourceNatService")
    with world.runtime.unit() as sv:
        a = sv.guest_networks.create(world.alice, GuestNetworkRequest(world.zone_uuid, "a", iso))
        b = sv.guest_networks.create(world.alice, GuestNetworkRequest(world.zone_uuid, "b", iso))
        assert a.network.cidr != b.network.cidr
        assert a.network.account_uuid == world.alice.account_uuid
        assert a.network.network_type == "Isolated"
        rule = sv.rules.create_firewall(world.alice, FirewallRequest(
            protocol="tcp", network_uuid=a.network.uuid, start_port=443,
            dest_cidrs=("8.8.8.8/32",)))
        assert rule.rule.traffic == "Egress" and rule.rule.cidr_list == a.network.cidr
        with pytest.raises(RuleConflict):
            sv.rules.create_firewall(world.alice, FirewallRequest(
                protocol="tcp", network_uuid=a.network.uuid, start_port=443,
                dest_cidrs=("8.8.8.8/32",)))
        with pytest.raises(NotFound):
            sv.rules.create_firewall(world.bob, FirewallRequest(
                protocol="all", network_uuid=a.network.uuid))
        shared = sv.guest_networks.list(world.admin, shared=True)[0].network.uuid
        with pytest.raises(InvalidParameter, match="Shared"):
            sv.rules.create_firewall(world.admin, FirewallRequest(protocol="all",
                                                                  network_uuid=shared))
        with pytest.raises(NotFound):
            sv.guest_networks.delete(world.bob, a.network.uuid)
    vm = _launch(world, world.alice, network=a.network.uuid)
    with world.runtime.unit() as sv, pytest.raises(InUse):
        sv.guest_networks.delete(world.alice, a.network.uuid)
    with world.runtime.unit() as sv:
        updated = sv.guest_networks.update(world.alice, b.network.uuid, name="bee")
        assert updated.network.name == "bee"
        sv.guest_networks.restart(world.alice, b.network.uuid, cleanup=True)
        sv.guest_networks.delete(world.alice, b.network.uuid)
        assert [g.network.uuid for g in sv.guest_networks.list(world.alice, shared=False)] == [
            a.network.uuid]
    del vm
