"""Where a fault reaches a service of the stack."""

from __future__ import annotations

from harness.core.errors import HarnessError
from harness.core.protocols import FaultTarget


def service_url(target: FaultTarget, service: str, path: str, *, what: str, hint: str = "") -> str:
    """``path`` on a service's HTTP address, or a clear error when the stack has no such service."""
    try:
        base = target.urls[service]
    except KeyError:
        raise HarnessError(f"the stack has no {what} (no urls[{service!r}])", hint=hint) from None
    return base.rstrip("/") + path
