#!/usr/bin/env bash
# Start a system libvirtd (QEMU driver, TCG guests) on a machine without systemd.
#
# Usage: bash scripts/libvirtd-start.sh
# Idempotent: creates the libvirt-qemu user/group and libvirt's directories, writes
# /etc/libvirt/{qemu,libvirtd}.conf, starts `libvirtd -d` unless the one recorded in
# the pid file is alive, and waits until `virsh -c qemu:///system version` answers
# (the first start probes QEMU for about 8 s). The last line of stdout is the URI.
#
# Environment: NIMBOSTACK_LIBVIRTD_PIDFILE (default /run/libvirt/nimbostack-libvirtd.pid).
# Needs root and the Debian packages libvirt-daemon, libvirt-daemon-driver-qemu,
# libvirt-clients, qemu-system-x86, qemu-utils.
set -euo pipefail

URI=qemu:///system
PIDFILE=${NIMBOSTACK_LIBVIRTD_PIDFILE:-/run/libvirt/nimbostack-libvirtd.pid}

command -v libvirtd >/dev/null || { echo "libvirtd-start: libvirtd is not installed" >&2; exit 1; }

# The QEMU driver looks its default user up at start, even when qemu.conf says root.
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
getent group kvm >/dev/null || groupadd -r kvm

mkdir -p /etc/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/lib/libvirt/images \
  /var/lib/libvirt/boot /var/cache/libvirt/qemu /run/libvirt "$(dirname "$PIDFILE")"

write_if_changed() {  # write_if_changed FILE CONTENT
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then printf '%s\n' "$2" > "$1"; fi
}
write_if_changed /etc/libvirt/qemu.conf 'user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"'
write_if_changed /etc/libvirt/libvirtd.conf 'unix_sock_group = "root"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"'

alive() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
answers() { virsh -q -c "$URI" version >/dev/null 2>&1; }

# libvirtd double-forks QEMU, so exited QEMUs become children of PID 1; where PID 1
# reaps slowly (containers, micro-VM inits) every domain destroy then waits ~1.5 s for
# the zombie to go. A small subreaper parent adopts them and reaps at once; it exits
# when libvirtd and every QEMU it adopted are gone.
start_daemon() {
  setsid python3 - "$PIDFILE" >/dev/null 2>&1 < /dev/null <<'PY' &
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
if os.fork() == 0:
    os.execvp("libvirtd", ["libvirtd", "-d", "--pid-file", sys.argv[1]])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
PY
}

if ! alive && ! answers; then
  rm -f "$PIDFILE"
  start_daemon
fi
for _ in $(seq 1 600); do answers && break; sleep 0.1; done
answers || { echo "libvirtd-start: libvirtd did not answer on $URI within 60 s" >&2; exit 1; }
echo "$URI"
