"""``nimbostack status`` and ``nimbostack host add``, run as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import new_database_url


def _run(args: list[str], home: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NIMBOSTACK_HOME": str(home), "NIMBOSTACK_DB_URL": db_url}
    return subprocess.run([sys.executable, "-m", "nimbostack", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_status_host_add_and_status_again(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    assert _run(["init", "--zone", "lab-1a", "--hosts", "2"], tmp_path, url).returncode == 0
    status = _run(["status"], tmp_path, url)
    assert status.returncode == 0, status.stderr
    assert "management servers:" in status.stdout
    assert "hosts: Up 2" in status.stdout

    added = _run(["host", "add", "--zone", "lab-1a", "--pod", "lab-1a-pod1",
                  "--cluster", "extra", "--hypervisor", "Simulator", "--url", "sim://extra-1"],
                 tmp_path, url)
    assert added.returncode == 0, added.stderr
    host_id, host_name = added.stdout.split()
    assert len(host_id) == 36 and host_name == "extra-1"
    assert "hosts: Up 3" in _run(["status"], tmp_path, url).stdout

    unknown = _run(["host", "add", "--zone", "nowhere", "--pod", "p", "--cluster", "c",
                    "--hypervisor", "Simulator", "--url", "sim://x"], tmp_path, url)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr


def test_status_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    out = _run(["status"], tmp_path, "mysql+pymysql://u:p@127.0.0.1:1/none")
    assert out.returncode == 1 and "unreachable" in out.stderr


def test_host_add_for_each_real_hypervisor(tmp_path: Path) -> None:
    """KVM (libvirt's test driver: no daemon needed), XenServer (the XAPI protocol
    double) and VMware (vcsim, when the test run provides it) hosts join through
    the command line with the capacity their hypervisor reports."""
    from tests.xapi import XapiDouble

    url = new_database_url(tmp_path)
    assert _run(["init", "--zone", "lab-1a", "--hosts", "1"], tmp_path, url).returncode == 0
    base = ["host", "add", "--zone", "lab-1a", "--pod", "lab-1a-pod1"]
    kvm = _run([*base, "--cluster", "kvm", "--hypervisor", "KVM", "--url", "test:///default"],
               tmp_path, url)
    assert kvm.returncode == 0, kvm.stderr
    with XapiDouble(user="root", password="xen-secret") as xapi:
        xen = _run([*base, "--cluster", "xen", "--hypervisor", "XenServer", "--url", xapi.url,
                    "--username", "root", "--password", "xen-secret"], tmp_path, url)
        assert xen.returncode == 0, xen.stderr
        wrong = _run([*base, "--cluster", "xen", "--hypervisor", "XenServer", "--url",
                      xapi.url.replace("127.0.0.1", "localhost"), "--username", "root",
                      "--password", "not-the-Pa55word"], tmp_path, url)
        assert wrong.returncode == 1 and "authentication failed" in wrong.stderr
        assert "not-the-Pa55word" not in wrong.stderr  # no secret echoed
    expected = 3
    vcsim = os.environ.get("NIMBOSTACK_TEST_VCSIM_URL")
    if vcsim:
        from urllib.parse import urlsplit

        parts = urlsplit(vcsim)
        vm = _run([*base, "--cluster", "vc", "--hypervisor", "VMware", "--url",
                   f"vmware://{parts.hostname}:{parts.port}/DC0/DC0_C0/DC0_C0_H2?insecure=true",
                   "--username", parts.username or "", "--password", parts.password or ""],
                  tmp_path, url)
        assert vm.returncode == 0, vm.stderr
        expected += 1
    assert f"hosts: Up {expected}" in _run(["status"], tmp_path, url).stdout
