"""Elastic IP addresses: allocate, describe, associate, disassociate, release."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

from awsapi import ids
from awsapi import views_storage as views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.volumes import require_found, tag_specs
from awsapi.errors_wire import Ec2Error
from awsapi.filters import ADDRESS_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import InUse, InvalidParameter, NotFound, ResourceKind
from engine.querying import Criterion, Paging


@contextmanager
def _not_found_as(code: str, message: str) -> Iterator[None]:
    """Re-raise the engine's address NotFound as EC2 ``code`` (EC2 names the
    error after the identifier the caller gave: a public IP, an association)."""
    try:
        yield
    except NotFound as exc:
        if exc.kind is not ResourceKind.PUBLIC_IP:
            raise
        raise Ec2Error(code, message) from exc


def _public_ip(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise Ec2Error("InvalidParameterValue",
                       f"Invalid value '{value}' for PublicIp. It must be an IPv4 address.") \
            from exc


def _address_ident(ctx: RequestContext, p: Params) -> str:
    """The engine identifier of the address named by exactly one of
    ``AllocationId`` and ``PublicIp``."""
    allocation, public = p.get("AllocationId"), p.get("PublicIp")
    if allocation and public:
        raise Ec2Error("InvalidParameterCombination",
                       "You may specify public IP or allocation id, but not both in the same "
                       "call")
    if allocation:
        return ids.parse(allocation, Kind.ADDRESS)
    if not public:
        raise Ec2Error("MissingParameter",
                       "Either public IP or allocation id must be specified")
    with _not_found_as("InvalidAddress.NotFound", f"Address '{public}' not found."):
        return ctx.services.addresses.get(ctx.principal, address=_public_ip(public)).ip.uuid


@action("AllocateAddress")
def allocate_address(ctx: RequestContext, p: Params) -> Result:
    if p.get("NetworkBorderGroup") not in (None, ctx.region):
        raise Ec2Error("InvalidParameterValue",
                       f"Invalid network border group: {p['NetworkBorderGroup']}")
    if p.get("PublicIpv4Pool") not in (None, "amazon"):
        raise Ec2Error("InvalidParameterValue",
                       f"The pool ID '{p['PublicIpv4Pool']}' does not exist.")
    wanted = p.get("Address")
    ip = ctx.services.addresses.allocate(
        ctx.principal, address=_public_ip(wanted) if wanted else None,
        tags=tag_specs(p, "elastic-ip"))
    return {"PublicIp": ip.address, "AllocationId": ids.render(Kind.ADDRESS, ip.sid),
            "Domain": "vpc", "PublicIpv4Pool": "amazon", "NetworkBorderGroup": ctx.region}


@action("DescribeAddresses", readonly=True)
def describe_addresses(ctx: RequestContext, p: Params) -> Result:
    allocation_ids = p.get("AllocationIds") or []
    sids = [ids.parse(a, Kind.ADDRESS) for a in allocation_ids]
    public_ips = [_public_ip(i) for i in p.get("PublicIps") or []]
    crit = list(criteria(p.get("Filters"), ADDRESS_FILTERS))
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    if public_ips:
        crit.append(Criterion("address", tuple(public_ips), False))
    page = ctx.services.addresses.list(ctx.principal, tuple(crit), elastic_only=True)
    if not p.get("Filters"):
        require_found(allocation_ids, sids, {d.ip.sid for d in page.items}, Kind.ADDRESS,
                      "allocation ID")
        missing = [i for i in public_ips if i not in {d.ip.address for d in page.items}]
        if missing:
            raise Ec2Error("InvalidAddress.NotFound", f"Address '{missing[0]}' not found.")
    return {"Addresses": [views.address(d, ctx.region) for d in page.items]}


@action("AssociateAddress")
def associate_address(ctx: RequestContext, p: Params) -> Result:
    if p.get("NetworkInterfaceId"):
        raise Ec2Error("UnsupportedOperation", "Associating an address with a network "
                       "interface is not supported; give InstanceId.")
    if not p.get("InstanceId"):
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceId")
    instance = ids.parse(p["InstanceId"], Kind.INSTANCE)
    target = _address_ident(ctx, p)
    try:
        association = ctx.services.addresses.associate(
            ctx.principal, target, instance,
            allow_reassociation=bool(p.get("AllowReassociation")))
    except InUse as exc:
        name = p.get("AllocationId") or p.get("PublicIp")
        raise Ec2Error("Resource.AlreadyAssociated",
                       f"resource {name} is already associated with another instance") from exc
    return {"AssociationId": ids.render(Kind.ASSOCIATION, association)}


@action("DisassociateAddress")
def disassociate_address(ctx: RequestContext, p: Params) -> Result:
    association, public = p.get("AssociationId"), p.get("PublicIp")
    if association and public:
        raise Ec2Error("InvalidParameterCombination",
                       "You may specify public IP or association id, but not both in the "
                       "same call")
    if association:
        sid = ids.parse(association, Kind.ASSOCIATION)
        with _not_found_as(Kind.ASSOCIATION.not_found_code,
                           f"The association ID '{association}' does not exist"):
            ctx.services.addresses.disassociate(ctx.principal, association_sid=sid)
        return {}
    if not public:
        raise Ec2Error("MissingParameter",
                       "Either public IP or association id must be specified")
    target = _address_ident(ctx, p)
    ctx.services.addresses.disassociate(ctx.principal, ip_uuid=target)
    return {}


@action("ReleaseAddress")
def release_address(ctx: RequestContext, p: Params) -> Result:
    target = _address_ident(ctx, p)
    ctx.services.addresses.release(ctx.principal, target)
    return {}


# ------------------------------------------------------- reverse DNS (PTR)
ATTRIBUTES = ("domain-name",)


def default_ptr_record(address: str, region: str) -> str:
    """AWS's own reverse name of a public address in ``region`` (with the final dot)."""
    dashed = address.replace(".", "-")
    if region == "us-east-1":
        return f"ec2-{dashed}.compute-1.amazonaws.com."
    return f"ec2-{dashed}.{region}.compute.amazonaws.com."


