"""Images (AMIs) are the engine's templates.

Tags given as TagSpecifications at creation are applied in the request's
transaction, so a refused tag leaves no image behind.

As on AWS, CreateImage also snapshots the instance's root volume (the image's
snapshot, described "Created by CreateImage(i-...) for ami-..."), and CopyImage
copies the source image's snapshot; "snapshot" TagSpecifications tag those
snapshots. CopyImage honours ClientToken as CreateVolume does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from awsapi import ids, views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.filters import IMAGE_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import ConflictingParameters, InvalidParameter, ResourceKind
from engine.querying import Criterion, Paging
from engine.services.catalog import TemplateFilter
from engine.services.templates import BackingSnapshot, TemplateRequest

if TYPE_CHECKING:
    from engine.models import Template

# AWS's AMI names: 3-128 characters of letters, digits and ()[] ./-'@_
_NAME = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$")


def paging(p: Params, *, minimum: int = 5, maximum: int = 1000) -> Paging:
    """MaxResults/NextToken as engine paging (AWS's bounds are checked)."""
    limit = p.get("MaxResults")
    if limit is not None and not minimum <= limit <= maximum:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value between {minimum} and {maximum}.")
    return Paging(limit=limit, token=p.get("NextToken"))


@action("DescribeImages", readonly=True)
def describe_images(ctx: RequestContext, p: Params) -> Result:
    crit = list(criteria(p.get("Filters"), IMAGE_FILTERS))
    image_ids = p.get("ImageIds") or []
    sids = [ids.parse(i, Kind.IMAGE) for i in image_ids]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    owners = p.get("Owners") or []
    numbers = []
    for owner in owners:
        if owner == "self":
            numbers.append(ctx.principal.account_number)
        elif owner in ("amazon", "aws-marketplace"):
            crit.append(Criterion("template_type", ("BUILTIN",), False))
        elif owner.isdigit():
            numbers.append(owner)
        else:
            raise Ec2Error("InvalidUserID.Malformed", f"Invalid user id: \"{owner}\"")
    if numbers:
        crit.append(Criterion("owner_number", tuple(numbers), False))
    executable = permission_criterion(ctx, p.get("ExecutableUsers") or [], "launch_permission")
    if executable is not None:
        crit.append(executable)
    # Asked by id or as "self": the caller's own images also while pending or failed.
    which = TemplateFilter.ALL if sids or numbers else TemplateFilter.EXECUTABLE
    page = ctx.services.catalog.templates(ctx.principal, which, tuple(crit), paging(p))
    if sids:
        found = {t.template.sid for t in page.items}
        missing = [i for i, s in zip(image_ids, sids, strict=True) if s not in found]
        if missing:
            raise Ec2Error(Kind.IMAGE.not_found_code,
                           f"The image id '[{missing[0]}]' does not exist")
    return {"Images": [views.image(t) for t in page.items], "NextToken": page.next_token}


def permission_criterion(ctx: RequestContext, users: list[str], field: str) -> Criterion | None:
    """``ExecutableUsers`` (or snapshots' ``RestorableByUserIds``) as one
    criterion on the engine's ``field`` (``launch_permission`` of templates,
    ``restore_permission`` of snapshots), as AWS documents them: ``all`` the
    public ones; ``self`` (or the caller's own account id) the caller's own and
    those shared with it; another account id the caller's own shared with that
    account (only an owner sees whom it shares with). Several values: any."""
    if not users:
        return None
    me = ctx.principal.account_number
    grants: list[str] = []
    for user in users:
        if user == "all":
            grants.append("public")
        elif user in ("self", me):
            grants.append(f"account:{me}")
        elif user.isdigit() and len(user) == 12:
            grants.append(f"grant:{me}:{user}")
        else:
            raise Ec2Error("InvalidUserID.Malformed", f'Invalid user id: "{user}"')
    return Criterion(field, tuple(dict.fromkeys(grants)), False)


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise Ec2Error("InvalidAMIName.Malformed",
                       f"AMI names must be between 3 and 128 characters long, and may contain "
                       f"letters, numbers, '(', ')', '.', '-', '/' and '_': {name}")
    return name


def _request(p: Params, **kw: object) -> TemplateRequest:
    return TemplateRequest(name=_name(p["Name"]), display_text=p.get("Description", ""),
                           arch=p.get("Architecture") or "x86_64", unique_name=True,
                           **kw)  # type: ignore[arg-type]


def _tag_specs(p: Params, allowed: Collection[str]) -> dict[str, list[tuple[str, str]]]:
    """TagSpecifications by resource type; a type outside ``allowed`` is refused."""
    out: dict[str, list[tuple[str, str]]] = {}
    for spec in p.get("TagSpecifications") or ():
        kind = spec.get("ResourceType")
        if kind not in allowed:
            raise Ec2Error("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        out.setdefault(kind, []).extend(
            (t.get("Key", ""), t.get("Value", "")) for t in spec.get("Tags") or ())
    return out


def _tag_image(ctx: RequestContext, template_uuid: str,
               specs: dict[str, list[tuple[str, str]]]) -> None:
    if specs.get("image"):
        ctx.services.tags.create(ctx.principal, ResourceKind.TEMPLATE, [template_uuid],
                                 specs["image"])


def _root_mapping(p: Params) -> dict[str, Any] | None:
    """The root device mapping with a snapshot (the first one if no RootDeviceName)."""
    root = p.get("RootDeviceName")
    for m in p.get("BlockDeviceMappings") or []:
        if (root is None or m.get("DeviceName") == root) and m.get("Ebs", {}).get("SnapshotId"):
            return m  # type: ignore[no-any-return]
    return None


@action("RegisterImage")
def register_image(ctx: RequestContext, p: Params) -> Result:
    """From ImageLocation (an http(s) URL the engine downloads) or from the
    root device's snapshot."""
    specs = _tag_specs(p, ("image",))
    root = _root_mapping(p)
    location = p.get("ImageLocation")
    if location and root:
        raise Ec2Error("InvalidParameterCombination",
                       "Specify either ImageLocation or a root device snapshot, not both")
    if root:
        t = _register_from_snapshot(ctx, p, root)
    elif location:
        t, _ = ctx.services.templates.register(
            ctx.principal, _request(p, url=location), command="RegisterImage")
    else:
        raise Ec2Error("MissingParameter", "The request must contain the parameter "
                       "ImageLocation or a block device mapping with a root snapshot")
    _tag_image(ctx, t.uuid, specs)
    return {"ImageId": ids.render(Kind.IMAGE, t.sid)}


def _register_from_snapshot(ctx: RequestContext, p: Params, root: dict[str, Any]) -> Template:
    """RegisterImage of a root mapping's snapshot: the mapping's VolumeSize (GiB,
    at least the snapshot's) and device name become the image's root."""
    snapshot_id = root["Ebs"]["SnapshotId"]
    size = root["Ebs"].get("VolumeSize")
    try:
        t, _ = ctx.services.templates.create_from_snapshot(
            ctx.principal, ids.parse(snapshot_id, Kind.SNAPSHOT), _request(p),
            command="RegisterImage", size_bytes=size * 1024**3 if size else None,
            root_device_name=p.get("RootDeviceName") or root.get("DeviceName"))
    except InvalidParameter as exc:
        if exc.name != "root_size":
            raise
        raise Ec2Error("InvalidBlockDeviceMapping",
                       f"Volume of size {size}GB is smaller than snapshot "
                       f"'{snapshot_id}'.") from exc
    return t


def _backing(specs: dict[str, list[tuple[str, str]]], describe: Callable[[Template, str], str],
             ) -> BackingSnapshot:
    return BackingSnapshot(describe=describe, tags=tuple(specs.get("snapshot", ())))


@action("CreateImage")
def create_image(ctx: RequestContext, p: Params) -> Result:
    # QUIRK(ec2): NoReboot=false would reboot the instance for a consistent image;
    # the engine images the root disk as it is either way.
    specs = _tag_specs(p, ("image", "snapshot"))
    instance_id = p["InstanceId"]

    def describe(t: Template, _volume_sid: str) -> str:
        return f"Created by CreateImage({instance_id}) for {ids.render(Kind.IMAGE, t.sid)}"

    t, _ = ctx.services.templates.create_from_instance(
        ctx.principal, ids.parse(instance_id, Kind.INSTANCE), _request(p),
        allow_running=True, command="CreateImage", backing=_backing(specs, describe))
    _tag_image(ctx, t.uuid, specs)
    return {"ImageId": ids.render(Kind.IMAGE, t.sid)}


@action("DeregisterImage")
def deregister_image(ctx: RequestContext, p: Params) -> Result:
    # AWS lets instances launched from a deregistered image keep running.
    ctx.services.templates.delete(ctx.principal, ids.parse(p["ImageId"], Kind.IMAGE),
                                  force=True, command="DeregisterImage")
    return {"Return": True}


@action("CopyImage")
def copy_image(ctx: RequestContext, p: Params) -> Result:
    if p["SourceRegion"] != ctx.region:
        raise Ec2Error("InvalidParameterValue",
                       f"Invalid region: {p['SourceRegion']}; images can only be copied "
                       f"within {ctx.region}")
    # QUIRK(ec2): an image with no snapshot of its own (registered from a URL, or
    # built in) has nothing to copy, so "snapshot" specifications tag nothing.
    specs = _tag_specs(p, ("image", "snapshot"))
    source_id = p["SourceImageId"]

    def describe(t: Template, snapshot_sid: str) -> str:
        return (f"Copied for DestinationAmi {ids.render(Kind.IMAGE, t.sid)} from SourceAmi "
                f"{source_id} for SourceSnapshot {ids.render(Kind.SNAPSHOT, snapshot_sid)}")

    token = p.get("ClientToken")
    if token is not None and len(token) > 64:
        raise Ec2Error("InvalidParameterValue",
                       "Value for parameter clientToken is invalid: "
                       "it is longer than 64 characters.")
    try:
        # A retry with the same token returns the first copy, tags and all.
        t, _ = ctx.services.templates.duplicate(
            ctx.principal, ids.parse(source_id, Kind.IMAGE),
            _name(p["Name"]), p.get("Description"), unique_name=True, command="CopyImage",
            backing=_backing(specs, describe), tags=tuple(specs.get("image", ())),
            client_token=token or None)
    except ConflictingParameters as exc:
        if exc.names != ("client_token",):
            raise
        raise Ec2Error("IdempotentParameterMismatch",
                       "Arguments on this idempotent request are inconsistent with arguments "
                       f"used in previous request(s) with client token '{token}'.") from exc
    return {"ImageId": ids.render(Kind.IMAGE, t.sid)}
