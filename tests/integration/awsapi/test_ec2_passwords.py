"""GetPasswordData: empty until a password is set, then the key pair's RSA ciphertext."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from engine.models import Instance, Template


def test_password_data_empty_then_encrypted(server: Any, ec2: Any) -> None:
    name = f"pw-{uuid.uuid4().hex[:8]}"
    key = ec2.create_key_pair(KeyName=name)
    private = serialization.load_pem_private_key(key["KeyMaterial"].encode(), None)
    image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if i["Name"].startswith("amzn2"))
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro",
                            KeyName=name)["Instances"][0]["InstanceId"]
    empty = ec2.get_password_data(InstanceId=iid)
    assert (empty["InstanceId"], empty["PasswordData"]) == (iid, "")
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    with server.runtime.unit() as sv:
        inst = sv.session.query(Instance).filter(Instance.sid == iid[2:]).one()
        template = sv.session.get(Template, inst.template_uuid)
        template.password_enabled = True
        vm_uuid, template_uuid = inst.uuid, template.uuid
        admin = sv.accounts.user_by_name("admin")
        from engine.services.accounts import principal_of
        reset = sv.passwords.reset(principal_of(sv.session, admin), vm_uuid)
        template.password_enabled = False
    data = ec2.get_password_data(InstanceId=iid)["PasswordData"]
    plain = private.decrypt(base64.b64decode(data), padding.PKCS1v15()).decode()  # type: ignore[union-attr]
    assert plain == reset.password and template_uuid
    ec2.terminate_instances(InstanceIds=[iid])
