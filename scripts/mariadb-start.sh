#!/usr/bin/env bash
# Start a throwaway MariaDB for the test suite and print its SQLAlchemy URL.
#
# Usage: bash scripts/mariadb-start.sh STATE_DIR [PORT]      (PORT defaults to 33061)
#
# Everything lives under STATE_DIR/mariadb: the datadir, its tmpdir, the unix socket, the pid
# file and the error log. The server listens on 127.0.0.1:PORT only. Running the
# script again on the same STATE_DIR restarts the same datadir (the data survives);
# if that server is already running, the script only re-checks the accounts.
#
# Creates the databases `nimbostack` and `nimbostack_test`, and the account
# nimbostack/nimbostack with all privileges on `nimbostack` and on every database
# whose name starts with `nimbostack_` (tests create `nimbostack_t<N>` themselves).
#
# Progress goes to stderr; the last line on stdout is the URL
#   mysql+pymysql://nimbostack:nimbostack@127.0.0.1:PORT/nimbostack_test
# Stop the server with: bash scripts/mariadb-stop.sh STATE_DIR
set -euo pipefail

die() { echo "mariadb-start: $*" >&2; exit 1; }
say() { echo "mariadb-start: $*" >&2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 STATE_DIR [PORT]"
PORT=${2:-33061}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
mkdir -p "$1"
STATE=$(cd "$1" && pwd -P)
DB="$STATE/mariadb"
DATA="$DB/data"
SOCK="$DB/mysqld.sock"
PIDFILE="$DB/mariadbd.pid"
ERRLOG="$DB/error.log"
READY_TIMEOUT=60
[ ${#SOCK} -lt 100 ] || die "socket path too long (${#SOCK} chars): use a shorter STATE_DIR"

# --- packages: install only when missing ---------------------------------------
if ! { [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null \
       && command -v mariadb-admin >/dev/null && command -v mariadb >/dev/null; }; then
  say "installing mariadb-server and mariadb-client (apt)"
  bash "$(dirname "${BASH_SOURCE[0]}")/install-test-deps.sh" --apt-only >&2
fi

# --- helpers ---------------------------------------------------------------------
# A pid is alive if it exists and is not a zombie (PID 1 here may not reap orphans).
alive() {
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}
server_pid() {  # the pid from the pid file, if it is a live mariadbd
  local p
  [ -s "$PIDFILE" ] || return 1
  p=$(tr -dc '0-9' < "$PIDFILE")
  alive "$p" && grep -qE '^(mariadbd|mysqld)$' "/proc/$p/comm" 2>/dev/null || return 1
  echo "$p"
}
admin() { mariadb-admin --no-defaults --socket="$SOCK" -uroot "$@"; }
sql() { mariadb --no-defaults --socket="$SOCK" -uroot --batch -e "$1"; }

# The server drops to the `mysql` account when that account can reach STATE_DIR;
# otherwise (e.g. STATE_DIR under a 0700 home) it runs as root.
RUN_AS=root
if getent passwd mysql >/dev/null; then
  chmod a+x "$STATE" 2>/dev/null || true
  if setpriv --reuid=mysql --regid=mysql --clear-groups test -x "$STATE" 2>/dev/null; then
    RUN_AS=mysql
  fi
fi

# --- already running on this datadir? ------------------------------------------
if PID=$(server_pid) && admin ping >/dev/null 2>&1; then
  ACTUAL=$(sql "SELECT @@port" | tail -n 1)
  say "already running (pid $PID, port $ACTUAL)"
  [ "$ACTUAL" = "$PORT" ] || say "note: it listens on $ACTUAL, not $PORT; the URL uses $ACTUAL"
  PORT=$ACTUAL
else
  # --- datadir (first run only) ------------------------------------------------
  if [ -d "$DB" ]; then chown -R "$RUN_AS:" "$DB"; else install -d -o "$RUN_AS" -m 0750 "$DB"; fi
  # Its own temporary dir: the caller's TMPDIR may be private to another account.
  install -d -o "$RUN_AS" -m 0700 "$DB/tmp"
  if [ ! -d "$DATA/mysql" ]; then
    say "initialising datadir $DATA"
    rm -rf "$DATA"
    mariadb-install-db --no-defaults --user="$RUN_AS" --datadir="$DATA" --tmpdir="$DB/tmp" \
      --auth-root-authentication-method=socket --skip-test-db >"$DB/install-db.log" 2>&1 \
      || { cat "$DB/install-db.log" >&2; die "mariadb-install-db failed"; }
  fi
  rm -f "$SOCK" "$SOCK.lock" "$PIDFILE"

  # --- start -------------------------------------------------------------------
  say "starting mariadbd on 127.0.0.1:$PORT (as $RUN_AS)"
  /usr/sbin/mariadbd --no-defaults --user="$RUN_AS" --datadir="$DATA" --tmpdir="$DB/tmp" \
    --socket="$SOCK" --pid-file="$PIDFILE" --log-error="$ERRLOG" \
    --bind-address=127.0.0.1 --port="$PORT" --skip-name-resolve \
    --skip-log-bin --innodb-buffer-pool-size=64M --innodb-log-file-size=32M \
    --innodb-flush-log-at-trx-commit=2 --max-connections=500 \
    --innodb-file-per-table=0 --innodb-doublewrite=0 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    </dev/null >>"$DB/mariadbd.out" 2>&1 &
  LAUNCHED=$!
  disown "$LAUNCHED" 2>/dev/null || true

  deadline=$((SECONDS + READY_TIMEOUT))
  until admin ping >/dev/null 2>&1; do
    if ! alive "$LAUNCHED"; then
      tail -n 30 "$ERRLOG" >&2 2>/dev/null || true
      die "mariadbd exited during startup (log: $ERRLOG)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$ERRLOG" >&2 2>/dev/null || true
      kill "$LAUNCHED" 2>/dev/null || true
      die "mariadbd not ready after ${READY_TIMEOUT}s (log: $ERRLOG)"
    fi
    sleep 0.1
  done
  # The pid file is written before the socket accepts; make sure it is there.
  [ -s "$PIDFILE" ] || echo "$LAUNCHED" > "$PIDFILE"
  say "ready (pid $(cat "$PIDFILE"))"
fi

# --- databases and the application account (idempotent) ----------------------
sql "
CREATE DATABASE IF NOT EXISTS nimbostack CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS nimbostack_test CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'nimbostack'@'%' IDENTIFIED BY 'nimbostack';
CREATE USER IF NOT EXISTS 'nimbostack'@'localhost' IDENTIFIED BY 'nimbostack';
GRANT ALL PRIVILEGES ON \`nimbostack\`.* TO 'nimbostack'@'%', 'nimbostack'@'localhost';
GRANT ALL PRIVILEGES ON \`nimbostack\\_%\`.* TO 'nimbostack'@'%', 'nimbostack'@'localhost';
" || die "could not create the databases and the nimbostack account"

# Check over TCP, as the application will connect, that the account can create
# and drop its own databases.
mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$PORT" -unimbostack -pnimbostack --batch -e "
CREATE DATABASE IF NOT EXISTS nimbostack_startcheck;
CREATE TABLE nimbostack_startcheck.t (id INT PRIMARY KEY) ENGINE=InnoDB;
DROP DATABASE nimbostack_startcheck;
" >/dev/null || die "the nimbostack account cannot create databases on 127.0.0.1:$PORT"

echo "mysql+pymysql://nimbostack:nimbostack@127.0.0.1:$PORT/nimbostack_test"
