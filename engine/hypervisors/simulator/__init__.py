"""A simulated hypervisor, the default driver in tests (like CloudStack's simulator).

Hosts are named by URL: ``sim://<host>`` or CloudStack style
``http://sim/<cluster>/<host>[/cpucore=8&cpuspeed=2000&memory=8589934592&localstorage=...]``.
Settings come from (later wins) the URL's ``k=v`` path segment and query string,
``HostConnection.extra`` (flat keys, or a ``"simulator"`` sub-dict) and the runtime
settings stored with ``SimulatorDriver.configure`` (shared by all processes):

* host: ``cpucore`` (4), ``cpuspeed`` MHz (8000), ``memory`` bytes (8 GiB),
  ``localstorage`` bytes (1 TiB), ``arch`` (x86_64), ``version``;
* ``delay.<op>=<seconds>``: sleep before the operation;
* ``fail.<op>=1`` (always) or ``=<probability>``, narrowed by ``fail.<op>.match=<substring
  of the domain name or disk sid>`` and ``fail.<op>.count=<n>`` (only the next n matching
  calls, counted across processes); ``fail.<op>.error=driver|capacity|unavailable``;
* ``guest.acpi=0`` (the guest ignores graceful shutdown) or ``guest.shutdown_seconds``;
* ``capacity.enforce=1``: ``start`` refuses to overcommit the host's cores or memory.

``<op>`` is a driver method name (``define``, ``start``, ``stop``, ``attach_disk`` ...).
State lives in one sqlite file shared by all simulated hosts and processes, under
``extra["state_dir"]``, ``$NIMBOSTACK_SIM_DIR``, ``$NIMBOSTACK_HOME/simulator`` or
``~/.local/share/nimbostack/simulator``; it survives restarts. The file is the
simulator's own store, unrelated to the engine's database.

Modules: ``host`` (URLs, settings, state directory), ``store`` (the sqlite file),
``console`` (serial console text), ``records`` (shared row changes), ``controls``
(settings, fault injection, test hooks) and ``driver`` (``SimulatorDriver``).
"""

from __future__ import annotations

from engine.hypervisors.simulator.console import CONSOLE_LIMIT
from engine.hypervisors.simulator.driver import SimulatorDriver, inject_power_state
from engine.hypervisors.simulator.host import HOST_DEFAULTS, SimHost, state_dir_for
from engine.hypervisors.simulator.store import DB_FILE

__all__ = [
    "CONSOLE_LIMIT",
    "DB_FILE",
    "HOST_DEFAULTS",
    "SimHost",
    "SimulatorDriver",
    "inject_power_state",
    "state_dir_for",
]
