#!/usr/bin/env bash
# The project's test command: the whole suite on SQLite, then on a throwaway MariaDB.
#
# Usage: bash scripts/test.sh [pytest args]        (default args: tests)
#
# Steps: install the test dependencies (scripts/install-test-deps.sh); start a
# private MariaDB in a temporary state dir (always stopped and removed on exit);
# export NIMBOSTACK_TEST_MYSQL_URL; start the real hypervisor components — libvirtd
# with QEMU under software emulation (scripts/libvirtd-start.sh), the tiny test guest
# (scripts/guest-build.sh), vcsim (scripts/vcsim-start.sh) — and export
# NIMBOSTACK_TEST_LIBVIRT_URI, NIMBOSTACK_TEST_GUEST_DIR, NIMBOSTACK_TEST_VCSIM_URL;
# run `python3 -m pytest -q -n 2 [args]` once with NIMBOSTACK_TEST_DB=sqlite and once
# with NIMBOSTACK_TEST_DB=mysql (with the default args, what does not depend on the
# backend — unit tests, driver contract, real-hypervisor and conformance runs, the
# awscli tests — runs in the first pass only);
# print both summaries. Exits non-zero if either run fails or collects no tests.
#
# Environment knobs (all optional):
#   NIMBOSTACK_TEST_BACKENDS   backends to run, default "sqlite mysql"
#   NIMBOSTACK_TEST_WORKERS    pytest-xdist workers, default 2 (0 = no xdist)
#   NIMBOSTACK_TEST_MYSQL_PORT MariaDB port, default: first free port from 33061
#   NIMBOSTACK_KEEP_STATE=1    keep the MariaDB state dir (datadir + error log)
#   NIMBOSTACK_TEST_HYPERVISORS=0  do not start libvirtd/vcsim (their tests then skip;
#                              under CI=true they fail instead)
#   NIMBOSTACK_TEST_SCRATCH    where the throwaway state goes (MariaDB datadir, test
#                              databases, simulator dirs: TMPDIR for pytest); default
#                              /dev/shm when it is a writable tmpfs with 2 GiB free, else
#                              /tmp. Nothing there needs to survive the run, and in RAM the
#                              per-test schemas and commits cost no disk syncs.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO" || exit 1
BACKENDS=${NIMBOSTACK_TEST_BACKENDS:-sqlite mysql}
WORKERS=${NIMBOSTACK_TEST_WORKERS:-2}
DEFAULT_ARGS=0
[ $# -gt 0 ] || { set -- tests; DEFAULT_ARGS=1; }

banner() { printf '\n======== %s ========\n' "$*"; }

banner "installing test dependencies"
bash scripts/install-test-deps.sh || { echo "test.sh: dependency installation failed" >&2; exit 1; }

STATE=""
HV_STATE=""
SCRATCH=${NIMBOSTACK_TEST_SCRATCH:-}
if [ -z "$SCRATCH" ]; then
  SCRATCH=/tmp
  if [ -d /dev/shm ] && [ -w /dev/shm ] &&
     [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -gt 2097152 ] 2>/dev/null; then
    SCRATCH=/dev/shm
  fi
fi
TEST_TMP=$(mktemp -d "$SCRATCH/nimbostack-tmp.XXXXXX") || { echo "test.sh: no scratch dir" >&2; exit 1; }
free_port() {  # free_port FIRST: the first free loopback port from FIRST
  python3 - "$1" <<'PY'
import socket, sys
for port in range(int(sys.argv[1]), int(sys.argv[1]) + 100):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}
cleanup() {
  rm -rf "$TEST_TMP"
  if [ -n "$HV_STATE" ]; then
    bash scripts/vcsim-stop.sh "$HV_STATE" >/dev/null 2>&1 || true
    bash scripts/libvirtd-stop.sh >/dev/null 2>&1 || true
    rm -rf "$HV_STATE"
  fi
  if [ -n "$STATE" ]; then
    bash scripts/mariadb-stop.sh "$STATE" >/dev/null 2>&1 || true
    if [ "${NIMBOSTACK_KEEP_STATE:-0}" = 1 ]; then echo "test.sh: kept $STATE" >&2
    else rm -rf "$STATE"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ " $BACKENDS " == *" mysql "* ]]; then
  PORT=${NIMBOSTACK_TEST_MYSQL_PORT:-$(free_port 33061)}
  STATE=$(mktemp -d "$SCRATCH/nimbostack-test.XXXXXX")
  banner "starting throwaway MariaDB on 127.0.0.1:$PORT"
  URL=$(bash scripts/mariadb-start.sh "$STATE" "$PORT" | tail -n 1)
  if [ -z "$URL" ]; then
    tail -n 30 "$STATE/mariadb/error.log" 2>/dev/null
    echo "test.sh: MariaDB did not start" >&2
    exit 1
  fi
  export NIMBOSTACK_TEST_MYSQL_URL="$URL"
  echo "NIMBOSTACK_TEST_MYSQL_URL=$URL"
