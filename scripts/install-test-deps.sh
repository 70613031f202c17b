#!/usr/bin/env bash
# Install what the test suite needs; idempotent and quick when already done.
#
# Usage: bash scripts/install-test-deps.sh [--apt-only]
#
#   apt:  MariaDB, libvirt + QEMU (software emulation), Go + Debian's govmomi sources
#         (for vcsim), libvirt headers (for libvirt-python); only the missing ones,
#         after one `apt-get update`
#   pip:  `python3 -m pip install -e '.[dev]'` from the repo root, skipped when the
#         project is already installed editable from THIS checkout and every
#         requirement in pyproject.toml (base + dev extra) is satisfied.
# Runs as root (Debian 12 machine; pip as root is intended here).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
APT_ONLY=0
[ "${1:-}" = "--apt-only" ] && APT_ONLY=1

# --- Debian packages ---------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
PACKAGES=(mariadb-server mariadb-client pkg-config libvirt-dev libvirt-daemon
          libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils iptables
          dnsmasq-base golang-go golang-github-vmware-govmomi-dev)
for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # No systemd here: keep the package's postinst from starting a system-wide server.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 0755 "$policy"; made_policy=1
    trap '[ $made_policy = 1 ] && rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ $APT_ONLY = 1 ] && exit 0

# --- Python packages -----------------------------------------------------------
# Exit 0 when nothing needs installing, 1 otherwise.
up_to_date() {
  # Run from / so a nimbostack.egg-info in the checkout does not shadow site-packages.
  (cd / && python3 - "$REPO") <<'PY'
import json, sys, tomllib
import importlib.metadata as md
from pathlib import Path
try:
    from packaging.requirements import Requirement
except ImportError:
    sys.exit(1)
repo = Path(sys.argv[1])
project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
try:
    dist = md.distribution(project["name"])
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
except md.PackageNotFoundError:
    sys.exit(1)
if not direct.get("dir_info", {}).get("editable") or direct.get("url") != repo.as_uri():
    sys.exit(1)
if dist.version != project["version"]:
    sys.exit(1)
reqs = project.get("dependencies", []) + project.get("optional-dependencies", {}).get("dev", [])
for text in reqs:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": "dev"}):
        continue
    try:
        version = md.version(req.name)
    except md.PackageNotFoundError:
        sys.exit(1)
    if not req.specifier.contains(version, prereleases=True):
        sys.exit(1)
PY
}
if ! up_to_date; then
  echo "install-test-deps: pip install -e '.[dev]'" >&2
  (cd "$REPO" && python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e '.[dev]')
fi
