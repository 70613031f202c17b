"""Standalone network interfaces: CreateNetworkInterface, DeleteNetworkInterface,
AttachNetworkInterface, DetachNetworkInterface, and the attributes of every
interface: Describe/Modify/ResetNetworkInterfaceAttribute
(DescribeNetworkInterfaces lives in :mod:`awsapi.actions.networking`).

An interface is a NIC of the engine (:mod:`engine.services.nic_management`);
attaching and detaching run as jobs, so the answer comes before the interface
is ``in-use`` / ``available`` (AWS's ``attaching`` / ``detaching``).
"""

from __future__ import annotations

from typing import Any

from awsapi import ids, views_interfaces, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.volumes import tag_specs
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
from engine.errors import NotFound
from engine.querying import Criterion
from engine.services.nic_management import NicChange

ATTACHMENT_PREFIX = "eni-attach-"


def _attachment_sid(value: str) -> str:
    """The sid in ``eni-attach-<hex>`` (InvalidAttachmentID.NotFound otherwise:
    AWS has no Malformed code for attachment ids)."""
    sid = value[len(ATTACHMENT_PREFIX):] if value.startswith(ATTACHMENT_PREFIX) else ""
    if len(sid) not in (8, 17) or any(c not in "0123456789abcdef" for c in sid):
        raise Ec2Error("InvalidAttachmentID.NotFound",
                       f"Attachment ID '{value}' does not exist.")
    return sid


@action("CreateNetworkInterface")
def create_network_interface(ctx: RequestContext, p: Params) -> Result:
    for unsupported in ("Ipv6Addresses", "Ipv6AddressCount", "Ipv4Prefixes", "Ipv6Prefixes",
                        "Ipv4PrefixCount", "Ipv6PrefixCount", "SecondaryPrivateIpAddressCount",
                        "PrivateIpAddresses"):
        if p.get(unsupported):
            raise Ec2Error("InvalidParameterValue",
                           f"The parameter {unsupported} is not supported")
    if p.get("InterfaceType") not in (None, "interface"):
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({p['InterfaceType']}) for parameter interfaceType is invalid")
    subnet = ids.parse(p["SubnetId"], Kind.SUBNET)
    groups = [ids.parse(g, Kind.SECURITY_GROUP) for g in p.get("Groups") or ()]
    nic = ctx.services.nics.create(
        ctx.principal, subnet, ip=p.get("PrivateIpAddress") or None, group_idents=groups,
        description=p.get("Description") or "", tags=tag_specs(p, "network-interface"))
    detail = ctx.services.interfaces.list(
        ctx.principal, [Criterion("sid", (nic.sid,), False)]).items[0]
    out: Result = {"NetworkInterface": views_network.network_interface(
        detail, ctx.principal.account_number)}
    if p.get("ClientToken"):
        out["ClientToken"] = p["ClientToken"]
    return out


@action("DeleteNetworkInterface")
def delete_network_interface(ctx: RequestContext, p: Params) -> Result:
    ctx.services.nics.delete(ctx.principal, ids.parse(p["NetworkInterfaceId"],
                                                      Kind.NETWORK_INTERFACE))
    return {}


@action("AttachNetworkInterface")
def attach_network_interface(ctx: RequestContext, p: Params) -> Result:
    if p.get("NetworkCardIndex") not in (None, 0):
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({p['NetworkCardIndex']}) for parameter networkCardIndex is "
                       "invalid")
    nic, _job = ctx.services.nics.attach(
        ctx.principal, ids.parse(p["NetworkInterfaceId"], Kind.NETWORK_INTERFACE),
        ids.parse(p["InstanceId"], Kind.INSTANCE), int(p["DeviceIndex"]),
        command="AttachNetworkInterface")
    return {"AttachmentId": f"{ATTACHMENT_PREFIX}{nic.attachment_sid}", "NetworkCardIndex": 0}


@action("DetachNetworkInterface")
def detach_network_interface(ctx: RequestContext, p: Params) -> Result:
    wire = p["AttachmentId"]
    sid = _attachment_sid(wire)
    try:
        nic = ctx.services.nics.by_attachment(ctx.principal, sid)
    except NotFound as exc:
        raise Ec2Error("InvalidAttachmentID.NotFound",
                       f"Attachment ID '{wire}' does not exist.") from exc
    ctx.services.nics.detach(ctx.principal, nic.attachment_sid or nic.sid,
                             force=bool(p.get("Force")), command="DetachNetworkInterface")
    return {}


