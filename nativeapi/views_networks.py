"""Engine objects -> CloudStack dicts for guest networks, network offerings and
port forwarding / firewall rules. Keys and JSON types follow
``nativeapi/spec/commands.json``; the renderer drops None.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from engine.services.guest_networks import GuestNetwork
from engine.services.network_offerings import service_names
from engine.services.rules import RuleDetail
from nativeapi.views import domain_path
from nativeapi.views_admin import vlan_uri

if TYPE_CHECKING:
    from engine.models import FirewallRule, NetworkOffering, PortForwardingRule

View = dict[str, Any]


def _services(o: NetworkOffering) -> list[View]:
    return [{"name": svc, "provider": [{"name": provider}]} for svc, provider in service_names(o)]


def network_offering(o: NetworkOffering) -> View:
    return {
        "id": o.uuid,
        "name": o.name,
        "displaytext": o.display_text,
        "tags": o.tags or None,
        "created": o.created_at,
        "traffictype": o.traffic_type,
        "isdefault": o.is_default,
        "specifyvlan": o.specify_vlan,
        "conservemode": o.conserve_mode,
        "specifyipranges": o.specify_ip_ranges,
        "availability": o.availability,
        "networkrate": o.network_rate_mbps,
        "state": o.state,
        "guestiptype": o.guest_ip_type,
        "service": _services(o),
        "forvpc": False,
        "fornsx": False,
        "fortungsten": False,
        "ispersistent": o.is_persistent,
        "egressdefaultpolicy": o.egress_default_allow,
        "supportsstrechedl2subnet": False,
        "supportspublicaccess": False,
        "supportsinternallb": False,
        "internetprotocol": "IPv4",
        "specifyasnumber": False,
        "hasannotations": False,
    }


def network(g: GuestNetwork, *, show_admin: bool) -> View:
    d, o = g.detail, g.offering
    n = d.network
    net = ipaddress.IPv4Network(n.cidr, strict=False)
    shared = n.account_uuid is None
    out: View = {
        "id": n.uuid,
        "name": n.name,
        "displaytext": n.display_text or n.name,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "networkofferingid": o.uuid or None,
        "networkofferingname": o.name,
        "networkofferingdisplaytext": o.display_text,
        "networkofferingconservemode": o.conserve_mode,
        "networkofferingavailability": o.availability,
        "type": n.network_type,
        "traffictype": "Guest",
        "state": n.state,
        "gateway": n.gateway,
        "netmask": str(net.netmask),
        "cidr": str(net),
        "dns1": d.zone.dns1,
        "broadcastdomaintype": "Vlan" if n.vlan else "Native",
        "broadcasturi": vlan_uri(n.vlan) if n.vlan else None,
        "isdefault": n.is_default,
        "issystem": False,
        "acltype": "Domain" if shared else "Account",
        "specifyipranges": o.specify_ip_ranges,
        "specifyvlan": o.specify_vlan,
        "restartrequired": False,
        "canusefordeploy": True,
        "ispersistent": o.is_persistent,
        "displaynetwork": True,
        "redundantrouter": False,
        "supportsvmautoscaling": False,
        "strechedl2subnet": False,
        "internetprotocol": "IPv4",
        "created": n.created_at,
        "service": _services(o),
        "tags": [],
        "hasannotations": False,
    }
    if d.account is not None and d.domain is not None:
        out.update(account=d.account.name, domainid=d.domain.uuid, domain=d.domain.name,
                   domainpath=domain_path(d.domain))
    if show_admin and n.vlan:
        out["vlan"] = n.vlan
    return out


def port_forwarding_rule(d: RuleDetail) -> View:
    r: PortForwardingRule = d.rule  # type: ignore[assignment]
    inst = d.instance
    return {
        "id": r.uuid,
        # QUIRK(cloudstack): the ports of a forwarding rule are JSON strings.
        "privateport": str(r.private_start),
        "privateendport": str(r.private_end),
        "protocol": r.protocol,
        "publicport": str(r.public_start),
        "publicendport": str(r.public_end),
        "virtualmachineid": r.instance_uuid,
        "virtualmachinename": inst.name if inst else None,
        "virtualmachinedisplayname": (inst.display_name or inst.name) if inst else None,
        "ipaddressid": r.public_ip_uuid,
        "ipaddress": d.ip.address if d.ip else None,
        "state": r.state,
        "cidrlist": r.cidr_list,
        "tags": [],
        "vmguestip": r.private_ip,
        "networkid": r.network_uuid,
        "fordisplay": r.for_display,
    }


def firewall_rule(d: RuleDetail) -> View:
    r: FirewallRule = d.rule  # type: ignore[assignment]
    return {
        "id": r.uuid,
        "protocol": r.protocol,
        "startport": r.start_port,
        "endport": r.end_port,
        "ipaddressid": r.public_ip_uuid,
        "ipaddress": d.ip.address if d.ip else None,
        "networkid": r.network_uuid,
        "state": r.state,
        "cidrlist": r.cidr_list,
        "destcidrlist": r.dest_cidr_list if r.traffic == "Egress" else None,
        "icmptype": r.icmp_type,
        "icmpcode": r.icmp_code,
        "traffictype": r.traffic,
        "tags": [],
        "fordisplay": r.for_display,
    }
