"""StopInstances(Hibernate=True) on an instance launched without hibernation
configured: UnsupportedHibernationConfiguration, and the instance keeps running."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code, instance_view, running_instance


def test_hibernate_needs_hibernation_configured_at_launch(ec2: Any) -> None:
    iid = running_instance(ec2)
    with pytest.raises(ClientError) as err:
        ec2.stop_instances(InstanceIds=[iid], Hibernate=True)
    assert error_code(err) == "UnsupportedHibernationConfiguration"
    assert iid in str(err.value)
    assert instance_view(ec2, iid)["State"]["Name"] == "running"
    # Hibernate=False is an ordinary stop
    out = ec2.stop_instances(InstanceIds=[iid], Hibernate=False)
    assert out["StoppingInstances"][0]["InstanceId"] == iid
    ec2.terminate_instances(InstanceIds=[iid])


def test_unknown_instances_are_still_not_found(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.stop_instances(InstanceIds=["i-0123456789abcdef0"], Hibernate=True)
    assert error_code(err) == "InvalidInstanceID.NotFound"