# ------------------------------------------------------------------ attributes
def _interface(ctx: RequestContext, wire_id: str) -> Any:
    """The visible interface (InterfaceDetail) with this id."""
    sid = ids.parse(wire_id, Kind.NETWORK_INTERFACE)
    found = ctx.services.interfaces.list(ctx.principal, [Criterion("sid", (sid,), False)]).items
    if not found:
        raise Ec2Error(Kind.NETWORK_INTERFACE.not_found_code,
                       f"The networkInterface ID '{wire_id}' does not exist")
    return found[0]


@action("DescribeNetworkInterfaceAttribute", readonly=True)
def describe_network_interface_attribute(ctx: RequestContext, p: Params) -> Result:
    attribute = p.get("Attribute")
    if not attribute:
        raise Ec2Error("MissingParameter", "The request must contain the parameter attribute")
    if attribute not in views_interfaces.ATTRIBUTES:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    detail = _interface(ctx, p["NetworkInterfaceId"])
    return views_interfaces.interface_attribute(detail, attribute, ctx.principal.account_number)


# Members of ModifyNetworkInterfaceAttribute this cloud cannot change.
_UNSUPPORTED = ("EnaSrdSpecification", "EnablePrimaryIpv6", "ConnectionTrackingSpecification",
                "AssociatePublicIpAddress", "AssociatedSubnetIds")


def _change(p: Params, attachment_sid: str | None) -> NicChange:
    """The one change the request asks for (AWS changes one attribute a call)."""
    given = [m for m in ("Description", "SourceDestCheck", "Groups", "Attachment")
             if p.get(m) is not None]
    for member in _UNSUPPORTED:
        if p.get(member) is not None:
            raise Ec2Error("UnsupportedOperation",
                           f"Changing {member} is not supported by this cloud.")
    if len(given) > 1:
        raise Ec2Error("InvalidParameterCombination",
                       "Fields for multiple attribute types specified: " + ", ".join(given))
    if not given:
        raise Ec2Error("MissingParameter", "The request must contain the parameter attribute")
    member = given[0]
    if member == "Groups":
        return NicChange(group_idents=tuple(ids.parse(g, Kind.SECURITY_GROUP)
                                            for g in p["Groups"]))
    if member == "Attachment":
        att = p["Attachment"]
        wire = att.get("AttachmentId")
        if not wire:
            raise Ec2Error("MissingParameter",
                           "The request must contain the parameter attachment.attachmentId")
        if att.get("DeleteOnTermination") is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter "
                           "attachment.deleteOnTermination")
        if _attachment_sid(wire) != attachment_sid:
            raise Ec2Error("InvalidAttachmentID.NotFound",
                           f"Attachment ID '{wire}' does not exist.")
        return NicChange(delete_on_termination=bool(att["DeleteOnTermination"]),
                         attachment_sid=attachment_sid)
    value = p[member].get("Value")
    if value is None:
        raise Ec2Error("MissingParameter",
                       f"The request must contain the parameter {member}.Value")
    if member == "Description":
        return NicChange(description=str(value))
    return NicChange(source_dest_check=bool(value))


@action("ModifyNetworkInterfaceAttribute")
def modify_network_interface_attribute(ctx: RequestContext, p: Params) -> Result:
    detail = _interface(ctx, p["NetworkInterfaceId"])
    nic = detail.nic
    attached = (nic.attachment_sid or nic.sid) if detail.instance is not None else None
    ctx.services.nics.modify(ctx.principal, nic.sid, _change(p, attached))
    return {}


@action("ResetNetworkInterfaceAttribute")
def reset_network_interface_attribute(ctx: RequestContext, p: Params) -> Result:
    # SourceDestCheck names the attribute to reset (the only one that can be).
    if p.get("SourceDestCheck") is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter attribute")
    detail = _interface(ctx, p["NetworkInterfaceId"])
    ctx.services.nics.modify(ctx.principal, detail.nic.sid, NicChange(source_dest_check=True))
    return {}
