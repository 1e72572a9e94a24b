"""What a fault needs from the stack, as a small protocol.

The real ``harness.stack.Stack`` satisfies it; unit tests pass a fake with a fake clock, timeline and
process handles. Faults never import the stack, so they work the same on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from harness.core.errors import HarnessError
from harness.core.timeline import Timeline


class Clock(Protocol):
    """``harness.core.clock.RunClock`` or a fake: seconds since the run began."""

    def now(self) -> float: ...


class ProcessHandle(Protocol):
    """The part of the stack's ``ProcessControl`` (contract C) that process faults use."""

    @property
    def pid(self) -> int | None: ...

    @property
    def running(self) -> bool: ...

    def signal(self, sig: int) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def kill(self) -> None: ...

    def start(self) -> None: ...


class FaultTarget(Protocol):
    """The stack as faults see it."""

    # Read-only properties, so a Stack may expose them as attributes or properties alike.
    @property
    def clock(self) -> Clock: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def urls(self) -> Mapping[str, str]: ...

    @property
    def proxies(self) -> Mapping[str, tuple[str, str]]: ...

    def process(self, name: str) -> ProcessHandle: ...

    def postgres_dsn(self, role: str, via_proxy: bool = False) -> str: ...

    def redis_url(self, via_proxy: bool = False) -> str: ...


def service_url(target: FaultTarget, service: str, path: str, *, what: str, hint: str = "") -> str:
    """``path`` on a service's HTTP address, or a clear error when the stack has no such service."""
    try:
        base = target.urls[service]
    except KeyError:
        raise HarnessError(f"the stack has no {what} (no urls[{service!r}])", hint=hint) from None
    return base.rstrip("/") + path
