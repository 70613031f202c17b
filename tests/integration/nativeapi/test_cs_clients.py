"""Other real clients: apache-libcloud's CloudStack driver, and boto3 on the same engine."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack
from libcloud.compute.providers import get_driver
from libcloud.compute.types import InvalidCredsError, NodeState, Provider


def _libcloud(server: Any, secret: str | None = None) -> Any:
    url = urlsplit(server.url)
    cls = get_driver(Provider.CLOUDSTACK)
    driver = cls(server.access_key, secret or server.secret_key, host=url.hostname,
                 port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    return driver


def test_libcloud_node_lifecycle(server: Any) -> None:
    driver = _libcloud(server)
    [location] = driver.list_locations()
    assert location.name == "us-east-1a"
    images = {i.name: i for i in driver.list_images(location)}
    image = images["CentOS 5.6 (64-bit) no GUI (Simulator)"]
    assert image.extra["os"] == "CentOS 5.6 (64-bit)" and image.extra["format"] == "QCOW2"
    sizes = {s.name: s for s in driver.list_sizes()}
    assert sizes["t2.small"].ram == 2048

    name = f"lc-{uuid.uuid4().hex[:8]}"
    node = driver.create_node(name=name, size=sizes["t2.small"], image=image,
                              location=location, ex_start_vm=True)
    assert node.state == NodeState.RUNNING and node.name == name
    assert node.private_ips and node.private_ips[0].startswith("172.31.")
    assert node.extra["size_id"] == sizes["t2.small"].id

    listed = {n.id: n for n in driver.list_nodes()}
    assert listed[node.id].state == NodeState.RUNNING
    assert driver.reboot_node(node) is True
    assert driver.destroy_node(node, ex_expunge=True) is True
    assert node.id not in {n.id for n in driver.list_nodes()}


def test_libcloud_default_create_leaves_the_vm_stopped(server: Any) -> None:
    driver = _libcloud(server)
    image = next(i for i in driver.list_images() if i.name.startswith("debian"))
    size = next(s for s in driver.list_sizes() if s.name == "t2.nano")
    node = driver.create_node(name=f"lc-{uuid.uuid4().hex[:8]}", size=size, image=image)
    assert node.state == NodeState.STOPPED  # libcloud sends startvm=False by default
    driver.destroy_node(node, ex_expunge=True)


def test_libcloud_bad_secret_is_invalid_creds(server: Any) -> None:
    with pytest.raises(InvalidCredsError):
        _libcloud(server, secret="wrong").list_locations()


def test_vm_from_cloudstack_is_visible_to_ec2(server: Any, cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args(name=f"x-{uuid.uuid4().hex[:6]}"))[
        "virtualmachine"]
    ip = vm["nic"][0]["ipaddress"]
    reservations = server.ec2().describe_instances(
        Filters=[{"Name": "private-ip-address", "Values": [ip]}])["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == catalog.offering_name
    assert instance["Placement"]["AvailabilityZone"] == vm["zonename"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    gone = server.ec2().describe_instances(InstanceIds=[instance["InstanceId"]])
    assert gone["Reservations"][0]["Instances"][0]["State"]["Name"] in (
        "shutting-down", "terminated")


def test_vm_from_ec2_is_visible_to_cloudstack(server: Any, cs: CloudStack) -> None:
    ec2 = server.ec2()
    image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if i["Name"].startswith("amzn2"))
    run = ec2.run_instances(ImageId=image, InstanceType="t3.small", MinCount=1, MaxCount=1)
    ip = run["Instances"][0]["PrivateIpAddress"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[run["Instances"][0]["InstanceId"]],
                                            WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    # The same VM in CloudStack: its id is the instance's uuid (private IPs repeat
    # across the shared server's networks, so match the id and check the IP).
    from engine.models import Instance

    with server.runtime.unit(readonly=True) as sv:
        sid = run["Instances"][0]["InstanceId"].removeprefix("i-")
        uuid = sv.session.query(Instance.uuid).filter(Instance.sid == sid).scalar()
    [vm] = cs.listVirtualMachines(id=uuid)["virtualmachine"]
    assert vm["nic"][0]["ipaddress"] == ip
    assert vm["state"] == "Running" and vm["serviceofferingname"] == "t3.small"
    assert vm["templatename"].startswith("amzn2")
    # The EC2 launch's job is visible as a CloudStack async job with the VM as result.
    job = next(j for j in cs.listAsyncJobs(fetch_list=True) if j.get("jobinstanceid") == vm["id"])
    assert job["jobstatus"] == 1 and job["jobresult"]["virtualmachine"]["id"] == vm["id"]
    assert cs.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    state = ec2.describe_instances(InstanceIds=[run["Instances"][0]["InstanceId"]])[
        "Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "stopped"
    ec2.terminate_instances(InstanceIds=[run["Instances"][0]["InstanceId"]])


def test_public_ips_show_in_cloudstack_and_libcloud(server: Any, user: Any, make_cs: Any,
                                                    catalog: Any) -> None:
    cs_user = make_cs(user.key, user.secret, fetch_result=True)
    assert cs_user.listPublicIpAddresses() == {}
    vm = cs_user.deployVirtualMachine(**catalog.args())["virtualmachine"]
    with server.runtime.unit() as services:
        principal = services.accounts.credentials_for_key(user.key).principal
        ip = services.addresses.allocate(principal)
        services.addresses.associate(principal, ip.uuid, vm["id"])
        address, ip_uuid = ip.address, ip.uuid
    listed = cs_user.listPublicIpAddresses()
    assert listed["count"] == 1
    row = listed["publicipaddress"][0]
    assert (row["id"], row["ipaddress"], row["virtualmachineid"]) == (ip_uuid, address, vm["id"])
    assert row["isstaticnat"] is True and row["issourcenat"] is False
    assert row["state"] == "Allocated" and row["account"] == user.name
    assert row["vmipaddress"] == vm["nic"][0]["ipaddress"]
    assert cs_user.listPublicIpAddresses(ipaddress="203.0.113.99") == {}

    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    [node] = driver.list_nodes()
    assert address in node.public_ips
    assert cs_user.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["publicip"] == address
