"""Host URL parsing of the vSphere driver (no network)."""

from __future__ import annotations

import pytest

pytest.importorskip("pyVmomi")

from engine.errors import InvalidParameter
from engine.hypervisors.vmware.urls import DEFAULT_TASK_TIMEOUT, parse_host_url


def test_full_url_names_datacenter_cluster_and_host() -> None:
    t = parse_host_url("vmware://vc.example:8443/DC%201/Prod/esx-07.example?insecure=true")
    assert (t.endpoint, t.port, t.protocol) == ("vc.example", 8443, "https")
    assert (t.datacenter, t.cluster, t.host) == ("DC 1", "Prod", "esx-07.example")
    assert t.insecure is True


def test_tls_is_verified_by_default_and_ports_default_by_protocol() -> None:
    t = parse_host_url("https://vc.example/DC0")
    assert (t.insecure, t.port, t.cafile, t.task_timeout) == (False, 443, None,
                                                              DEFAULT_TASK_TIMEOUT)
    assert parse_host_url("http://vc.example").port == 80
    assert parse_host_url("vsphere://esxi").protocol == "https"


def test_missing_or_empty_parts_mean_first_found() -> None:
    t = parse_host_url("vmware://vc/DC0//esx3")
    assert (t.datacenter, t.cluster, t.host) == ("DC0", None, "esx3")
    standalone = parse_host_url("vmware://esxi.example/")
    assert (standalone.datacenter, standalone.cluster, standalone.host) == (None, None, None)


def test_leading_sdk_segment_is_ignored_and_userinfo_is_read() -> None:
    t = parse_host_url("https://user:p%40ss@127.0.0.1:8989/sdk")
    assert (t.username, t.password, t.datacenter) == ("user", "p@ss", None)
    assert "p@ss" not in repr(t)


def test_options() -> None:
    t = parse_host_url("vmware://vc/?insecure=0&cafile=/etc/ca.pem&timeout=12.5")
    assert (t.insecure, t.cafile, t.task_timeout) == (False, "/etc/ca.pem", 12.5)


@pytest.mark.parametrize("url", [
    "ftp://vc/DC0",
    "vmware:///DC0",
    "vmware://vc/a/b/c/d",
    "vmware://vc/?insecure=maybe",
    "vmware://vc/?timeout=-1",
    "vmware://vc/?timeout=soon",
    "vmware://vc/?verify=false",
    "vmware://vc:notaport/",
])
def test_malformed_urls_are_invalid_parameters(url: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_host_url(url)


def test_error_messages_hide_the_password() -> None:
    with pytest.raises(InvalidParameter) as err:
        parse_host_url("vmware://user:secret@vc/?bogus=1")
    assert "secret" not in str(err.value)
