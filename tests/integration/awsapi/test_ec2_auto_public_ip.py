"""Public addresses mapped at launch live only while the instance runs, as on
AWS: released when it stops, a fresh one mapped when it starts, released at
termination; an associated Elastic IP stays through stop and start; mapped
addresses do not count against the account's Elastic IP limit."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, instance_view, public_image

PUBLIC_RANGE = ipaddress.IPv4Network("198.51.100.0/24")


def _held_by(server: Any, iid: str) -> list[tuple[str, str]]:
    """(address, state) of the public address rows the instance holds."""
    from sqlalchemy import select

    from engine.models import Instance, PublicIp

    with server.runtime.unit(readonly=True) as services:
        s = services.session
        inst = s.scalar(select(Instance).where(Instance.sid == iid.removeprefix("i-")))
        rows = s.scalars(select(PublicIp).where(PublicIp.instance_uuid == inst.uuid)).all()
        return sorted((r.address, getattr(r.state, "value", r.state)) for r in rows)


def _ip_state(server: Any, address: str) -> str:
    from sqlalchemy import select

    from engine.models import PublicIp

    with server.runtime.unit(readonly=True) as services:
        row = services.session.scalar(select(PublicIp).where(PublicIp.address == address))
        return str(getattr(row.state, "value", row.state))


def _launch(ec2: Any) -> tuple[str, str]:
    run = ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=1)["Instances"][0]
    ec2.get_waiter("instance_running").wait(InstanceIds=[run["InstanceId"]], WaiterConfig=WAIT)
    return run["InstanceId"], run["PublicIpAddress"]


def _stop(ec2: Any, iid: str) -> None:
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def _start(ec2: Any, iid: str) -> None:
    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def test_stop_releases_and_start_maps_a_fresh_address(server: Any, ec2: Any) -> None:
    iid, first = _launch(ec2)
    assert ipaddress.IPv4Address(first) in PUBLIC_RANGE
    _stop(ec2, iid)
    stopped = instance_view(ec2, iid)
    assert "PublicIpAddress" not in stopped
    assert _held_by(server, iid) == []  # a stopped instance holds no mapped address
    assert _ip_state(server, first) == "Free"
    eni = ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"][0]
    assert "Association" not in eni
    _start(ec2, iid)
    again = instance_view(ec2, iid)["PublicIpAddress"]
    assert ipaddress.IPv4Address(again) in PUBLIC_RANGE
    assert _held_by(server, iid) == [(again, "Allocated")]
    assert ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [again]}])[
        "Addresses"] == []  # still not an Elastic IP of the account
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert _ip_state(server, again) == "Free"


def test_an_elastic_ip_stays_through_stop_and_start(server: Any, ec2: Any) -> None:
    iid, mapped = _launch(ec2)
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    assert _ip_state(server, mapped) == "Free"
    _stop(ec2, iid)
    assert instance_view(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    assert _held_by(server, iid) == [(eip["PublicIp"], "Allocated")]
    _start(ec2, iid)
    assert instance_view(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    assert _held_by(server, iid) == [(eip["PublicIp"], "Allocated")]  # no second address
    # Disassociating from a stopped instance maps nothing until it runs again.
    _stop(ec2, iid)
    assoc = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0][
        "AssociationId"]
    ec2.disassociate_address(AssociationId=assoc)
    assert _held_by(server, iid) == []
    _start(ec2, iid)
    fresh = instance_view(ec2, iid)["PublicIpAddress"]
    assert fresh != eip["PublicIp"] and _held_by(server, iid) == [(fresh, "Allocated")]
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert _ip_state(server, fresh) == "Free"
    assert _ip_state(server, eip["PublicIp"]) == "Allocated"
    ec2.release_address(AllocationId=eip["AllocationId"])


def test_mapped_addresses_do_not_count_against_the_address_limit(server: Any) -> None:
    from engine.models import Account
    from engine.principal import Principal
    from engine.services.resource_limits import Resource
    from engine.states import Role

    name = f"apl-{uuid.uuid4().hex[:8]}"
    client = server.ec2(*server.new_user(name))
    with server.runtime.unit() as sv:
        account_uuid = sv.session.query(Account).filter(Account.name == name).one().uuid
        domain = sv.accounts.root_domain()
        root = Principal(user_uuid="", user_name="t", account_uuid="", account_name="t",
                         account_number="0", domain_uuid=domain.uuid, domain_path="/",
                         role=Role.ADMIN)
        sv.resource_limits.set_limit(root, Resource.PUBLIC_IP, 1, account_uuid=account_uuid)
    iid, mapped = _launch(client)
    with server.runtime.unit(readonly=True) as sv:
        assert sv.resource_limits.usage(Resource.PUBLIC_IP, account_uuid=account_uuid) == 0
    eip = client.allocate_address(Domain="vpc")  # the one Elastic IP the limit allows
    with pytest.raises(ClientError) as err:
        client.allocate_address(Domain="vpc")
    assert error_code(err) == "AddressLimitExceeded"
    with server.runtime.unit(readonly=True) as sv:
        assert sv.resource_limits.usage(Resource.PUBLIC_IP, account_uuid=account_uuid) == 1
    client.release_address(AllocationId=eip["AllocationId"])
    client.terminate_instances(InstanceIds=[iid])
    client.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert _ip_state(server, mapped) == "Free"
