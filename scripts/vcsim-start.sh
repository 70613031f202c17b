#!/usr/bin/env bash
# Start govmomi's vSphere API simulator (vcsim) for the test suite; print its URL.
#
# Usage: bash scripts/vcsim-start.sh STATE_DIR [PORT]      (PORT defaults to 8989)
#
# The binary is built offline, once, from scripts/vcsim/main.go (our own launcher)
# and Debian's golang-github-vmware-govmomi-dev (GOPATH mode, no module proxy):
#   apt-get install golang-go golang-github-vmware-govmomi-dev
# It is cached as $NIMBOSTACK_VCSIM_CACHE/vcsim-<sha of main.go> (default cache dir
# /var/cache/nimbostack-vcsim); a cold build takes 30-55 s on 2 cores.
#
# The simulator listens on 127.0.0.1:PORT with TLS (a self-signed certificate) and the
# credentials user/pass. Default inventory: datacenter DC0, cluster DC0_C0 with hosts
# DC0_C0_H0..H2, standalone host DC0_H0, datastore LocalDS_0, network "VM Network",
# and template-able VMs DC0_C0_RP0_VM0/1 and DC0_H0_VM0/1. Extra vcsim flags can be
# passed with NIMBOSTACK_VCSIM_FLAGS (e.g. "-esx" for a standalone ESXi).
# Pid file and log live in STATE_DIR/vcsim/. If a vcsim started by this script on
# STATE_DIR is still running, its URL is printed again.
#
# Progress goes to stderr; the last line on stdout is the URL
#   https://user:pass@127.0.0.1:PORT/sdk
# Stop it with: bash scripts/vcsim-stop.sh STATE_DIR
set -euo pipefail

die() { echo "vcsim-start: $*" >&2; exit 1; }
say() { echo "vcsim-start: $*" >&2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 STATE_DIR [PORT]"
PORT=${2:-8989}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SRC="$HERE/vcsim/main.go"
[ -f "$SRC" ] || die "missing $SRC"
mkdir -p "$1/vcsim"
STATE=$(cd "$1" && pwd -P)/vcsim
PIDFILE="$STATE/vcsim.pid"
LOG="$STATE/vcsim.log"
CACHE=${NIMBOSTACK_VCSIM_CACHE:-/var/cache/nimbostack-vcsim}
READY_TIMEOUT=30

alive() {  # exists and is not a zombie
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}
logged_url() { sed -n 's/^VCSIM_URL=//p' "$LOG" 2>/dev/null | tail -n 1; }

# --- already running on this state dir? --------------------------------------------
if [ -s "$PIDFILE" ]; then
  OLD=$(tr -dc '0-9' < "$PIDFILE")
  if alive "$OLD" && grep -q '^vcsim' "/proc/$OLD/comm" 2>/dev/null && [ -n "$(logged_url)" ]; then
    say "already running (pid $OLD)"
    logged_url
    exit 0
  fi
  rm -f "$PIDFILE"
fi

# --- build (once per main.go version) ------------------------------------------------
SUM=$(sha256sum "$SRC" | cut -c1-12)
BIN="$CACHE/vcsim-$SUM"
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || die "go is missing: apt-get install golang-go golang-github-vmware-govmomi-dev"
  [ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] \
    || die "govmomi sources missing: apt-get install golang-github-vmware-govmomi-dev"
  mkdir -p "$CACHE"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/vcsim" "$WORK/gocache"
  cp "$SRC" "$WORK/vcsim/main.go"
  say "building vcsim into $BIN (takes about a minute)"
  (cd "$WORK/vcsim" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
     GOCACHE="${GOCACHE:-$CACHE/gocache}" go build -o "$WORK/vcsim.bin" .) >&2 \
    || die "go build failed"
  mv -f "$WORK/vcsim.bin" "$BIN"   # atomic: concurrent starters never see half a binary
fi

# --- start -----------------------------------------------------------------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "127.0.0.1:$PORT is already in use"
fi
: > "$LOG"
# shellcheck disable=SC2086  # NIMBOSTACK_VCSIM_FLAGS is a word list on purpose
"$BIN" -l "127.0.0.1:$PORT" ${NIMBOSTACK_VCSIM_FLAGS:-} </dev/null >>"$LOG" 2>&1 &
PID=$!
disown "$PID" 2>/dev/null || true
echo "$PID" > "$PIDFILE"
deadline=$((SECONDS + READY_TIMEOUT))
until [ -n "$(logged_url)" ]; do
  alive "$PID" || { tail -n 20 "$LOG" >&2; rm -f "$PIDFILE"; die "vcsim exited during startup"; }
  if [ $SECONDS -ge $deadline ]; then
    kill "$PID" 2>/dev/null || true; rm -f "$PIDFILE"
    die "vcsim not ready after ${READY_TIMEOUT}s (log: $LOG)"
  fi
  sleep 0.05
done
say "ready (pid $PID)"
logged_url
