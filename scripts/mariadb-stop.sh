#!/usr/bin/env bash
# Stop the throwaway MariaDB started by scripts/mariadb-start.sh on STATE_DIR.
#
# Usage: bash scripts/mariadb-stop.sh STATE_DIR
#
# Graceful first (mariadb-admin shutdown over the private socket), then SIGTERM,
# then SIGKILL; returns only when the server process is gone. The datadir is kept,
# so mariadb-start.sh can start it again. Succeeds (exit 0) if nothing is running.
set -uo pipefail

say() { echo "mariadb-stop: $*" >&2; }
[ $# -eq 1 ] || { say "usage: $0 STATE_DIR"; exit 2; }
[ -d "$1" ] || { say "no state dir $1; nothing to stop"; exit 0; }
DB="$(cd "$1" && pwd -P)/mariadb"
SOCK="$DB/mysqld.sock"
PIDFILE="$DB/mariadbd.pid"

. "$(dirname "${BASH_SOURCE[0]}")/lib/stop-by-pidfile.sh"

PID=$(running_pid "$PIDFILE" '^(mariadbd|mysqld)$') || {
  say "not running"; rm -f "$PIDFILE"; exit 0; }

if mariadb-admin --no-defaults --socket="$SOCK" -uroot shutdown \
     >/dev/null 2>&1 && wait_gone "$PID" 30; then
  say "stopped (pid $PID)"
else
  say "graceful shutdown failed; sending SIGTERM to $PID"
  kill -TERM "$PID" 2>/dev/null
  if ! wait_gone "$PID" 30; then
    say "still alive; sending SIGKILL to $PID"
    kill -KILL "$PID" 2>/dev/null
    wait_gone "$PID" 10 || { say "pid $PID would not die"; exit 1; }
  fi
  say "stopped (pid $PID)"
fi
rm -f "$PIDFILE"
exit 0
