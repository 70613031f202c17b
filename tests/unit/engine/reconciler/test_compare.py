"""The reconciler's decision rules, as pure functions of records and reports."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.hypervisors.base import PowerState as P
from engine.reconciler.compare import (
    POWER_OFF,
    POWER_ON,
    POWER_UNKNOWN,
    InstanceRecord,
    SetPower,
    StopOutOfBand,
    Stray,
    compare,
    host_state_after,
    power_of,
    unknown_power,
)
from engine.states import HostState as H
from engine.states import VmState as V


def rec(name: str, state: V, power: str = POWER_ON, *, busy: bool = False) -> InstanceRecord:
    return InstanceRecord(f"uuid-{name}", name, state, power, busy)


def test_power_words() -> None:
    assert power_of(P.RUNNING) == power_of(P.PAUSED) == POWER_ON
    assert power_of(P.STOPPED) == power_of(P.MISSING) == POWER_OFF
    assert power_of(P.UNKNOWN) == POWER_UNKNOWN


@pytest.mark.parametrize("reported", [P.STOPPED, None])
def test_running_vm_whose_domain_stopped_or_vanished_is_stopped_out_of_band(
        reported: P | None) -> None:
    domains = {} if reported is None else {"vm1": reported}
    assert compare([rec("vm1", V.RUNNING)], domains) == [
        StopOutOfBand("uuid-vm1", reported or P.MISSING)]


def test_running_vm_that_runs_only_refreshes_its_power_state() -> None:
    assert compare([rec("vm1", V.RUNNING)], {"vm1": P.RUNNING}) == [
        SetPower("uuid-vm1", V.RUNNING, POWER_ON, changed=False)]
    # A paused domain still counts as powered on: no stop.
    assert compare([rec("vm1", V.RUNNING)], {"vm1": P.PAUSED}) == [
        SetPower("uuid-vm1", V.RUNNING, POWER_ON, changed=False)]


def test_stopped_vm_that_runs_is_reported_not_changed() -> None:
    out = compare([rec("vm1", V.STOPPED, POWER_OFF)], {"vm1": P.RUNNING})
    assert out == [SetPower("uuid-vm1", V.STOPPED, POWER_ON, changed=True, contradicts=True)]
    # Once recorded, the next pass sees no change and raises nothing.
    assert compare([rec("vm1", V.STOPPED, POWER_ON)], {"vm1": P.RUNNING}) == [
        SetPower("uuid-vm1", V.STOPPED, POWER_ON, changed=False)]


def test_stopped_vm_without_a_domain_is_powered_off_quietly() -> None:
    assert compare([rec("vm1", V.STOPPED, POWER_UNKNOWN)], {}) == [
        SetPower("uuid-vm1", V.STOPPED, POWER_OFF, changed=True, contradicts=False)]


def test_busy_vm_is_left_to_its_job_and_its_domain_is_not_a_stray() -> None:
    records = [rec("vm1", V.RUNNING, busy=True), rec("vm2", V.STARTING, busy=True)]
    assert compare(records, {"vm2": P.STOPPED}) == []


def test_domains_nobody_claims_are_strays() -> None:
    records = [rec("vm1", V.RUNNING), rec("gone", V.DESTROYED, POWER_OFF)]
    out = compare(records, {"vm1": P.RUNNING, "other": P.RUNNING, "gone": P.STOPPED})
    assert Stray("other", P.RUNNING) in out
    assert Stray("gone", P.STOPPED) in out  # a destroyed VM expects no domain
    assert not any(isinstance(c, Stray) and c.name == "vm1" for c in out)


def test_a_destroyed_vm_with_a_job_still_claims_its_domain() -> None:
    assert compare([rec("vm1", V.DESTROYED, busy=True)], {"vm1": P.STOPPED}) == []


def test_unknown_power_for_the_vms_of_a_down_host() -> None:
    records = [rec("a", V.RUNNING), rec("b", V.STOPPED, POWER_UNKNOWN),
               rec("c", V.RUNNING, busy=True), rec("d", V.DESTROYED, POWER_OFF)]
    assert unknown_power(records) == [
        SetPower("uuid-a", V.RUNNING, POWER_UNKNOWN, changed=True),
        SetPower("uuid-b", V.STOPPED, POWER_UNKNOWN, changed=False)]


NOW = datetime(2026, 1, 1, 12, 0, 0)


def after(state: H, *, reachable: bool, silent: float | None = 0.0) -> H:
    since = None if silent is None else NOW - timedelta(seconds=silent)
    return host_state_after(state, reachable=reachable, silent_since=since, now=NOW,
                            down_after=60)


def test_host_heartbeat_transitions() -> None:
    assert after(H.UP, reachable=True) == H.UP
    assert after(H.UP, reachable=False, silent=1000) == H.DISCONNECTED  # first miss
    assert after(H.DISCONNECTED, reachable=False, silent=59) == H.DISCONNECTED
    assert after(H.DISCONNECTED, reachable=False, silent=60) == H.DOWN
    assert after(H.DISCONNECTED, reachable=False, silent=None) == H.DOWN
    assert after(H.DOWN, reachable=False, silent=1000) == H.DOWN
    for state in (H.DISCONNECTED, H.DOWN, H.CONNECTING):
        assert after(state, reachable=True) == H.UP
    assert after(H.CONNECTING, reachable=False) == H.DISCONNECTED


def test_maintenance_is_left_alone() -> None:
    assert after(H.MAINTENANCE, reachable=False, silent=1000) == H.MAINTENANCE
    assert after(H.MAINTENANCE, reachable=True) == H.MAINTENANCE
