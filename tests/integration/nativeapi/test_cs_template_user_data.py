"""linkUserDataToTemplate through exoscale ``cs``: the link shows on the template,
and a deploy's user data combines with it by the link's policy."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.hypervisors.support import add_ready_template
from tests.integration.nativeapi.errors import api_error, type_errors


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def template_id(server: Any, cs: CloudStack) -> str:
    """A fresh public template of the admin's (linking changes it for everyone)."""
    name = f"ud-tmpl-{uuid.uuid4().hex[:8]}"
    add_ready_template(server.runtime, name=name, hypervisor="Simulator",
                       install_path=f"template/tmpl/{name}", size_bytes=2 * 1024**3)
    (t,) = cs.listTemplates(templatefilter="self", name=name)["template"]
    return str(t["id"])


def _deploy_user_data(cs: CloudStack, catalog: Any, template_id: str, **extra: Any) -> str:
    vm = cs.deployVirtualMachine(**{**catalog.args(startvm=False), "templateid": template_id,
                                    **extra})["virtualmachine"]
    got = cs.getVirtualMachineUserData(virtualmachineid=vm["id"])["virtualmachineuserdata"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    return base64.b64decode(got.get("userdata") or "").decode()


def test_link_shows_on_the_template_and_unlinks(cs: CloudStack, template_id: str) -> None:
    ud = cs.registerUserData(name=f"ud-{uuid.uuid4().hex[:8]}", userdata=_b64("#!/bin/sh\n"),
                             params="a,b")["userdata"]
    linked = cs.linkUserDataToTemplate(templateid=template_id, userdataid=ud["id"],
                                       userdatapolicy="append")["template"]
    assert type_errors("linkUserDataToTemplate", linked) == []
    assert (linked["id"], linked["userdataid"], linked["userdataname"],
            linked["userdatapolicy"]) == (template_id, ud["id"], ud["name"], "APPEND")
    listed = cs.listTemplates(templatefilter="self", id=template_id)["template"][0]
    assert listed["userdataid"] == ud["id"] and listed["userdatapolicy"] == "APPEND"
    # A linked object cannot be deleted; unlinking (no userdataid) frees it.
    assert api_error(cs.deleteUserData, id=ud["id"])["errorcode"] == 431
    unlinked = cs.linkUserDataToTemplate(templateid=template_id)["template"]
    assert "userdataid" not in unlinked
    cs.deleteUserData(id=ud["id"])


def test_refusals(cs: CloudStack, cs_user: CloudStack, template_id: str) -> None:
    ud = cs.registerUserData(name=f"ud-{uuid.uuid4().hex[:8]}", userdata=_b64("x"))["userdata"]
    assert api_error(cs.linkUserDataToTemplate, userdataid=ud["id"])["errorcode"] == 431
    assert api_error(cs.linkUserDataToTemplate, templateid=template_id, isoid=template_id,
                     userdataid=ud["id"])["errorcode"] == 431
    assert api_error(cs.linkUserDataToTemplate, templateid=template_id, userdataid=ud["id"],
                     userdatapolicy="sometimes")["errorcode"] == 431
    # Another account may use the public template but not change it.
    assert api_error(cs_user.linkUserDataToTemplate, templateid=template_id)["errorcode"] == 431
    cs.deleteUserData(id=ud["id"])


def test_deploy_combines_user_data_by_policy(cs: CloudStack, catalog: Any,
                                             template_id: str) -> None:
    theirs = cs.registerUserData(name=f"ud-{uuid.uuid4().hex[:8]}",
                                 userdata=_b64("template;"))["userdata"]
    mine = cs.registerUserData(name=f"ud-{uuid.uuid4().hex[:8]}",
                               userdata=_b64("stored;"))["userdata"]
    link = cs.linkUserDataToTemplate
    link(templateid=template_id, userdataid=theirs["id"], userdatapolicy="ALLOWOVERRIDE")
    assert _deploy_user_data(cs, catalog, template_id) == "template;"
    assert _deploy_user_data(cs, catalog, template_id, userdata=_b64("inline;")) == "inline;"
    assert _deploy_user_data(cs, catalog, template_id, userdataid=mine["id"]) == "stored;"
    link(templateid=template_id, userdataid=theirs["id"], userdatapolicy="APPEND")
    assert _deploy_user_data(cs, catalog, template_id,
                             userdata=_b64("inline;")) == "template;inline;"
    link(templateid=template_id, userdataid=theirs["id"], userdatapolicy="DENYOVERRIDE")
    assert _deploy_user_data(cs, catalog, template_id) == "template;"
    err = api_error(cs.deployVirtualMachine, **{**catalog.args(startvm=False),
                                                "templateid": template_id,
                                                "userdata": _b64("inline;")})
    assert err["errorcode"] == 431
    # Both kinds of the deploy's own user data at once are refused.
    link(templateid=template_id)
    err = api_error(cs.deployVirtualMachine, **{**catalog.args(startvm=False),
                                                "templateid": template_id,
                                                "userdata": _b64("a"), "userdataid": mine["id"]})
    assert err["errorcode"] == 431
