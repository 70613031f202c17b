"""NICs of a VM: addNicToVirtualMachine, removeNicFromVirtualMachine,
updateDefaultNicForVirtualMachine. Each answers with the VM (with its ``nic``
list) once its job is done; listNics lives in :mod:`vm_extras`.

The engine decides (``engine.services.nic_management``); CloudStack raises
CloudRuntimeException (530/4250, text shown to root admins only) for a
second NIC on one network and for a network of another zone.
"""

from __future__ import annotations

from engine.errors import Duplicate, ResourceKind
from engine.services.nic_management import NetworkZoneMismatch, NicOnNetwork
from nativeapi.commands import CsContext, Submitted
from nativeapi.errors_wire import USER_ERROR_TEXT, ApiErrorCode, CloudStackError, CsErrorCode
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _runtime_error(ctx: CsContext, text: str) -> CloudStackError:
    return CloudStackError(ApiErrorCode.INTERNAL_ERROR, text if ctx.is_admin else USER_ERROR_TEXT,
                           CsErrorCode.CLOUD_RUNTIME, log_detail=text)


@command("addNicToVirtualMachine", is_async=True)
def add_nic_to_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    vm = p.uuid("virtualmachineid", required=True) or ""
    network = p.uuid("networkid", required=True) or ""
    try:
        _nic, job = ctx.services.nics.add_to_instance(
            ctx.principal, vm, network, ip=p.get("ipaddress") or None,
            mac=p.get("macaddress") or None, command=ctx.command.name)
    except NicOnNetwork as exc:
        raise _runtime_error(ctx, exc.message) from exc
    except NetworkZoneMismatch as exc:
        raise _runtime_error(ctx, f"The network {network} is not in the zone of the VM") from exc
    except Duplicate as exc:
        if exc.kind is not ResourceKind.NIC:
            raise
        raise _runtime_error(ctx, "A NIC with this MAC address exists for network: "
                                  f"{network}") from exc
    return Submitted(job)


@command("removeNicFromVirtualMachine", is_async=True)
def remove_nic_from_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    job = ctx.services.nics.remove_from_instance(
        ctx.principal, p.uuid("virtualmachineid", required=True) or "",
        p.uuid("nicid", required=True) or "", command=ctx.command.name)
    return Submitted(job)


@command("updateDefaultNicForVirtualMachine", is_async=True)
def update_default_nic_for_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    job = ctx.services.nics.set_default(
        ctx.principal, p.uuid("virtualmachineid", required=True) or "",
        p.uuid("nicid", required=True) or "", command=ctx.command.name)
    return Submitted(job)
