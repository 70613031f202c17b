"""AddressService through a Runtime: allocation, limits, static NAT, release,
listing and tenant isolation, on SQLite or MariaDB (see tests/conftest.py)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import delete, select

from engine.allocators.addresses import PublicIpAllocator
from engine.errors import (
    ConflictingParameters,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    LimitExceeded,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Event, Instance, PublicIp
from engine.principal import Principal
from engine.querying import Criterion, Paging
from engine.services.instances import LaunchRequest
from engine.services.tags import apply_tags
from engine.states import IpState, VmState
from tests.integration.engine.worlds import World


def _launch(w: World, who: Principal, name: str = "vm") -> str:
    with w.runtime.unit() as sv:
        launch = sv.instances.launch(who, LaunchRequest(
            template_uuid=w.template_uuid, offering_uuid=w.offering_uuid, name=name, start=False))
        return launch.instances[0].instance.uuid


def _allocate(w: World, who: Principal, **kw: str) -> PublicIp:
    with w.runtime.unit() as sv:
        return sv.addresses.allocate(who, **kw)


def _keep_free(w: World, n: int) -> None:
    """Leave only ``n`` addresses in the pool."""
    with w.runtime.unit() as sv:
        s = sv.session
        keep = list(s.scalars(select(PublicIp.uuid).order_by(PublicIp.address).limit(n)))
        s.execute(delete(PublicIp).where(PublicIp.uuid.not_in(keep)))


# ----------------------------------------------------------------- allocate
def test_allocate_gives_the_account_an_address_and_records_an_event(world: World) -> None:
    ip = _allocate(world, world.alice)
    assert ip.state == IpState.ALLOCATED and ip.account_uuid == world.alice.account_uuid
    assert ip.zone_uuid == world.zone_uuid and ip.allocated_at is not None
    assert ip.instance_uuid is None and ip.association_sid is None
    with world.runtime.unit(readonly=True) as sv:
        for kw in ({"uuid": ip.uuid}, {"sid": ip.sid}, {"address": ip.address}):
            detail = sv.addresses.get(world.alice, **kw)
            assert detail.ip.uuid == ip.uuid
            assert detail.zone.uuid == world.zone_uuid and detail.account.name == "alice"
            assert detail.domain.path == "/" and detail.instance is None
            assert detail.is_elastic and not detail.is_associated
        events = list(sv.session.scalars(select(Event).where(Event.resource_uuid == ip.uuid)))
        assert [e.event_type for e in events] == ["IP.ASSIGN"]
        assert events[0].account_uuid == world.alice.account_uuid


def test_allocate_a_chosen_address_and_zone_checks(world: World) -> None:
    ip = _allocate(world, world.alice, address="198.51.100.77")
    assert ip.address == "198.51.100.77" and ip.zone_uuid == world.zone_uuid
    with pytest.raises(InvalidParameter):
        _allocate(world, world.bob, address="198.51.100.77")  # taken
    with pytest.raises(InvalidParameter):
        _allocate(world, world.bob, address="203.0.113.5")  # in no range
    with pytest.raises(NotFound) as err:
        _allocate(world, world.bob, zone_uuid="00000000-0000-0000-0000-000000000000")
    assert err.value.kind.value == "zone"
    assert _allocate(world, world.bob, zone_uuid=world.zone_uuid).zone_uuid == world.zone_uuid


def test_allocate_honours_the_account_limit(world: World) -> None:
    with world.runtime.unit() as sv:
        sv.settings.update("max.account.public.ips", "2")
    first = _allocate(world, world.alice)
    _allocate(world, world.alice)
    with pytest.raises(LimitExceeded) as err:
        _allocate(world, world.alice)
    assert err.value.limit == 2
    _allocate(world, world.bob)  # other accounts are counted on their own
    with world.runtime.unit() as sv:
        sv.addresses.release(world.alice, first.uuid)
    _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        sv.settings.update("max.account.public.ips", "-1")
    for _ in range(3):
        _allocate(world, world.alice)


def test_allocate_without_free_addresses_is_a_capacity_error(world: World) -> None:
    _keep_free(world, 2)
    _allocate(world, world.alice)
    _allocate(world, world.bob)
    with pytest.raises(InsufficientCapacity):
        _allocate(world, world.alice)


# ---------------------------------------------------------------- associate
def test_associate_disassociate_release_cycle(world: World) -> None:
    vm = _launch(world, world.alice)
    ip = _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        assoc = sv.addresses.associate(world.alice, ip.uuid, vm)
        assert len(assoc) == 17
        # associating again with the same instance is a no-op
        assert sv.addresses.associate(world.alice, ip.uuid, vm) == assoc
    with world.runtime.unit(readonly=True) as sv:
        detail = sv.addresses.get(world.alice, association_sid=assoc)
        assert detail.instance is not None and detail.instance.uuid == vm
        assert detail.nic is not None and detail.nic.ip_address.startswith("172.31.")
        assert detail.ip.network_uuid == detail.nic.network_uuid and detail.is_associated
        by_vm = sv.addresses.list(world.alice, (Criterion("instance_uuid", (vm,)),)).items
        assert [d.ip.uuid for d in by_vm] == [ip.uuid]
        by_private = sv.addresses.list(
            world.alice, (Criterion("private_ip", (detail.nic.ip_address,)),)).items
        assert [d.ip.uuid for d in by_private] == [ip.uuid]
        inst = sv.instances.get(world.alice, uuid=vm)
        assert inst.primary_nic is not None and inst.primary_nic.public_ip is not None
        assert inst.primary_nic.public_ip.address == ip.address
    with pytest.raises(InUse) as err, world.runtime.unit() as sv:
        sv.addresses.release(world.alice, ip.uuid)
    assert err.value.kind.value == "public_ip"
    with world.runtime.unit() as sv:
        sv.addresses.disassociate(world.alice, association_sid=assoc)
    with world.runtime.unit() as sv:
        row = sv.addresses.get(world.alice, uuid=ip.uuid).ip
        assert row.instance_uuid is None and row.association_sid is None
        assert row.state == IpState.ALLOCATED
        sv.addresses.release(world.alice, ip.uuid)
    with world.runtime.unit(readonly=True) as sv:
        row = sv.session.get(PublicIp, ip.uuid)
        assert row is not None and row.state == IpState.FREE and row.account_uuid is None
        kinds = list(sv.session.scalars(select(Event.event_type).where(
            Event.resource_uuid == ip.uuid).order_by(Event.created_at)))
        assert kinds == ["IP.ASSIGN", "STATICNAT.ENABLE", "STATICNAT.DISABLE", "IP.RELEASE"]
    with pytest.raises(NotFound), world.runtime.unit() as sv:
        sv.addresses.release(world.alice, ip.uuid)  # already released


def test_an_instance_holds_one_address_the_new_one_replaces_the_old(world: World) -> None:
    vm = _launch(world, world.alice)
    first, second = _allocate(world, world.alice), _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, first.uuid, vm)
        sv.addresses.associate(world.alice, second.uuid, vm)
    with world.runtime.unit(readonly=True) as sv:
        old = sv.addresses.get(world.alice, uuid=first.uuid).ip
        new = sv.addresses.get(world.alice, uuid=second.uuid).ip
        assert old.instance_uuid is None and old.state == IpState.ALLOCATED
        assert new.instance_uuid == vm


def test_reassociation_needs_permission(world: World) -> None:
    vm1, vm2 = _launch(world, world.alice, "one"), _launch(world, world.alice, "two")
    ip = _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        before = sv.addresses.associate(world.alice, ip.uuid, vm1)
    with pytest.raises(InUse), world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, ip.uuid, vm2)
    with world.runtime.unit() as sv:
        after = sv.addresses.associate(world.alice, ip.uuid, vm2, allow_reassociation=True)
    assert after != before
    with world.runtime.unit(readonly=True) as sv:
        assert sv.addresses.get(world.alice, uuid=ip.uuid).ip.instance_uuid == vm2
        with pytest.raises(NotFound):
            sv.addresses.get(world.alice, association_sid=before)


def test_an_automatically_assigned_address_goes_back_to_the_pool(world: World) -> None:
    vm = _launch(world, world.alice)
    with world.runtime.unit() as sv:  # what an automatic public address looks like
        auto = PublicIpAllocator(sv.session).allocate(world.zone_uuid, world.alice.account_uuid)
        auto.instance_uuid = vm
    eip = _allocate(world, world.alice)
    with world.runtime.unit(readonly=True) as sv:
        listed = {d.ip.uuid for d in sv.addresses.list(world.alice).items}
        elastic = {d.ip.uuid for d in sv.addresses.list(world.alice, elastic_only=True).items}
        assert listed == {auto.uuid, eip.uuid} and elastic == {eip.uuid}
    with pytest.raises(InUse), world.runtime.unit() as sv:  # not the account's to move
        sv.addresses.associate(world.alice, auto.uuid, vm, allow_reassociation=True)
    with world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, eip.uuid, vm)
    with world.runtime.unit(readonly=True) as sv:
        row = sv.session.get(PublicIp, auto.uuid)
        assert row is not None and row.state == IpState.FREE and row.instance_uuid is None


def test_associate_checks_the_instance(world: World) -> None:
    mine, theirs = _launch(world, world.alice), _launch(world, world.bob)
    ip = _allocate(world, world.alice)
    with pytest.raises(NotFound) as err, world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, ip.uuid, theirs)
    assert err.value.kind.value == "instance"
    with pytest.raises(NotFound), world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, ip.uuid, "11111111-1111-1111-1111-111111111111")
    with world.runtime.unit() as sv:
        sv.session.get(Instance, mine).state = VmState.DESTROYED  # type: ignore[union-attr]
    with pytest.raises(IncorrectState), world.runtime.unit() as sv:
        sv.addresses.associate(world.alice, ip.uuid, mine)
    admin_ip = _allocate(world, world.admin)
    with pytest.raises(InvalidParameter), world.runtime.unit() as sv:
        sv.addresses.associate(world.admin, admin_ip.uuid, theirs)  # accounts differ


def test_disassociate_arguments_and_missing_associations(world: World) -> None:
    ip = _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        assert sv.addresses.disassociate(world.alice, ip_uuid=ip.uuid).uuid == ip.uuid
        with pytest.raises(InvalidParameter):
            sv.addresses.disassociate(world.alice, ip_uuid=ip.uuid, missing_ok=False)
        with pytest.raises(NotFound):
            sv.addresses.disassociate(world.alice, association_sid="0123456789abcdef0")
        with pytest.raises(MissingParameter):
            sv.addresses.disassociate(world.alice)
        with pytest.raises(ConflictingParameters):
            sv.addresses.disassociate(world.alice, ip_uuid=ip.uuid, association_sid="x")


# --------------------------------------------------------------- isolation
def test_other_accounts_cannot_see_or_touch_an_address(world: World) -> None:
    vm = _launch(world, world.bob)
    ip = _allocate(world, world.alice)
    with world.runtime.unit() as sv:
        assoc = sv.addresses.associate(world.alice, ip.uuid, _launch(world, world.alice))
    with world.runtime.unit() as sv:
        assert sv.addresses.list(world.bob).items == []
        for kw in ({"uuid": ip.uuid}, {"sid": ip.sid}, {"address": ip.address}):
            with pytest.raises(NotFound):
                sv.addresses.get(world.bob, **kw)
        with pytest.raises(NotFound):
            sv.addresses.associate(world.bob, ip.uuid, vm, allow_reassociation=True)
        with pytest.raises(NotFound):
            sv.addresses.disassociate(world.bob, association_sid=assoc)
        with pytest.raises(NotFound):
            sv.addresses.disassociate(world.bob, ip_uuid=ip.uuid)
        with pytest.raises(NotFound):
            sv.addresses.release(world.bob, ip.uuid)
        # the root admin sees every account's addresses, or only its own
        assert [d.ip.uuid for d in sv.addresses.list(world.admin).items] == [ip.uuid]
        assert sv.addresses.list(world.admin, list_all=False).items == []


# ------------------------------------------------------------------ listing
def test_list_filters_and_pages(world: World) -> None:
    ips = [_allocate(world, world.alice) for _ in range(5)]
    with world.runtime.unit() as sv:
        apply_tags(sv.session, world.alice, ResourceKind.PUBLIC_IP, [ips[0].uuid], [("env", "x")])
    with world.runtime.unit(readonly=True) as sv:
        seen: list[str] = []
        token = None
        while True:
            page = sv.addresses.list(world.alice, paging=Paging(limit=2, token=token), count=True)
            assert page.total == 5 and len(page.items) <= 2
            seen += [d.ip.uuid for d in page.items]
            token = page.next_token
            if token is None:
                break
        assert sorted(seen) == sorted(i.uuid for i in ips) and len(seen) == 5
        tagged = sv.addresses.list(world.alice, (Criterion("tag:env", ("x",)),)).items
        assert [d.ip.uuid for d in tagged] == [ips[0].uuid]
        assert [t.key for t in tagged[0].tags] == ["env"]
        prefix = ".".join(ips[1].address.split(".")[:3]) + ".*"
        assert len(sv.addresses.list(world.alice, (Criterion("address", (prefix,)),)).items) == 5
        assert sv.addresses.list(world.alice, (Criterion("is_source_nat", ("true",)),)).items == []
        with pytest.raises(InvalidParameter):
            sv.addresses.list(world.alice, (Criterion("no-such-field", ("1",)),))
        with pytest.raises(InvalidParameter):
            sv.addresses.list(world.alice, paging=Paging(limit=2, token="garbage"))


# -------------------------------------------------------------- concurrency
def _race(w: World, principals: list[Principal], tries: int) -> tuple[list[str], Counter[str]]:
    go = threading.Barrier(len(principals))
    got: list[str] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(who: Principal) -> None:
        go.wait()
        for _ in range(tries):
            try:
                with w.runtime.unit() as sv:
                    address = sv.addresses.allocate(who).address
                with lock:
                    got.append(address)
                    outcomes["ok"] += 1
            except (InsufficientCapacity, LimitExceeded) as exc:
                with lock:
                    outcomes[type(exc).__name__] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported by the test
                with lock:
                    outcomes[f"error {exc!r}"] += 1

    threads = [threading.Thread(target=run, args=(p,)) for p in principals]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return got, outcomes


RACERS = 6


def test_concurrent_allocations_never_share_an_address(world: World) -> None:
    _keep_free(world, 12)
    racers = [world.alice, world.bob, world.admin] * (RACERS // 3)
    got, outcomes = _race(world, racers, tries=4)
    assert set(outcomes) <= {"ok", "InsufficientCapacity"}, outcomes
    assert len(got) == len(set(got)) == outcomes["ok"] <= 12
    with world.runtime.unit(readonly=True) as sv:
        held = sv.session.scalars(select(PublicIp.address).where(
            PublicIp.state == IpState.ALLOCATED))
        assert sorted(held) == sorted(got)


def test_concurrent_allocations_fill_the_pool_exactly(world: World) -> None:
    _keep_free(world, 12)
    got, outcomes = _race(world, [world.alice, world.bob, world.admin] * 2, tries=4)
    assert outcomes == {"ok": 12, "InsufficientCapacity": 12}, outcomes
    assert len(set(got)) == 12


def test_concurrent_allocations_stop_at_the_account_limit(world: World) -> None:
    with world.runtime.unit() as sv:
        sv.settings.update("max.account.public.ips", "3")
    got, outcomes = _race(world, [world.alice] * 6, tries=2)
    assert outcomes == {"ok": 3, "QuotaExceeded": 9}, outcomes  # a LimitExceeded
    assert len(set(got)) == 3
