"""Helpers for end-to-end tests on real (or protocol-double) hypervisors.

Until templates can be registered for every hypervisor through the APIs, a test
puts a ready template straight into the engine's catalog with
:func:`add_ready_template`; everything after that goes through the real clients.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select


def add_ready_template(runtime: Any, *, name: str, hypervisor: str, install_path: str,
                       size_bytes: int, boot_spec: Mapping[str, str] | None = None,
                       os_name: str | None = None) -> str:
    """Record a public template, Ready in every zone, whose image on the hypervisor
    is ``install_path``; return its EC2 image id (``ami-<sid>``)."""
    from engine.models import OsType, Template, TemplateZone, Zone
    from engine.states import TemplateState

    with runtime.unit() as services:
        s = services.session
        admin = services.accounts.user_by_name("admin")
        os_type = s.scalars(select(OsType).where(
            OsType.name == os_name) if os_name else select(OsType)).first()
        assert os_type is not None
        template = Template(name=name, display_text=name, account_uuid=admin.account_uuid,
                            os_type_uuid=os_type.uuid, format="QCOW2", hypervisor=hypervisor,
                            template_type="USER", url=install_path, size_bytes=size_bytes,
                            is_public=True, is_featured=False,
                            boot_spec=json.dumps(dict(boot_spec)) if boot_spec else None)
        s.add(template)
        s.flush()
        for zone in s.scalars(select(Zone).where(Zone.removed_at.is_(None))):
            s.add(TemplateZone(template_uuid=template.uuid, zone_uuid=zone.uuid,
                               state=TemplateState.READY, download_percent=100,
                               install_path=install_path))
        return f"ami-{template.sid}"


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5,
             what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
