"""What the reconciler should change, decided from records and reports alone.

Pure functions, no database and no driver: the reconciler reads the engine's
records of one host, asks the host what it runs, and hands both here. The
result is a list of corrections that the reconciler applies afterwards, each
in its own short transaction that re-checks the rows (the world may have moved
between the report and the correction).

Rules (after CloudStack's VM sync and host ping):

* an instance with an active job is left to the job: no correction at all;
* Running in the records but stopped or missing on the host: stopped out of band
  (``StopOutOfBand``);
* otherwise the reported power state is recorded (``SetPower``); it is worth an
  event when it newly contradicts the record (a Stopped VM that runs);
* a domain whose name matches no record of the host: ``Stray``;
* a host that does not answer goes Up -> Disconnected, and Disconnected -> Down
  once it has been silent for ``down_after`` seconds; one that answers goes
  back Up. Instances on a Down host get the power state ``PowerUnknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from engine.hypervisors.base import PowerState
from engine.states import HostState, VmState

POWER_ON = "PowerOn"
POWER_OFF = "PowerOff"
POWER_UNKNOWN = "PowerUnknown"

_POWER: dict[PowerState, str] = {
    PowerState.RUNNING: POWER_ON,
    PowerState.PAUSED: POWER_ON,
    PowerState.STOPPED: POWER_OFF,
    PowerState.MISSING: POWER_OFF,
    PowerState.UNKNOWN: POWER_UNKNOWN,
}

# A record in one of these states expects no domain: one with its name is a stray.
NO_DOMAIN: frozenset[VmState] = frozenset(
    {VmState.DESTROYED, VmState.EXPUNGING, VmState.EXPUNGED})
# The host states the reconciler moves a host out of when it answers again.
RECOVERABLE_HOST: frozenset[HostState] = frozenset(
    {HostState.DISCONNECTED, HostState.DOWN, HostState.CONNECTING})


def power_of(reported: PowerState) -> str:
    """The engine's power-state word for what a driver reported."""
    return _POWER.get(reported, POWER_UNKNOWN)


class InstanceRecord(NamedTuple):
    """What the engine believes about one instance placed on (or last run on) a host.

    ``name`` is the hypervisor domain name; ``busy`` says a job is queued or
    running for it (or for one of its volumes). A named tuple: a pass makes
    one per instance of the fleet.
    """

    uuid: str
    name: str
    state: VmState
    power_state: str
    busy: bool = False


@dataclass(frozen=True)
class SetPower:
    """Record ``power_state`` for a (non-busy) instance still in ``expected_state``.

    ``contradicts`` is True when the report newly disagrees with the state; the
    reconciler then records an event (once: the next pass sees no change)."""

    instance_uuid: str
    expected_state: VmState
    power_state: str
    changed: bool
    contradicts: bool = False


@dataclass(frozen=True)
class StopOutOfBand:
    """A Running instance whose domain is ``reported`` (stopped or missing)."""

    instance_uuid: str
    reported: PowerState


@dataclass(frozen=True)
class Stray:
    """A domain on the host that no live record of the host accounts for."""

    name: str
    reported: PowerState


Correction = SetPower | StopOutOfBand | Stray


def compare(records: Iterable[InstanceRecord],
            domains: Mapping[str, PowerState]) -> list[Correction]:
    """Corrections for one reachable host: ``records`` are the engine's
    instances of the host, ``domains`` what ``list_domains()`` reported."""
    out: list[Correction] = []
    claimed: set[str] = set()
    for r in records:
        if r.busy or r.state not in NO_DOMAIN:
            claimed.add(r.name)
        if r.busy:
            continue
        reported = domains.get(r.name, PowerState.MISSING)
        power = power_of(reported)
        if r.state == VmState.RUNNING and reported in (PowerState.STOPPED, PowerState.MISSING):
            out.append(StopOutOfBand(r.uuid, reported))
            continue
        changed = power != r.power_state
        contradicts = changed and r.state == VmState.STOPPED and power == POWER_ON
        out.append(SetPower(r.uuid, r.state, power, changed, contradicts))
    out.extend(Stray(name, reported) for name, reported in sorted(domains.items())
               if name not in claimed)
    return out


def unknown_power(records: Iterable[InstanceRecord]) -> list[SetPower]:
    """Corrections for the instances of a Down host: their power is unknown."""
    return [SetPower(r.uuid, r.state, POWER_UNKNOWN, r.power_state != POWER_UNKNOWN)
            for r in records if not r.busy and r.state not in NO_DOMAIN]


def host_state_after(state: HostState, *, reachable: bool, silent_since: datetime | None,
                     now: datetime, down_after: float) -> HostState:
    """The host state after one check. ``silent_since`` is the last successful
    contact (None: never). A host in Maintenance keeps its state."""
    if state == HostState.MAINTENANCE:
        return state
    if reachable:
        return HostState.UP if state in RECOVERABLE_HOST else state
    if state in (HostState.UP, HostState.CONNECTING):
        return HostState.DISCONNECTED
    if state == HostState.DISCONNECTED and (
            silent_since is None or (now - silent_since).total_seconds() >= down_after):
        return HostState.DOWN
    return state
