"""StorageAllocator: limit = capacity x overprovisioning x threshold, scope, tags, release."""

from __future__ import annotations

import pytest
from tiny_cloud import GIB, Cloud

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import InsufficientCapacity
from engine.models import StoragePool
from engine.states import PoolState


@pytest.fixture
def storage(cloud: Cloud) -> StorageAllocator:
    return StorageAllocator(cloud.session, cloud.settings)


def _allocated(cloud: Cloud, pool: StoragePool) -> int:
    row = cloud.session.get(StoragePool, pool.uuid, populate_existing=True)
    assert row is not None
    return row.allocated_bytes


def test_default_limit_is_capacity_times_two_times_085(cloud: Cloud,
                                                       storage: StorageAllocator) -> None:
    pool = cloud.zone_pool.uuid
    limit = int(100 * GIB * 2 * 0.85)  # 170 GiB
    assert storage.try_reserve(pool, limit - GIB)
    assert storage.try_reserve(pool, GIB)
    assert not storage.try_reserve(pool, 1)
    assert _allocated(cloud, cloud.zone_pool) == limit


def test_threshold_and_factor_settings_are_honoured(cloud: Cloud,
                                                    storage: StorageAllocator) -> None:
    cloud.setting("pool.storage.allocated.capacity.disablethreshold", "0.5")
    cloud.setting("storage.overprovisioning.factor", "1")
    pool = cloud.zone_pool.uuid
    assert storage.try_reserve(pool, 50 * GIB)
    assert not storage.try_reserve(pool, 1)


def test_a_pool_factor_overrides_the_global_one(cloud: Cloud, storage: StorageAllocator) -> None:
    cloud.zone_pool.overprovision_factor = 1.0
    cloud.session.flush()
    assert storage.try_reserve(cloud.zone_pool.uuid, 85 * GIB)
    assert not storage.try_reserve(cloud.zone_pool.uuid, 1)
    assert storage.try_reserve(cloud.cluster_pool.uuid, 170 * GIB)


def test_reserve_prefers_the_least_allocated_pool(cloud: Cloud, storage: StorageAllocator) -> None:
    cloud.zone_pool.allocated_bytes = 10 * GIB
    cloud.session.flush()
    first = storage.reserve(cloud.zone.uuid, 20 * GIB)
    assert first == cloud.cluster_pool.uuid  # 0 allocated < 10
    second = storage.reserve(cloud.zone.uuid, 20 * GIB)
    assert second == cloud.zone_pool.uuid  # 10 < 20
    assert _allocated(cloud, cloud.zone_pool) == 30 * GIB
    assert _allocated(cloud, cloud.cluster_pool) == 20 * GIB


def test_cluster_pools_serve_only_hosts_of_their_cluster(cloud: Cloud,
                                                        storage: StorageAllocator) -> None:
    cloud.zone_pool.allocated_bytes = 50 * GIB  # so the cluster pool would be preferred
    cloud.session.flush()
    h4 = cloud.hosts["h4"].uuid  # cluster c2: only the zone-wide pool reaches it
    assert storage.reserve(cloud.zone.uuid, GIB, host_uuid=h4) == cloud.zone_pool.uuid
    h1 = cloud.hosts["h1"].uuid
    assert storage.reserve(cloud.zone.uuid, GIB, host_uuid=h1) == cloud.cluster_pool.uuid


@pytest.mark.parametrize("change", ["down", "maintenance", "removed"])
def test_pools_not_up_are_not_used(cloud: Cloud, storage: StorageAllocator, change: str) -> None:
    pool = cloud.cluster_pool
    if change == "removed":
        pool.removed_at = utcnow()
    else:
        pool.state = PoolState.DISABLED if change == "down" else PoolState.MAINTENANCE
    cloud.session.flush()
    for _ in range(3):
        assert storage.reserve(cloud.zone.uuid, GIB) == cloud.zone_pool.uuid


def test_storage_tags_must_all_match(cloud: Cloud, storage: StorageAllocator) -> None:
    cloud.zone_pool.tags = "ssd,fast"
    cloud.cluster_pool.tags = "hdd"
    cloud.session.flush()
    assert storage.reserve(cloud.zone.uuid, GIB, tags="ssd") == cloud.zone_pool.uuid
    assert storage.reserve(cloud.zone.uuid, GIB, tags="fast, ssd") == cloud.zone_pool.uuid
    assert storage.reserve(cloud.zone.uuid, GIB, tags="hdd") == cloud.cluster_pool.uuid
    with pytest.raises(InsufficientCapacity):
        storage.reserve(cloud.zone.uuid, GIB, tags="ssd,hdd")
    with pytest.raises(InsufficientCapacity):
        storage.reserve(cloud.zone.uuid, GIB, tags="ss")  # whole tags only


def test_tags_are_matched_literally(cloud: Cloud, storage: StorageAllocator) -> None:
    cloud.zone_pool.tags = "a_b,100%"
    cloud.cluster_pool.tags = "axb,100x"
    cloud.session.flush()
    assert storage.reserve(cloud.zone.uuid, GIB, tags="a_b") == cloud.zone_pool.uuid
    assert storage.reserve(cloud.zone.uuid, GIB, tags="100%") == cloud.zone_pool.uuid
    assert storage.reserve(cloud.zone.uuid, GIB, tags="axb") == cloud.cluster_pool.uuid
    with pytest.raises(InsufficientCapacity):
        storage.reserve(cloud.zone.uuid, GIB, tags="a%")


def test_reserve_raises_when_no_pool_has_room(cloud: Cloud, storage: StorageAllocator) -> None:
    assert storage.reserve(cloud.zone.uuid, 170 * GIB)
    assert storage.reserve(cloud.zone.uuid, 170 * GIB)
    with pytest.raises(InsufficientCapacity):
        storage.reserve(cloud.zone.uuid, 1)


def test_release_gives_back_and_never_goes_below_zero(cloud: Cloud,
                                                      storage: StorageAllocator) -> None:
    pool = cloud.zone_pool
    assert storage.try_reserve(pool.uuid, 10 * GIB)
    storage.release(pool.uuid, 4 * GIB)
    assert _allocated(cloud, pool) == 6 * GIB
    storage.release(pool.uuid, 7 * GIB)
    assert _allocated(cloud, pool) == 0
