"""VmExtrasService: NIC secondary IPs (allocation, uniqueness, release with the
VM), derived and stored instance groups, per-account user data."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from engine.errors import Duplicate, InvalidParameter, NotFound
from engine.models import Instance, Nic
from engine.models.vm_extras import NicSecondaryIp
from engine.services.vm_extras import VmExtrasService, derived_group_uuid
from engine.states import VmState
from tests.integration.engine.worlds import Cloud, principals


def _nic(cloud: Cloud, vm: str) -> Nic:
    with cloud.runtime.unit(readonly=True) as sv:
        nic = sv.session.scalar(select(Nic).where(Nic.instance_uuid == vm))
        assert nic is not None
        return nic


def test_secondary_ips_are_unique_and_skipped_by_later_allocations(cloud: Cloud) -> None:
    vm = cloud.launch(cloud.alice, start=False)
    nic = _nic(cloud, vm)
    with cloud.runtime.unit() as sv:
        first = VmExtrasService(sv.session).add_ip(cloud.alice, nic.uuid).ip_address
    assert first != nic.ip_address
    with cloud.runtime.unit() as sv:
        svc = VmExtrasService(sv.session)
        with pytest.raises(InvalidParameter):
            svc.add_ip(cloud.alice, nic.uuid, first)
    with cloud.runtime.unit() as sv:
        with pytest.raises(InvalidParameter):
            VmExtrasService(sv.session).add_ip(cloud.alice, nic.uuid, nic.ip_address)
    with cloud.runtime.unit() as sv:
        second = VmExtrasService(sv.session).add_ip(cloud.alice, nic.uuid).ip_address
    assert second not in (first, nic.ip_address)
    with cloud.runtime.unit(readonly=True) as sv:
        [view] = VmExtrasService(sv.session).nics(cloud.alice, vm)
        assert [s.ip_address for s in view.secondary] == [first, second]
    # Another account sees neither the VM's NICs nor may it add to them.
    with cloud.runtime.unit() as sv:
        _, eve = principals(sv, "eve")
        svc = VmExtrasService(sv.session)
        with pytest.raises(NotFound):
            svc.add_ip(eve, nic.uuid)
        with pytest.raises(NotFound):
            svc.nics(eve, vm)


def test_secondary_ips_go_with_the_expunged_vm(cloud: Cloud) -> None:
    vm = cloud.launch(cloud.alice, start=False)
    nic = _nic(cloud, vm)
    with cloud.runtime.unit() as sv:
        ip = VmExtrasService(sv.session).add_ip(cloud.alice, nic.uuid).ip_address
    with cloud.runtime.unit() as sv:
        sv.instances.destroy(cloud.alice, vm, expunge=True)
    cloud.drain()
    assert cloud.instance(vm).state == VmState.EXPUNGED
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.session.scalar(select(NicSecondaryIp).where(
            NicSecondaryIp.ip_address == ip)) is None


def test_groups_and_user_data_per_account(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        svc = VmExtrasService(sv.session)
        svc.create_group(cloud.alice, "web")
        with pytest.raises(Duplicate):
            svc.create_group(cloud.alice, "web")
        svc.create_group(cloud.admin, "web")  # another account: fine
    vm = cloud.launch(cloud.alice, start=False)
    with cloud.runtime.unit() as sv:
        inst = sv.session.get(Instance, vm)
        assert inst is not None
        inst.group_name = "db"
    with cloud.runtime.unit(readonly=True) as sv:
        groups = VmExtrasService(sv.session).groups(cloud.alice)
        names = {g.row.name: g.row.uuid for g in groups}
    assert set(names) == {"web", "db"}
    assert names["db"] == derived_group_uuid(cloud.alice.account_uuid, "db")
    text = base64.b64encode(b"hello").decode()
    with cloud.runtime.unit() as sv:
        svc = VmExtrasService(sv.session)
        ud = svc.register_user_data(cloud.alice, "boot", text).row.uuid
        with pytest.raises(InvalidParameter):
            svc.register_user_data(cloud.alice, "bad", "%%%")
    with cloud.runtime.unit(readonly=True) as sv:
        svc = VmExtrasService(sv.session)
        assert [o.row.uuid for o in svc.user_data(cloud.alice)] == [ud]
        assert svc.user_data(cloud.admin) == []
        assert [o.row.uuid for o in svc.user_data(cloud.admin, all_accounts=True, uuid=ud)] == [ud]
    with cloud.runtime.unit() as sv:
        VmExtrasService(sv.session).delete_user_data(cloud.alice, ud)
    with cloud.runtime.unit() as sv:
        with pytest.raises(NotFound):
            VmExtrasService(sv.session).get_user_data(cloud.alice, ud)
