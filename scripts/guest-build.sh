#!/usr/bin/env bash
# Build the tiny test guest: OUT_DIR/vmlinuz + OUT_DIR/initrd.img.
#
# Usage: bash scripts/guest-build.sh OUT_DIR
# The kernel is Debian's cloud kernel (linux-image-cloud-amd64's current version),
# the initramfs holds busybox-static, the virtio/ACPI/isofs modules the guest needs
# and scripts/guest/init as /init. Idempotent: does nothing when both files exist
# and the initrd is newer than scripts/guest/init. Needs apt-get (downloads only,
# installs nothing) and dpkg-deb.
set -euo pipefail

OUT=${1:?usage: guest-build.sh OUT_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
INIT="$HERE/guest/init"
mkdir -p "$OUT"
if [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ "$OUT/initrd.img" -nt "$INIT" ]; then
  echo "$OUT"; exit 0
fi

# Load order matters: insmod does not resolve dependencies.
MODULES="virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev
virtio/virtio_pci block/virtio_blk ../net/core/failover net/net_failover net/virtio_net
char/virtio_console input/evdev acpi/button cdrom/cdrom ../fs/isofs/isofs"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "guest-build: cannot find the cloud kernel package" >&2; exit 1; }
(cd "$WORK" && apt-get download -qq "$KPKG" busybox-static 2>/dev/null &&
  dpkg-deb -x "$KPKG"_*.deb k && dpkg-deb -x busybox-static_*.deb bb)

ROOT="$WORK/initrd"
mkdir -p "$ROOT"/{bin,proc,sys,dev,mnt/seed,etc/acpi/PWRF,lib/modules,tmp,var/run,var/log}
cp "$WORK/bb/bin/busybox" "$ROOT/bin/"
KDIR=$(ls -d "$WORK"/k/lib/modules/*/kernel/drivers)
for m in $MODULES; do
  [ -f "$KDIR/$m.ko" ] || { echo "guest-build: missing module $m.ko" >&2; exit 1; }
  cp "$KDIR/$m.ko" "$ROOT/lib/modules/"
done
install -m 0755 "$INIT" "$ROOT/init"
(cd "$ROOT" && find . | "$WORK/bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -9 > "$WORK/initrd.img")
cp "$WORK"/k/boot/vmlinuz-* "$OUT/vmlinuz.new" && mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
mv "$WORK/initrd.img" "$OUT/initrd.img"
echo "$OUT"
