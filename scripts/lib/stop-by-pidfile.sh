# Shared by the *-stop.sh scripts (source it; it defines functions only).
#
#   alive PID                      true if PID exists and is not a zombie (PID 1
#                                  here may not reap orphans)
#   wait_gone PID SECONDS [POLL]   wait until PID is gone; false after SECONDS
#                                  (polls every POLL seconds, default 0.1)
#   running_pid PIDFILE COMM_ERE   print the pid in PIDFILE if that process is
#                                  alive and its /proc comm matches COMM_ERE;
#                                  false (printing nothing) otherwise

alive() {
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}

wait_gone() {
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep "${3:-0.1}"
  done
}

running_pid() {
  local pid=""
  [ -s "$1" ] && pid=$(tr -dc '0-9' < "$1")
  alive "$pid" && grep -qE "$2" "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}
