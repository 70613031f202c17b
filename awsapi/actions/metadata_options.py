"""ModifyInstanceMetadataOptions: how an instance's guest reaches its metadata."""

from __future__ import annotations

from typing import Any

from awsapi import ids
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind
from engine.errors import InvalidParameter
from engine.services.instance_metadata import (
    MAX_HOP_LIMIT,
    AccessChange,
    AccessOptions,
    for_unit,
)


def _switch(value: str | None) -> bool | None:
    return None if value is None else value == "enabled"


def options_view(options: AccessOptions, state: str = "applied") -> dict[str, Any]:
    """An ``InstanceMetadataOptionsResponse`` (also what DescribeInstances shows)."""
    return {
        "State": state,
        "HttpTokens": "required" if options.require_token else "optional",
        "HttpPutResponseHopLimit": options.token_hop_limit,
        "HttpEndpoint": "enabled" if options.endpoint_enabled else "disabled",
        "HttpProtocolIpv6": "enabled" if options.ipv6_enabled else "disabled",
        "InstanceMetadataTags": "enabled" if options.expose_tags else "disabled",
    }


@action("ModifyInstanceMetadataOptions")
def modify_instance_metadata_options(ctx: RequestContext, p: Params) -> Result:
    tokens = p.get("HttpTokens")
    change = AccessChange(
        endpoint_enabled=_switch(p.get("HttpEndpoint")),
        require_token=None if tokens is None else tokens == "required",
        token_hop_limit=p.get("HttpPutResponseHopLimit"),
        ipv6_enabled=_switch(p.get("HttpProtocolIpv6")),
        expose_tags=_switch(p.get("InstanceMetadataTags")),
    )
    try:
        detail, options = for_unit(ctx.services).change_access(
            ctx.principal, ids.parse(p["InstanceId"], Kind.INSTANCE), change)
    except InvalidParameter as exc:
        if exc.name != "token_hop_limit":
            raise
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({change.token_hop_limit}) for parameter "
                       f"HttpPutResponseHopLimit is invalid. The value must be between 1 "
                       f"and {MAX_HOP_LIMIT}.") from exc
    # QUIRK(ec2): the change is reported "pending" here and "applied" by later describes.
    return {"InstanceId": ids.render(Kind.INSTANCE, detail.instance.sid),
            "InstanceMetadataOptions": options_view(options, "pending")}