fi

if [ "${NIMBOSTACK_TEST_HYPERVISORS:-1}" != 0 ]; then
  HV_STATE=$(mktemp -d "$SCRATCH/nimbostack-hv.XXXXXX")
  banner "starting libvirtd (QEMU, software emulation), the test guest and vcsim"
  URI=$(bash scripts/libvirtd-start.sh | tail -n 1) || { echo "test.sh: libvirtd did not start" >&2; exit 1; }
  GUEST=$(bash scripts/guest-build.sh /var/cache/nimbostack-guest | tail -n 1) ||
    { echo "test.sh: the test guest could not be built" >&2; exit 1; }
  VCSIM=$(bash scripts/vcsim-start.sh "$HV_STATE" "$(free_port 18989)" | tail -n 1) ||
    { echo "test.sh: vcsim did not start" >&2; exit 1; }
  export NIMBOSTACK_TEST_LIBVIRT_URI="$URI" NIMBOSTACK_TEST_GUEST_DIR="$GUEST"
  export NIMBOSTACK_TEST_VCSIM_URL="$VCSIM"
  echo "NIMBOSTACK_TEST_LIBVIRT_URI=$URI NIMBOSTACK_TEST_GUEST_DIR=$GUEST"
  echo "NIMBOSTACK_TEST_VCSIM_URL=${VCSIM%%@*}@..."
fi

# pytest-benchmark (present on some machines, not a project dependency) warns once per
# xdist worker that it is disabled; keep that noise out of the output.
XDIST=(-p no:benchmark)
[ "$WORKERS" != 0 ] && XDIST+=(-n "$WORKERS" --dist loadgroup)
declare -A RC SUMMARY
overall=0
for backend in $BACKENDS; do
  banner "pytest on $backend"
  log=$(mktemp)
  EXTRA=()
  # What does not depend on the database backend runs in the first pass only: pure
  # unit tests, the driver contract suite, the real-hypervisor end-to-end tests, the
  # black-box conformance suites, the wire-protocol tests, packaging and architecture.
  if [ "$DEFAULT_ARGS" = 1 ] && [ "$backend" != "${BACKENDS%% *}" ]; then
    EXTRA=(--ignore=tests/unit --ignore=tests/drivers --ignore=tests/integration/hypervisors
           --ignore=tests/integration/test_conformance_ec2.py
           --ignore=tests/integration/test_conformance_cloudstack.py
           --ignore=tests/integration/awsapi/test_ec2_protocol.py
           --ignore=tests/integration/nativeapi/test_cs_protocol.py
           --ignore=tests/integration/imds
           --ignore=tests/integration/awsapi/test_ec2_endpoint.py
           --ignore=tests/integration/cli/test_packaging.py
           --ignore=tests/test_architecture.py
           -k "not awscli")  # the CLI's wire behaviour; boto3 covers these paths here
  fi
  TMPDIR=$TEST_TMP NIMBOSTACK_TEST_DB=$backend python3 -m pytest -q "${XDIST[@]}" "${EXTRA[@]}" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  RC[$backend]=$rc
  SUMMARY[$backend]=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
  rm -f "$log"
  [ "$rc" = 0 ] || overall=1
done

banner "summary"
for backend in $BACKENDS; do
  case ${RC[$backend]} in
    0) verdict="ok" ;;
    5) verdict="FAILED (no tests collected)" ;;
    *) verdict="FAILED (pytest exit ${RC[$backend]})" ;;
  esac
  printf '%-7s %-30s %s\n' "$backend" "$verdict" "${SUMMARY[$backend]}"
done
exit $overall
