"""The XenServer / XCP-ng driver: XAPI over XML-RPC through the PyPI ``XenAPI`` client.

Tested against a wire-level protocol double of XAPI (``tests/xapi``), not a real host.
"""

from __future__ import annotations

from engine.hypervisors.xen.driver import XenDriver

__all__ = ["XenDriver"]
