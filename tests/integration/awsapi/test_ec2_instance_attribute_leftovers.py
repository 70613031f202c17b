"""Instance attributes that are stored per instance, through boto3:
SourceDestCheck (the primary interface's), InstanceInitiatedShutdownBehavior
(also at launch; a guest shutting itself down terminates the instance when it
is ``terminate``) and HibernationOptions at launch (with AWS's prerequisites)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.jobs.drivers import host_access
from engine.models import Host, Instance
from engine.reconciler import Reconciler
from tests.integration.awsapi.ec2_helpers import (
    WAIT,
    error_code,
    fresh_account_client,
    instance_view,
)


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[Any]:
    yield from fresh_account_client(server, "attrleft")


def _image(client: Any) -> dict[str, Any]:
    return client.describe_images(Owners=["amazon"])["Images"][0]  # type: ignore[no-any-return]


def _launch(client: Any, **kwargs: Any) -> str:
    iid = str(client.run_instances(ImageId=_image(client)["ImageId"], MinCount=1, MaxCount=1,
                                   InstanceType="t2.micro", **kwargs)["Instances"][0][
        "InstanceId"])
    client.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    return iid


def _attr(client: Any, iid: str, name: str) -> Any:
    return client.describe_instance_attribute(InstanceId=iid, Attribute=name)


def _filtered(client: Any, name: str, value: str) -> set[str]:
    pages = client.get_paginator("describe_instances").paginate(
        Filters=[{"Name": name, "Values": [value]}])
    return {i["InstanceId"] for page in pages for r in page["Reservations"]
            for i in r["Instances"]}


# ------------------------------------------------------------ SourceDestCheck
def test_source_dest_check_is_stored_on_the_primary_interface(client: Any) -> None:
    iid = _launch(client)
    try:
        assert _attr(client, iid, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
        assert iid in _filtered(client, "source-dest-check", "true")
        client.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": False})
        assert _attr(client, iid, "sourceDestCheck")["SourceDestCheck"] == {"Value": False}
        assert iid in _filtered(client, "source-dest-check", "false")
        assert iid in _filtered(client, "network-interface.source-dest-check", "f*")
        assert iid not in _filtered(client, "source-dest-check", "true")
        inst = instance_view(client, iid)
        assert inst["SourceDestCheck"] is False
        eni = inst["NetworkInterfaces"][0]
        assert eni["SourceDestCheck"] is False
        shown = client.describe_network_interfaces(
            NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"][0]
        assert shown["SourceDestCheck"] is False
        assert client.describe_network_interface_attribute(
            NetworkInterfaceId=eni["NetworkInterfaceId"],
            Attribute="sourceDestCheck")["SourceDestCheck"] == {"Value": False}
        # the Attribute/Value form, and through the interface back again
        client.modify_instance_attribute(InstanceId=iid, Attribute="sourceDestCheck",
                                         Value="true")
        assert instance_view(client, iid)["SourceDestCheck"] is True
        client.modify_network_interface_attribute(
            NetworkInterfaceId=eni["NetworkInterfaceId"], SourceDestCheck={"Value": False})
        assert _attr(client, iid, "sourceDestCheck")["SourceDestCheck"] == {"Value": False}
        with pytest.raises(ClientError) as err:
            client.modify_instance_attribute(InstanceId=iid, Attribute="sourceDestCheck",
                                             Value="maybe")
        assert error_code(err) == "InvalidParameterValue"
    finally:
        client.terminate_instances(InstanceIds=[iid])


# ------------------------------------------- InstanceInitiatedShutdownBehavior
def test_shutdown_behavior_modify_and_describe(client: Any) -> None:
    iid = _launch(client)
    try:
        assert _attr(client, iid, "instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
        client.modify_instance_attribute(InstanceId=iid,
                                         InstanceInitiatedShutdownBehavior={"Value": "terminate"})
        assert _attr(client, iid, "instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
        client.modify_instance_attribute(InstanceId=iid,
                                         Attribute="instanceInitiatedShutdownBehavior",
                                         Value="stop")
        assert _attr(client, iid, "instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
        with pytest.raises(ClientError) as err:
            client.modify_instance_attribute(
                InstanceId=iid, InstanceInitiatedShutdownBehavior={"Value": "hibernate"})
        assert error_code(err) == "InvalidInstanceAttributeValue"
    finally:
        client.terminate_instances(InstanceIds=[iid])
    client.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        client.modify_instance_attribute(InstanceId=iid,
                                         InstanceInitiatedShutdownBehavior={"Value": "stop"})
    assert error_code(err) == "IncorrectInstanceState"


def test_run_instances_takes_the_shutdown_behavior(client: Any) -> None:
    with pytest.raises(ClientError) as err:
        client.run_instances(ImageId=_image(client)["ImageId"], MinCount=1, MaxCount=1,
                             InstanceInitiatedShutdownBehavior="explode")
    assert error_code(err) == "InvalidParameterValue"  # not one of the model's enum
    iid = _launch(client, InstanceInitiatedShutdownBehavior="terminate")
    try:
        assert _attr(client, iid, "instanceInitiatedShutdownBehavior")[
            "InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    finally:
        client.terminate_instances(InstanceIds=[iid])


def _shut_down_inside(server: Any, iid: str) -> None:
    """Power the instance's domain off behind the engine's back (as a guest
    shutting itself down does), then let one reconciler pass notice it."""
    with server.runtime.unit(readonly=True) as sv:
        inst = sv.session.query(Instance).filter(Instance.sid == iid[2:]).one()
        host = sv.session.get(Host, inst.host_uuid)
        access = host_access(sv.session, host)
        name = inst.instance_name
    assert server.runtime.drivers.get(access).inject_power_off(name)
    rec = Reconciler(server.runtime.db, server.runtime.drivers, str(uuid.uuid4()),
                     interval=0.2)
    try:
        rec.run_once()
    finally:
        rec.stop()


def _state_soon(client: Any, iid: str, wanted: str) -> None:
    for _ in range(200):
        if instance_view(client, iid)["State"]["Name"] == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"{iid} is {instance_view(client, iid)['State']['Name']}")


def test_a_guest_shutdown_stops_or_terminates_as_configured(server: Any, client: Any) -> None:
    stopper = _launch(client)
    ender = _launch(client, InstanceInitiatedShutdownBehavior="terminate")
    try:
        _shut_down_inside(server, stopper)
        _shut_down_inside(server, ender)
        _state_soon(client, stopper, "stopped")
        _state_soon(client, ender, "terminated")
    finally:
        client.terminate_instances(InstanceIds=[stopper, ender])


# -------------------------------------------------------------- hibernation
def test_hibernation_configured_at_launch(client: Any) -> None:
    image = _image(client)
    root = image["RootDeviceName"]
    iid = _launch(client, HibernationOptions={"Configured": True},
                  BlockDeviceMappings=[{"DeviceName": root, "Ebs": {"Encrypted": True}}])
    plain = _launch(client)
    try:
        assert instance_view(client, iid)["HibernationOptions"] == {"Configured": True}
        assert iid in _filtered(client, "hibernation-options.configured", "true")
        assert plain not in _filtered(client, "hibernation-options.configured", "true")
        assert plain in _filtered(client, "hibernation-options.configured", "false")
        assert instance_view(client, plain)["HibernationOptions"] == {"Configured": False}
        # a configured instance hibernates (a stop here); an unconfigured one is refused
        with pytest.raises(ClientError) as err:
            client.stop_instances(InstanceIds=[iid, plain], Hibernate=True)
        assert error_code(err) == "UnsupportedHibernationConfiguration"
        assert plain in str(err.value)
        out = client.stop_instances(InstanceIds=[iid], Hibernate=True)
        assert out["StoppingInstances"][0]["InstanceId"] == iid
        client.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        assert instance_view(client, iid)["HibernationOptions"] == {"Configured": True}
    finally:
        client.terminate_instances(InstanceIds=[iid, plain])


def test_hibernation_prerequisites(client: Any) -> None:
    image = _image(client)
    root = image["RootDeviceName"]
    for kwargs in ({},  # the root volume is not encrypted by default
                   {"BlockDeviceMappings": [{"DeviceName": root,
                                             "Ebs": {"Encrypted": False}}]},
                   {"BlockDeviceMappings": [{"DeviceName": root,
                                             "Ebs": {"Encrypted": True, "VolumeSize": 8}}],
                    "InstanceType": "m5.4xlarge"}):  # 64 GiB of memory on an 8 GiB root
        with pytest.raises(ClientError) as err:
            client.run_instances(ImageId=image["ImageId"], MinCount=1, MaxCount=1,
                                 HibernationOptions={"Configured": True}, **kwargs)
        assert error_code(err) == "UnsupportedHibernationConfiguration", kwargs
