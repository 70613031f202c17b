"""Account attributes: platforms, default VPC and limits."""

from __future__ import annotations

from awsapi import views_catalog
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error


@action("DescribeAccountAttributes", readonly=True)
def describe_account_attributes(ctx: RequestContext, p: Params) -> Result:
    overview = ctx.services.catalog.account_overview(ctx.principal, ctx.region)
    attributes = views_catalog.account_attributes(overview)
    names = list(dict.fromkeys(p.get("AttributeNames") or ())) or list(attributes)
    unknown = [n for n in names if n not in attributes]
    if unknown:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({unknown[0]}) for parameter attributeName is invalid. "
                       "Unknown account attribute.")
    return {"AccountAttributes": [
        {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in attributes[n]]}
        for n in names]}
