"""Images (AMIs) are the engine's templates."""

from __future__ import annotations

from awsapi import ids, views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.filters import IMAGE_FILTERS, criteria
from awsapi.ids import Kind
from engine.querying import Criterion, Paging
from engine.services.catalog import TemplateFilter


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
    which = TemplateFilter.EXECUTABLE
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
    if p.get("ExecutableUsers"):
        which = TemplateFilter.EXECUTABLE
    page = ctx.services.catalog.templates(ctx.principal, which, tuple(crit), paging(p))
    if sids:
        found = {t.template.sid for t in page.items}
        missing = [i for i, s in zip(image_ids, sids, strict=True) if s not in found]
        if missing:
            raise Ec2Error(Kind.IMAGE.not_found_code,
                           f"The image id '[{missing[0]}]' does not exist")
    return {"Images": [views.image(t) for t in page.items], "NextToken": page.next_token}
