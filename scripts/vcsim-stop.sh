#!/usr/bin/env bash
# Stop the vcsim started by scripts/vcsim-start.sh on STATE_DIR.
#
# Usage: bash scripts/vcsim-stop.sh STATE_DIR
#
# SIGTERM (vcsim then removes its temporary datastore directories), then SIGKILL
# after 10 s; returns when the process is gone. Succeeds if nothing is running.
set -uo pipefail

say() { echo "vcsim-stop: $*" >&2; }
[ $# -eq 1 ] || { say "usage: $0 STATE_DIR"; exit 2; }
[ -d "$1/vcsim" ] || { say "no vcsim state in $1; nothing to stop"; exit 0; }
PIDFILE="$(cd "$1/vcsim" && pwd -P)/vcsim.pid"

. "$(dirname "${BASH_SOURCE[0]}")/lib/stop-by-pidfile.sh"

PID=$(running_pid "$PIDFILE" '^vcsim') || { say "not running"; rm -f "$PIDFILE"; exit 0; }
kill -TERM "$PID" 2>/dev/null
if ! wait_gone "$PID" 10 0.05; then
  say "still alive; sending SIGKILL to $PID"
  kill -KILL "$PID" 2>/dev/null
  wait_gone "$PID" 5 0.05 || { say "pid $PID would not die"; exit 1; }
fi
rm -f "$PIDFILE"
say "stopped (pid $PID)"
