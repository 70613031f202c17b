"""VM size, password and placement: scaleVirtualMachine, resetPasswordForVirtualMachine,
getVMPassword, migrateVirtualMachine; and revertSnapshot.

Texts of the refusals are CloudStack's (UserVmManagerImpl, MigrateVMCmd,
SnapshotManagerImpl); the engine decides, these handlers only name the refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import IncorrectState, ResourceKind, Unsupported
from engine.services.instance_operations import LiveScaleRefused
from engine.states import VmState
from nativeapi.commands import CsContext, Submitted, invalid_value
from nativeapi.errors_wire import USER_ERROR_TEXT, ApiErrorCode, CloudStackError, CsErrorCode
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.services.instance_details import InstanceDetail


def _label(d: InstanceDetail) -> str:
    return f"VM[User|{d.instance.name}]"


def _vm(ctx: CsContext, uuid: str) -> InstanceDetail:
    return ctx.services.instances.get(ctx.principal, uuid=uuid, include_expunged=False)


# ------------------------------------------------------------------------- scale
@command("scaleVirtualMachine", is_async=True)
def scale_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    offering = p.uuid("serviceofferingid", required=True) or ""
    d = _vm(ctx, uuid)
    if d.offering.uuid == offering:
        raise invalid_value(f"Not upgrading vm {_label(d)} since it already has the "
                            f"requested service offering ({d.offering.name})")
    if d.instance.state not in (VmState.RUNNING, VmState.STOPPED):
        raise invalid_value(f"Unable to scale the vm {_label(d)} in state "
                            f"{d.instance.state.value}")
    try:
        _, job = ctx.services.instance_operations.scale(ctx.principal, uuid, offering,
                                                        command=ctx.command.name)
    except LiveScaleRefused as exc:
        if exc.resize is None:
            raise invalid_value(f"Unable to scale {_label(d)} as it does not have tools to "
                                "support dynamic scaling.") from exc
        (cpu, speed, mem), (ncpu, nspeed, nmem) = exc.resize.old, exc.resize.new
        raise invalid_value(
            "While the VM is running, only scalling up it is supported. New service offering "
            f'{{"memory": {nmem}, "speed": {nspeed}, "cpu": {ncpu}}} should have at least one '
            "value (ram, speed or cpu) greater than the current values "
            f'{{"memory": {mem}, "speed": {speed}, "cpu": {cpu}}}.') from exc
    return Submitted(job)


# ---------------------------------------------------------------------- password
@command("resetPasswordForVirtualMachine", is_async=True)
def reset_password_for_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    d = _vm(ctx, uuid)
    if not d.template.password_enabled:
        raise invalid_value("Fail to reset password for the virtual machine, the template "
                            "is not password enabled")
    if d.instance.state in (VmState.ERROR, VmState.EXPUNGING):
        raise invalid_value(f"Vm with id {uuid} is not in the right state")
    if d.instance.state is not VmState.STOPPED:
        raise invalid_value(f"Vm {_label(d)} should be stopped to do password reset")
    reset = ctx.services.passwords.reset(ctx.principal, uuid, password=p.get("password") or None,
                                         command=ctx.command.name)
    return Submitted(reset.job)


@command("getVMPassword")
def get_vm_password(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    uuid = p.uuid("id", required=True) or ""
    data = ctx.services.passwords.data(ctx.principal, uuid=uuid)
    if not data.encrypted:
        raise invalid_value(f"No password for VM with id '{uuid}' found. If VM is created from "
                            "password enabled template and SSH keypair is assigned to VM then "
                            "only password can be retrieved.")
    return {"encryptedpassword": data.encrypted}


# ----------------------------------------------------------------------- migrate
@command("migrateVirtualMachine", is_async=True, admin_only=True)
def migrate_virtual_machine(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("virtualmachineid", required=True) or ""
    host, pool = p.uuid("hostid"), p.uuid("storageid")
    if host and pool:
        raise invalid_value("Only one of hostId and storageId can be specified")
    d = _vm(ctx, uuid)
    if not host and not pool:
        if not p.boolean("autoselect", True) or d.instance.state is not VmState.RUNNING:
            raise invalid_value("Either hostId or storageId must be specified")
        host = ctx.services.instance_operations.choose_host(ctx.principal, uuid)
    if host:
        if d.instance.state is not VmState.RUNNING:
            raise invalid_value(f"VM is not Running, unable to migrate the vm {_label(d)}")
        if d.instance.host_uuid == host:
            raise invalid_value("Cannot migrate VM, VM is already present on this host, please "
                                "specify valid destination host to migrate the VM")
    elif d.instance.state is not VmState.STOPPED:
        raise invalid_value("VM is not Stopped, unable to migrate the vm having the specified id")
    try:
        _, job = ctx.services.instance_operations.migrate(
            ctx.principal, uuid, host_uuid=host, pool_uuid=pool, command=ctx.command.name)
    except Unsupported as exc:
        raise invalid_value("Unsupported Hypervisor Type for VM migration, we support "
                            "XenServer/VMware/KVM/Ovm/Hyperv/Ovm3 only") from exc
    except IncorrectState as exc:
        if exc.kind is not ResourceKind.HOST:
            raise
        raise invalid_value(f"Cannot migrate VM, destination host is not in correct state, "
                            f"has status: {exc.state}") from exc
    return Submitted(job)


# ------------------------------------------------------------------ snapshot revert
_REVERT_REFUSALS = {
    ResourceKind.SNAPSHOT: "Snapshot: {id} is not in BackedUp state yet and can't be used "
                           "for volume revert",
    ResourceKind.VOLUME: "The volume is not in Ready state.",
    ResourceKind.INSTANCE: "The VM the specified disk is attached to is not in the shutdown "
                           "state.",
}


# QUIRK(cloudstack): a snapshot no strategy can revert (its hypervisor cannot) is a
# CloudRuntimeException (530/4250) naming the one hypervisor CloudStack reverts on.
_NOT_REVERTABLE = ("Revert snapshot command failed for snapshot with id {id}, because this "
                   "command is supported only for KVM hypervisor")


@command("revertSnapshot", is_async=True)
def revert_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    if not ctx.services.snapshots.get(ctx.principal, uuid).revertable:
        shown = (_NOT_REVERTABLE.format(id=uuid) if ctx.principal.is_root_admin
                 else USER_ERROR_TEXT)
        raise CloudStackError(ApiErrorCode.INTERNAL_ERROR, shown, CsErrorCode.CLOUD_RUNTIME)
    try:
        _, job = ctx.services.instance_operations.revert_snapshot(
            ctx.principal, uuid, command=ctx.command.name)
    except IncorrectState as exc:
        text = _REVERT_REFUSALS.get(exc.kind)
        if text is None:
            raise
        raise invalid_value(text.format(id=uuid)) from exc
    return Submitted(job)

