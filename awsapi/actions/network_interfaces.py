"""Standalone network interfaces: CreateNetworkInterface, DeleteNetworkInterface,
AttachNetworkInterface, DetachNetworkInterface (DescribeNetworkInterfaces lives in
:mod:`awsapi.actions.networking`).

An interface is a NIC of the engine (:mod:`engine.services.nic_management`);
attaching and detaching run as jobs, so the answer comes before the interface
is ``in-use`` / ``available`` (AWS's ``attaching`` / ``detaching``).
"""

from __future__ import annotations

from awsapi import ids, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.volumes import tag_specs
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
from engine.errors import NotFound
from engine.querying import Criterion

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
