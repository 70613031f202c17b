"""Virtual machine attributes: change offering, update, user data, SSH key reset.

All of these change the instance at once through ``InstanceService``; the one
async command (resetSSHKeyForVirtualMachine) answers with an already finished
job whose result is the virtual machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.instances import InstanceChange
from engine.states import VmState
from nativeapi import views
from nativeapi.commands import CsContext, Submitted, finished, invalid_value
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.services.instance_details import InstanceDetail


def _vm_label(d: InstanceDetail) -> str:
    """How CloudStack's texts name a user VM."""
    return f"VM[User|{d.instance.name}]"


def _stopped(ctx: CsContext, uuid: str, refusal: str) -> InstanceDetail:
    """The VM, which must be Stopped; else a 431 with ``refusal`` ({vm}, {state} filled)."""
    d = ctx.services.instances.get(ctx.principal, uuid=uuid, include_expunged=False)
    if d.instance.state is not VmState.STOPPED:
        raise invalid_value(refusal.format(vm=_vm_label(d), state=views.vm_state(d.instance.state)))
    return d


@command("changeServiceForVirtualMachine")
def change_service_for_virtual_machine(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    uuid = p.uuid("id", required=True) or ""
    offering = p.uuid("serviceofferingid", required=True) or ""
    d = _stopped(ctx, uuid, "Unable to upgrade virtual machine {vm} in state {state}; "
                            "make sure the virtual machine is stopped")
    if d.offering.uuid == offering:
        raise invalid_value(f"Not upgrading vm {_vm_label(d)} since it already has the "
                            f"requested service offering ({d.offering.name})")
    detail = ctx.services.instances.modify(ctx.principal, uuid,
                                           InstanceChange(offering_uuid=offering),
                                           command=ctx.command.name)
    return views.virtual_machine(detail, show_admin=ctx.is_admin)


@command("updateVirtualMachine")
def update_virtual_machine(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    """displayname, group, userdata (base64; VM stopped), deleteprotection, haenable.

    QUIRK(cloudstack): haenable=true is refused because no offering offers HA
    (listServiceOfferings shows offerha=false); haenable=false changes nothing.
    """
    uuid = p.uuid("id", required=True) or ""
    if p.boolean("haenable", None):
        raise invalid_value("Can't enable ha for the vm as it's created from the Service "
                            "offering having HA disabled")
    change = InstanceChange(
        display_name=p.get("displayname"),
        group=p.get("group"),
        user_data_b64=p.get("userdata"),
        disable_api_termination=p.boolean("deleteprotection", None),
    )
    detail = ctx.services.instances.modify(ctx.principal, uuid, change,
                                           command=ctx.command.name)
    return views.virtual_machine(detail, show_admin=ctx.is_admin)


@command("getVirtualMachineUserData")
def get_virtual_machine_user_data(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    uuid = p.uuid("virtualmachineid", required=True) or ""
    d = ctx.services.instances.get(ctx.principal, uuid=uuid, include_expunged=False)
    return {"virtualmachineid": d.instance.uuid, "userdata": d.instance.user_data}


@command("resetSSHKeyForVirtualMachine", is_async=True)
def reset_ssh_key_for_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    names = [n for n in [p.get("keypair"), *p.list("keypairs")] if n]
    if not names:
        raise invalid_value("'keypair' or 'keyPairs' must be specified")
    if len(set(names)) > 1:
        raise invalid_value("Only one key pair per virtual machine is supported")
    d = _stopped(ctx, uuid, "Vm {vm} should be stopped to do SSH Key reset")
    try:
        ctx.services.instances.set_key_pair(ctx.principal, uuid, names[0])
    except NotFound as exc:
        if exc.kind is not ResourceKind.KEY_PAIR:
            raise
        raise invalid_value(f"A key pair with name '{names[0]}' does not exist for account "
                            f"{d.account.name} in specified domain id") from exc
    job = finished(ctx, ResourceKind.INSTANCE, uuid)
    return Submitted(job)
