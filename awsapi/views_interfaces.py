"""Network interface attributes -> DescribeNetworkInterfaceAttribute results.

Each attribute is rendered from the same interface view DescribeNetworkInterfaces
uses (:func:`awsapi.views_network.network_interface`), so the two never disagree,
except ``sourceDestCheck``, read from the interface's own setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from awsapi import views_network

if TYPE_CHECKING:
    from engine.services.network_interfaces import InterfaceDetail

ATTRIBUTES: Final = ("description", "groupSet", "sourceDestCheck", "attachment",
                     "associatePublicIpAddress")


def interface_attribute(d: InterfaceDetail, attribute: str,
                        caller_number: str) -> dict[str, Any]:
    """The result for one ``attribute`` (one of :data:`ATTRIBUTES`)."""
    full = views_network.network_interface(d, caller_number)
    out: dict[str, Any] = {"NetworkInterfaceId": full["NetworkInterfaceId"]}
    if attribute == "description":
        out["Description"] = {"Value": full["Description"]}
    elif attribute == "groupSet":
        out["Groups"] = full["Groups"]
    elif attribute == "sourceDestCheck":
        out["SourceDestCheck"] = {"Value": bool(d.nic.source_dest_check)}
    elif attribute == "attachment":
        if "Attachment" in full:
            out["Attachment"] = full["Attachment"]
    elif attribute == "associatePublicIpAddress":
        # Mapped with the instance (not an Elastic IP the account holds).
        ip = d.public_ip
        out["AssociatePublicIpAddress"] = ip is not None and not (
            ip.account_uuid and ip.association_sid)
    return out
