"""A public address allocated straight to an instance's NIC network, and the
counter advanced in one statement where the database returns updated rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select
from tiny_cloud import Cloud

from engine import sequences
from engine.allocators.addresses import PublicIpAllocator
from engine.models import PublicIp
from engine.states import IpState


@contextmanager
def _statements(cloud: Cloud) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = cloud.session.get_bind()

    def note(_c: object, _cur: object, statement: str, *_a: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_an_address_allocated_for_an_instance_is_attached_by_the_same_update(
        cloud: Cloud) -> None:
    allocator = PublicIpAllocator(cloud.session)
    with _statements(cloud) as seen:
        ip = allocator.allocate(cloud.zone.uuid, cloud.account.uuid,
                                instance_uuid="inst-1", network_uuid=cloud.network.uuid)
        cloud.session.flush()
    updates = [s for s in seen if s.startswith("UPDATE public_ips")]
    assert len(updates) == 1 and "instance_uuid" in updates[0]
    assert (ip.instance_uuid, ip.network_uuid) == ("inst-1", cloud.network.uuid)
    cloud.session.expire(ip)
    row = cloud.session.scalar(select(PublicIp).where(PublicIp.uuid == ip.uuid))
    assert row is not None
    assert (row.state, row.account_uuid, row.instance_uuid, row.network_uuid) == (
        IpState.ALLOCATED, cloud.account.uuid, "inst-1", cloud.network.uuid)


def test_a_mapped_allocation_returns_the_written_row_as_a_record(cloud: Cloud) -> None:
    allocator = PublicIpAllocator(cloud.session)
    with _statements(cloud) as seen:
        ip = allocator.allocate_mapped(cloud.zone.uuid, cloud.account.uuid,
                                       instance_uuid="inst-2", network_uuid=cloud.network.uuid)
    assert [s.split()[0] for s in seen] == ["SELECT", "UPDATE"]
    assert not any(isinstance(o, PublicIp) for o in cloud.session)  # not in the session
    row = cloud.session.scalar(select(PublicIp).where(PublicIp.uuid == ip.uuid))
    assert row is not None
    # The record equals a fresh read of the row, column by column.
    assert tuple(ip) == tuple(getattr(row, f) for f in ip._fields)
    assert (ip.state, ip.instance_uuid) == (IpState.ALLOCATED, "inst-2")
    again = allocator.allocate_mapped(cloud.zone.uuid, cloud.account.uuid,
                                      instance_uuid="inst-3", network_uuid=cloud.network.uuid)
    assert again.address != ip.address


def test_a_mapped_allocation_expires_an_object_the_session_holds(cloud: Cloud) -> None:
    free = cloud.session.scalars(select(PublicIp).where(PublicIp.state == IpState.FREE)
                                 .order_by(PublicIp.address)).all()
    ip = PublicIpAllocator(cloud.session).allocate_mapped(
        cloud.zone.uuid, cloud.account.uuid, instance_uuid="inst-4",
        network_uuid=cloud.network.uuid)
    held = next(o for o in free if o.uuid == ip.uuid)
    assert (held.state, held.instance_uuid) == (IpState.ALLOCATED, "inst-4")  # read again


def test_an_account_allocation_leaves_instance_and_network_alone(cloud: Cloud) -> None:
    ip = PublicIpAllocator(cloud.session).allocate(cloud.zone.uuid, cloud.account.uuid)
    cloud.session.flush()
    cloud.session.expire(ip)
    assert (ip.state, ip.instance_uuid, ip.network_uuid) == (IpState.ALLOCATED, None, None)


def test_sequence_values_are_consecutive_and_never_reused(cloud: Cloud) -> None:
    s = cloud.session
    sequences.ensure(s, "instance")
    with _statements(cloud) as seen:
        first = sequences.take(s, "instance", 3)
        second = sequences.take(s, "instance")
    assert second == first + 3
    counter_statements = [x for x in seen if "sequences" in x]
    per_take = 1 if sequences.returning_supported(s.get_bind().dialect) else 2
    assert len(counter_statements) == 2 * per_take


def test_a_missing_counter_is_created_on_first_use(cloud: Cloud) -> None:
    assert sequences.take(cloud.session, "brand-new", 2) == 1
    assert sequences.take(cloud.session, "brand-new") == 3
