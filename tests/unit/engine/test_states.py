"""engine.states: the VM transition table, the operation predicates and their checks."""

from __future__ import annotations

import pytest

from engine.errors import IncorrectState, ResourceKind
from engine.states import (
    DESTROYABLE,
    EXPUNGEABLE,
    GONE,
    JOB_FINAL,
    REBOOTABLE,
    RECOVERABLE,
    STARTABLE,
    STOPPABLE,
    VM_TRANSITIONS,
    JobStatus,
    VmState,
    check_vm_transition,
    require,
)

S = VmState


def test_every_state_has_a_row_naming_only_states() -> None:
    assert set(VM_TRANSITIONS) == set(VmState)
    for source, targets in VM_TRANSITIONS.items():
        assert targets <= set(VmState), source
        assert source not in targets, f"{source} lists itself"


def test_expunged_is_terminal_and_reachable_only_through_expunging() -> None:
    assert VM_TRANSITIONS[S.EXPUNGED] == frozenset()
    assert [s for s, targets in VM_TRANSITIONS.items() if S.EXPUNGED in targets] == [S.EXPUNGING]


def test_every_state_can_reach_expunged() -> None:
    for start in VmState:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in VM_TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert S.EXPUNGED in seen, start


@pytest.mark.parametrize(("source", "target"), [
    (S.STOPPED, S.STARTING), (S.STARTING, S.RUNNING), (S.STARTING, S.ERROR),
    (S.STARTING, S.STOPPED), (S.RUNNING, S.STOPPING), (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.RUNNING), (S.RUNNING, S.DESTROYED), (S.STOPPED, S.DESTROYED),
    (S.DESTROYED, S.STOPPED), (S.DESTROYED, S.EXPUNGING), (S.EXPUNGING, S.EXPUNGED),
    (S.ERROR, S.EXPUNGING), (S.RUNNING, S.MIGRATING), (S.MIGRATING, S.RUNNING),
])
def test_the_lifecycle_moves_are_allowed(source: VmState, target: VmState) -> None:
    check_vm_transition(source, target, "i-1")


@pytest.mark.parametrize(("source", "target"), [
    (S.EXPUNGED, S.RUNNING), (S.EXPUNGED, S.STOPPED), (S.EXPUNGING, S.RUNNING),
    (S.RUNNING, S.STARTING), (S.STOPPED, S.STOPPING), (S.DESTROYED, S.RUNNING),
    (S.ERROR, S.RUNNING), (S.ERROR, S.STARTING), (S.STARTING, S.EXPUNGED),
])
def test_forbidden_moves_raise_incorrect_state(source: VmState, target: VmState) -> None:
    with pytest.raises(IncorrectState) as err:
        check_vm_transition(source, target, "i-1")
    assert err.value.kind is ResourceKind.INSTANCE
    assert err.value.ident == "i-1"
    assert err.value.state == source.value
    assert set(err.value.allowed) == {t.value for t in VM_TRANSITIONS[source]}


def test_staying_in_the_same_state_is_always_allowed() -> None:
    for state in VmState:
        check_vm_transition(state, state, "i-1")


def test_require_accepts_members_and_reports_the_allowed_set() -> None:
    require(S.STOPPED, STARTABLE, ResourceKind.INSTANCE, "i-1")
    with pytest.raises(IncorrectState) as err:
        require(S.RUNNING, STARTABLE, ResourceKind.INSTANCE, "i-1")
    assert err.value.state == "Running"
    assert err.value.allowed == ("Stopped",)
    assert "i-1" in err.value.message
    assert "Running" in err.value.message


def test_the_operation_predicates() -> None:
    assert {S.STOPPED} == STARTABLE
    assert STOPPABLE == REBOOTABLE == {S.RUNNING}
    assert {S.DESTROYED} == RECOVERABLE
    assert {S.EXPUNGING, S.EXPUNGED} == GONE
    assert not (DESTROYABLE | EXPUNGEABLE) & {S.EXPUNGED, S.EXPUNGING}
    assert S.DESTROYED not in DESTROYABLE  # already destroyed: only expunge remains
    assert S.DESTROYED in EXPUNGEABLE


@pytest.mark.parametrize(("allowed", "target"), [
    (STARTABLE, S.STARTING), (STOPPABLE, S.STOPPING), (RECOVERABLE, S.STOPPED),
])
def test_each_predicate_agrees_with_the_table(allowed: frozenset[VmState],
                                              target: VmState) -> None:
    for state in allowed:
        check_vm_transition(state, target, "i-1")


def test_the_moves_the_services_make_are_all_in_the_table() -> None:
    """What InstanceService.destroy/expunge and the destroy job's compensation do."""
    moves = {(s, S.DESTROYED) for s in DESTROYABLE}  # destroy without expunge
    moves |= {(s, S.EXPUNGING) for s in DESTROYABLE | EXPUNGEABLE}  # destroy with expunge
    moves |= {(S.EXPUNGING, S.ERROR)}  # fail_destroy
    missing = sorted(f"{a.value}->{b.value}" for a, b in moves
                     if a != b and b not in VM_TRANSITIONS[a])
    assert missing == []


def test_final_job_statuses() -> None:
    assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED} == JOB_FINAL
    assert not JOB_FINAL & {JobStatus.QUEUED, JobStatus.RUNNING}
