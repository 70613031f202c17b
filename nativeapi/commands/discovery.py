"""Discovery: listApis (from the registry) and listCapabilities."""

from __future__ import annotations

from typing import Any

from nativeapi import registry
from nativeapi.commands import CsContext, Listing, invalid_value, may_call
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

CLOUDSTACK_VERSION = "4.22.0.0"


@command("listApis")
def list_apis(ctx: CsContext, p: CsParams) -> Listing:
    """The commands this caller may call, with typed params (cmk/marvin read them)."""
    allowed = sorted(n for n, c in registry.registered().items() if may_call(c, ctx.principal))
    name = p.get("name")
    if name:
        if name not in allowed:
            raise invalid_value(f"The API {name} does not exist or is not available "
                                "for this account")
        allowed = [name]
    entries = registry.list_apis(allowed)
    return Listing(entries, len(entries))


@command("listCapabilities")
def list_capabilities(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    zones = ctx.services.catalog.zones()
    settings = ctx.services.settings
    return {
        "cloudstackversion": CLOUDSTACK_VERSION,
        "securitygroupsenabled": any(z.security_groups_enabled for z, _ in zones),
        "dynamicrolesenabled": True,
        "userpublictemplateenabled": True,
        "supportELB": "false",
        "projectinviterequired": False,
        "allowusercreateprojects": True,
        "customdiskofferingminsize": 1,
        "customdiskofferingmaxsize": 1024,
        "regionsecondaryenabled": False,
        "kvmsnapshotenabled": False,
        "apilimitinterval": 1,
        "apilimitmax": -1,
        "allowuserviewdestroyedvm": True,
        "allowuserexpungerecovervm": False,
        "allowuserexpungerecovervolume": True,
        "allowuserviewalldomainaccounts": False,
        "allowuserforcestopvm": True,
        "kubernetesserviceenabled": False,
        "kubernetesclusterexperimentalfeaturesenabled": False,
        "customhypervisordisplayname": "Simulator",
        "defaultuipagesize": min(20, settings.int("default.page.size")),
        "instancesstatsretentiontime": 720,
        "instancesstatsuseronly": False,
        "instancesdisksstatsretentionenabled": False,
        "instancesdisksstatsretentiontime": 0,
        "instanceleaseenabled": False,
        "dynamicscalingenabled": True,
        "additionalconfigenabled": False,
    }