def _with_ptr(item: Result, name: str | None) -> Result:
    """``item`` with the PtrRecord set by the holder (none shown for the default)."""
    if name:
        item["PtrRecord"] = f"{name}."
    return item


def _attribute_name(p: Params, *, required: bool) -> str | None:
    attribute = p.get("Attribute")
    if attribute is None and not required:
        return None
    if not attribute:
        raise Ec2Error("MissingParameter", "The request must contain the parameter attribute")
    if attribute not in ATTRIBUTES:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    return str(attribute)


def _set_ptr(ctx: RequestContext, p: Params, name: str | None) -> Result:
    """Set (None: reset) the PTR name; the answer shows the record set before
    (if any) and the update, PENDING, as AWS does (here it is applied at once;
    a reset goes back to AWS's default name)."""
    if not p.get("AllocationId"):
        raise Ec2Error("MissingParameter", "The request must contain the parameter AllocationId")
    target = ids.parse(p["AllocationId"], Kind.ADDRESS)
    try:
        before, ip = ctx.services.addresses.set_reverse_dns(ctx.principal, target, name)
    except InvalidParameter as exc:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({name}) for parameter domainName is invalid.") from exc
    new = (f"{ip.reverse_dns_name}." if ip.reverse_dns_name
           else default_ptr_record(ip.address, ctx.region))
    address = {"PublicIp": ip.address, "AllocationId": p["AllocationId"]}
    return {"Address": {**_with_ptr(address, before),
                        "PtrRecordUpdate": {"Value": new, "Status": "PENDING"}}}


@action("ModifyAddressAttribute")
def modify_address_attribute(ctx: RequestContext, p: Params) -> Result:
    name = p.get("DomainName")
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter DomainName")
    return _set_ptr(ctx, p, str(name))


@action("ResetAddressAttribute")
def reset_address_attribute(ctx: RequestContext, p: Params) -> Result:
    _attribute_name(p, required=True)
    return _set_ptr(ctx, p, None)


@action("DescribeAddressesAttribute", readonly=True)
def describe_addresses_attribute(ctx: RequestContext, p: Params) -> Result:
    attribute = _attribute_name(p, required=False)
    allocation_ids = p.get("AllocationIds") or []
    sids = [ids.parse(a, Kind.ADDRESS) for a in allocation_ids]
    crit = (Criterion("sid", tuple(sids), False),) if sids else ()
    page = ctx.services.addresses.list(
        ctx.principal, crit, Paging(limit=p.get("MaxResults"), token=p.get("NextToken")),
        elastic_only=True)
    if sids and not p.get("NextToken"):
        require_found(allocation_ids, sids, {d.ip.sid for d in page.items}, Kind.ADDRESS,
                      "allocation ID")
    out = []
    for d in page.items:
        item: Result = {"PublicIp": d.ip.address,
                        "AllocationId": ids.render(Kind.ADDRESS, d.ip.sid)}
        out.append(_with_ptr(item, d.ip.reverse_dns_name) if attribute else item)
    return {"Addresses": out, "NextToken": page.next_token}
