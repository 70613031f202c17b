#!/usr/bin/env bash
# The project's test command: the whole suite on SQLite, then on a throwaway MariaDB.
#
# Usage: bash scripts/test.sh [pytest args]        (default args: tests)
#
# Steps: install the test dependencies (scripts/install-test-deps.sh); start a
# private MariaDB in a temporary state dir (always stopped and removed on exit);
# export NIMBOSTACK_TEST_MYSQL_URL; run `python3 -m pytest -q -n 2 [args]` once with
# NIMBOSTACK_TEST_DB=sqlite and once with NIMBOSTACK_TEST_DB=mysql; print both
# summaries. Exits non-zero if either run fails or collects no tests (pytest exit 5).
#
# Environment knobs (all optional):
#   NIMBOSTACK_TEST_BACKENDS   backends to run, default "sqlite mysql"
#   NIMBOSTACK_TEST_WORKERS    pytest-xdist workers, default 2 (0 = no xdist)
#   NIMBOSTACK_TEST_MYSQL_PORT MariaDB port, default: first free port from 33061
#   NIMBOSTACK_KEEP_STATE=1    keep the MariaDB state dir (datadir + error log)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO" || exit 1
BACKENDS=${NIMBOSTACK_TEST_BACKENDS:-sqlite mysql}
WORKERS=${NIMBOSTACK_TEST_WORKERS:-2}
[ $# -gt 0 ] || set -- tests

banner() { printf '\n======== %s ========\n' "$*"; }

banner "installing test dependencies"
bash scripts/install-test-deps.sh || { echo "test.sh: dependency installation failed" >&2; exit 1; }

STATE=""
cleanup() {
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
  PORT=${NIMBOSTACK_TEST_MYSQL_PORT:-$(python3 - <<'PY'
import socket
for port in range(33061, 33161):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
)}
  STATE=$(mktemp -d /tmp/nimbostack-test.XXXXXX)
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

# pytest-benchmark (present on some machines, not a project dependency) warns once per
# xdist worker that it is disabled; keep that noise out of the output.
XDIST=(-p no:benchmark)
[ "$WORKERS" != 0 ] && XDIST+=(-n "$WORKERS")
declare -A RC SUMMARY
overall=0
for backend in $BACKENDS; do
  banner "pytest on $backend"
  log=$(mktemp)
  NIMBOSTACK_TEST_DB=$backend python3 -m pytest -q "${XDIST[@]}" "$@" 2>&1 | tee "$log"
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
