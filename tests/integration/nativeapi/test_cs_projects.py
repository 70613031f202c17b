"""createProject / listProjects, the hidden project account and projectid on VMs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from tests.integration.nativeapi.conftest import Catalog, User
from tests.integration.nativeapi.errors import type_errors


def test_create_and_list_projects(cs_user: CloudStack, cs: CloudStack, user: User) -> None:
    name = f"proj-{uuid.uuid4().hex[:6]}"
    project = cs_user.createProject(name=name, displaytext="My project")["project"]
    assert (project["name"], project["displaytext"], project["state"]) == (
        name, "My project", "Active")
    assert project["owner"] == [{"account": user.name}]
    assert project["vmlimit"] == "Unlimited" and project["vmtotal"] == 0
    assert type_errors("listProjects", project) == []
    mine = cs_user.listProjects()["project"]
    assert [p["id"] for p in mine] == [project["id"]]
    assert cs_user.listProjects(id=project["id"])["count"] == 1
    # The project's account is hidden from account listings.
    names = {a["name"] for a in cs.listAccounts(listall=True)["account"]}
    assert project["projectaccountname"] not in names
    # Another user does not see it; the root admin does with listall.
    assert project["id"] in {p["id"] for p in cs.listProjects(listall=True)["project"]}
    assert project["id"] not in {p["id"] for p in cs.listProjects().get("project", [])}


def test_duplicate_project_name_is_rejected(cs_user: CloudStack) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    cs_user.createProject(name=name)
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.createProject(name=name)
    assert exc.value.error["errorcode"] == 431


def test_project_limit_on_the_owner(cs: CloudStack, cs_user: CloudStack, user: User) -> None:
    me = cs_user.listAccounts()["account"][0]
    cs.updateResourceLimit(resourcetype=5, account=user.name, domainid=me["domainid"], max=0)
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.createProject(name=f"p-{uuid.uuid4().hex[:6]}")
    assert exc.value.error["errorcode"] == 535
    assert "type 'project'" in exc.value.error["errortext"]


def test_vms_deployed_in_a_project_belong_to_it(server: Any, cs_user: CloudStack, cs: CloudStack,
                                                catalog: Catalog) -> None:
    project = cs_user.createProject(name=f"vmp-{uuid.uuid4().hex[:6]}")["project"]
    vm = cs_user.deployVirtualMachine(projectid=project["id"],
                                      **catalog.args(startvm=False))["virtualmachine"]
    assert vm["account"] == project["projectaccountname"]
    in_project = cs_user.listVirtualMachines(projectid=project["id"])["virtualmachine"]
    assert [v["id"] for v in in_project] == [vm["id"]]
    assert vm["id"] not in {v["id"] for v in cs_user.listVirtualMachines().get(
        "virtualmachine", [])}
    # The project's limits apply to what is deployed in it.
    cs.updateResourceLimit(resourcetype=0, projectid=project["id"], max=1)
    limits = cs_user.listResourceLimits(projectid=project["id"], resourcetype=0)
    assert limits["resourcelimit"][0]["max"] == 1
    assert limits["resourcelimit"][0]["projectid"] == project["id"]
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.deployVirtualMachine(projectid=project["id"], **catalog.args(startvm=False))
    assert exc.value.error["errorcode"] == 535
    assert f"project name={project['name']}" in exc.value.error["errortext"]
    listed = cs_user.listProjects(id=project["id"])["project"][0]
    assert (listed["vmtotal"], listed["vmlimit"], listed["vmavailable"]) == (1, "1", "0")


def test_non_member_cannot_use_the_project(server: Any, cs_user: CloudStack, catalog: Catalog,
                                           make_cs: Any) -> None:
    project = cs_user.createProject(name=f"np-{uuid.uuid4().hex[:6]}")["project"]
    other = make_cs(*server.new_user(f"other-{uuid.uuid4().hex[:6]}"), fetch_result=True)
    with pytest.raises(CloudStackApiException) as exc:
        other.deployVirtualMachine(projectid=project["id"], **catalog.args(startvm=False))
    assert exc.value.error["errorcode"] == 431
