#!/usr/bin/env bash
# Undo what the libvirt tests left on qemu:///system, then stop libvirtd.
#
# Usage: bash scripts/libvirtd-stop.sh [--keep-daemon]
# Destroys and undefines every domain whose name starts with one of the test prefixes
# ("nst-": tests/drivers/test_libvirt*.py's own domains, "ct-": the driver contract's),
# deletes the volumes of the test pools (names starting "nst-") and those pools, then
# kills the libvirtd recorded in the pid file (by pid only; --keep-daemon skips that).
# Safe to repeat.
#
# Environment: NIMBOSTACK_LIBVIRTD_PIDFILE (default /run/libvirt/nimbostack-libvirtd.pid),
# NIMBOSTACK_LIBVIRT_TEST_PREFIXES (domain name prefixes, default "nst- ct-").
set -uo pipefail

URI=qemu:///system
PREFIXES=${NIMBOSTACK_LIBVIRT_TEST_PREFIXES:-nst- ct-}
PIDFILE=${NIMBOSTACK_LIBVIRTD_PIDFILE:-/run/libvirt/nimbostack-libvirtd.pid}
v() { virsh -q -c "$URI" "$@"; }

if v version >/dev/null 2>&1; then
  pattern=$(printf '^%s|' $PREFIXES); pattern=${pattern%|}
  for d in $(v list --all --name 2>/dev/null | grep -E "$pattern"); do
    v destroy "$d" >/dev/null 2>&1
    v undefine "$d" --snapshots-metadata --nvram >/dev/null 2>&1 || v undefine "$d" >/dev/null 2>&1
  done
  for pre in $PREFIXES; do rm -f /var/log/libvirt/qemu/"$pre"*.log; done
  for p in $(v pool-list --all --name 2>/dev/null | grep "^nst-"); do
    v pool-start "$p" >/dev/null 2>&1
    for vol in $(v vol-list "$p" 2>/dev/null | awk '$1 != "" && $1 !~ /^(Name|-+)$/ {print $1}'); do
      v vol-delete "$vol" --pool "$p" >/dev/null 2>&1
    done
    v pool-destroy "$p" >/dev/null 2>&1
    v pool-delete "$p" >/dev/null 2>&1
    v pool-undefine "$p" >/dev/null 2>&1
  done
fi

if [ "${1:-}" != "--keep-daemon" ] && [ -s "$PIDFILE" ]; then
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "libvirtd-stop: libvirtd ($pid) still alive, SIGKILL" >&2; kill -9 "$pid"; }
  rm -f "$PIDFILE"
fi
true
