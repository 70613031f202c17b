"""Image attributes: launchPermission (user ids = account numbers, group
"all" = public), description and blockDeviceMapping (as DescribeImages)."""

from __future__ import annotations

from typing import Any

from awsapi import ids, views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
from awsapi.permissions import Dialect, permission_edit
from engine.querying import Criterion
from engine.services.catalog import TemplateFilter
from engine.services.template_permissions import (
    AccountKey,
    PermissionChange,
    PermissionOp,
    TemplateSharing,
)
from engine.services.templates import TemplateUpdate

_ATTRIBUTES = ("description", "launchPermission", "blockDeviceMapping")
# Attributes AWS knows that the engine has no value for: described as empty.
_EMPTY = {"kernel": "KernelId", "ramdisk": "RamdiskId", "sriovNetSupport": "SriovNetSupport",
          "bootMode": "BootMode",
          "productCodes": "ProductCodes", "tpmSupport": "TpmSupport", "uefiData": "UefiData",
          "lastLaunchedTime": "LastLaunchedTime", "imdsSupport": "ImdsSupport",
          "deregistrationProtection": "DeregistrationProtection"}


def _attribute(name: str, known: tuple[str, ...]) -> str:
    if name not in known:
        raise Ec2Error("InvalidRequest", f"The request received was invalid: attribute "
                       f"'{name}' is not supported")
    return name


def _permissions(sharing: TemplateSharing) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{"Group": "all"}] if sharing.template.is_public else []
    return out + [{"UserId": a.number} for a in sharing.accounts]


@action("DescribeImageAttribute", readonly=True)
def describe_image_attribute(ctx: RequestContext, p: Params) -> Result:
    attr = _attribute(p["Attribute"], (*_ATTRIBUTES, *_EMPTY))
    image_id = p["ImageId"]
    sharing = ctx.services.templates.permissions.get(ctx.principal,
                                                     ids.parse(image_id, Kind.IMAGE))
    out: dict[str, Any] = {"ImageId": image_id}
    if attr == "launchPermission":
        out["LaunchPermissions"] = _permissions(sharing)
    elif attr == "description":
        out["Description"] = {"Value": sharing.template.display_text}
    elif attr == "blockDeviceMapping":  # as DescribeImages shows them
        found = ctx.services.catalog.templates(
            ctx.principal, TemplateFilter.ALL,
            (Criterion("sid", (sharing.template.sid,), False),)).items
        out["BlockDeviceMappings"] = (views.image(found[0])["BlockDeviceMappings"]
                                      if found else [])
    else:
        key = _EMPTY[attr]
        out[key] = [] if key.endswith("s") else {}
    return out


_LAUNCH_PERMISSION = Dialect(
    member="LaunchPermission", groups="UserGroups",
    bad_user=lambda user: Ec2Error("InvalidAMIAttributeItemValue",
                                   f'Invalid attribute item value "{user}" for userId '
                                   f'item type.'),
    nothing=lambda: Ec2Error("InvalidParameterCombination", "No attributes specified."))


def _launch_change(p: Params) -> PermissionChange:
    """ModifyImageAttribute's launch-permission change, in either form
    (awsapi.permissions)."""
    if p.get("OrganizationArns") or p.get("OrganizationalUnitArns"):
        raise Ec2Error("InvalidParameterValue",
                       "Organization launch permissions are not supported")
    edit = permission_edit(p, _LAUNCH_PERMISSION)
    op = PermissionOp.ADD if edit.add else PermissionOp.REMOVE
    return PermissionChange(op if edit.users or edit.add else None, edit.users,
                            AccountKey.NUMBER, is_public=edit.public)


@action("ModifyImageAttribute")
def modify_image_attribute(ctx: RequestContext, p: Params) -> Result:
    sid = ids.parse(p["ImageId"], Kind.IMAGE)
    attr = p.get("Attribute") or ("description" if p.get("Description") else "launchPermission")
    if _attribute(attr, _ATTRIBUTES) == "description":
        value = (p.get("Description") or {}).get("Value", p.get("Value"))
        if value is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter Value")
        ctx.services.templates.update(ctx.principal, sid, TemplateUpdate(display_text=value))
    else:
        ctx.services.templates.permissions.change(ctx.principal, sid, _launch_change(p))
    return {}


@action("ResetImageAttribute")
def reset_image_attribute(ctx: RequestContext, p: Params) -> Result:
    _attribute(p["Attribute"], ("launchPermission",))
    ctx.services.templates.permissions.change(
        ctx.principal, ids.parse(p["ImageId"], Kind.IMAGE), PermissionChange(PermissionOp.RESET))
    return {}
