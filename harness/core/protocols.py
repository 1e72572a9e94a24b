"""The small protocols between the core and its adapters: what faults need from the stack (FaultTarget), what a
scenario run needs from it (Stack), and what the run drives: faults (FaultInjector), load (LoadDriver) and the
source of alert states and series (AlertSource).

The real ``harness.stack.Stack``, ``harness.faults.Faults``, ``harness.load.LoadRun`` and
``harness.observe.prometheus.PrometheusClient`` satisfy them; unit tests pass fakes. Neither side imports the
other, so every backend is driven the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

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



class Stack(FaultTarget, Protocol):
    """The stack as a scenario run sees it: what its faults need, and the run's id and history."""

    @property
    def clock(self) -> Any: ...     # harness.core.clock.RunClock (to_wall, mono_start) or a fake

    @property
    def run_id(self) -> str: ...

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None: ...


class FaultInjector(Protocol):
    """Builds the faults of a scenario and undoes whatever is left of them."""

    def from_spec(self, kind: str, target: str | None, params: Mapping[str, Any] | None = None, *,
                  fault_id: str | None = None) -> AbstractContextManager[Any]: ...

    def undo_all(self, *, raise_errors: bool = True) -> list[Exception]: ...


class LoadDriver(Protocol):
    """A running load generator."""

    def wait_flowing(self, timeout: float, poll_s: float = 0.05) -> float: ...

    def stop(self, timeout: float = 15.0) -> int: ...


class AlertSource(Protocol):
    """Where alert states, rules and series are read (Prometheus's HTTP API)."""

    def query(self, expr: str, at: float | None = None) -> Sequence[Any]: ...

    def query_range(self, expr: str, start: float, end: float, step: float) -> Sequence[Any]: ...

    def alerts(self) -> list[dict[str, Any]]: ...

    def rules(self) -> list[dict[str, Any]]: ...

    def delete_all_series(self) -> None: ...
