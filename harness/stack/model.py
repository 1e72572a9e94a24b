"""The Stack value every backend returns (contract C): addresses, services, proxies, controls."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.protocols import ProcessHandle
from harness.core.timeline import Timeline
from harness.core.topology import PROXIES, SERVICES
from harness.observe.alerts import AlertRecorder
from harness.signals import sigterm_raises

log = logging.getLogger("harness.stack")

# The reference stack's service and proxy names, and the process handle every backend returns, are
# defined once, in the core (harness.core.topology, harness.core.protocols).
SERVICE_NAMES = SERVICES
PROXY_NAMES = PROXIES
ProcessControl = ProcessHandle


# The alert recorder polls every half evaluation interval (production 30 s), so every pending/firing change
# is seen.
RECORDER_POLL_S = 15.0


@dataclass
class ServiceInfo:
    name: str
    status: str  # "running" | "unavailable" | "external" | "stopped"
    host: str = "127.0.0.1"
    port: int | None = None
    url: str = ""
    pid: int | None = None
    log: str = ""
    reason: str = ""  # why unavailable

    @property
    def address(self) -> str:
        return self.url or (f"{self.host}:{self.port}" if self.port else "")


class Backend(Protocol):
    def process(self, name: str) -> ProcessControl: ...

    def postgres_dsn(self, role: str, via_proxy: bool) -> str: ...

    def redis_url(self, via_proxy: bool) -> str: ...

    def reload_rules(self, paths: Sequence[Path]) -> list[Path]: ...

    def set_time_scale(self, scale: float, job_intervals: Mapping[str, float]) -> None: ...

    def reload_alertmanager(self, path: Path) -> None: ...

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None: ...

    def teardown(self) -> None: ...


class Stack:
    """A running (or attached) reference stack. Use as a context manager; ``stop()`` is idempotent."""

    def __init__(self, *, backend: Backend, run_id: str, run_dir: Path, clock: RunClock, timeline: Timeline,
                 time_scale: float, urls: dict[str, str], services: dict[str, ServiceInfo],
                 proxies: dict[str, tuple[str, str]], sinks: Any, rule_files: list[Path]) -> None:
        self._backend = backend
        self.run_id = run_id
        self.run_dir = run_dir
        self.clock = clock
        self.timeline = timeline
        self.time_scale = time_scale
        self.urls = urls
        self.services = services
        self.proxies = proxies
        self.sinks = sinks
        self.rule_files = rule_files
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._signals = ExitStack()
        self.recorder: Any = None
        self.job_intervals: dict[str, float] = {}

    def start_recording(self, interval_s: float) -> None:
        """Record every alert state change (Prometheus) and Alertmanager's view on the run's timeline."""
        if self.recorder is None and "prometheus" in self.urls and "alertmanager" in self.urls:
            self.recorder = AlertRecorder(self.urls["prometheus"], self.urls["alertmanager"], self.clock,
                                          self.timeline, interval_s).start()

    # -- contract C -------------------------------------------------------------------------------
    def process(self, name: str) -> ProcessControl:
        if name not in self.services:
            raise HarnessError(f"unknown service {name!r}", hint=f"known services: {', '.join(sorted(self.services))}")
        return self._backend.process(name)

    def postgres_dsn(self, role: str = "primary", via_proxy: bool = False) -> str:
        if role not in ("primary", "replica"):
            raise HarnessError(f"unknown postgres role {role!r}", hint="use 'primary' or 'replica'")
        return self._backend.postgres_dsn(role, via_proxy)

    def redis_url(self, via_proxy: bool = False) -> str:
        return self._backend.redis_url(via_proxy)

    def reload_rules(self, paths: Sequence[Path]) -> list[Path]:
        self.rule_files = self._backend.reload_rules([Path(p) for p in paths])
        return self.rule_files

    def set_time_scale(self, scale: float, job_intervals: Mapping[str, float] | None = None) -> None:
        """Run from now on at ``scale`` (rules, scrape and evaluation intervals, Alertmanager timers), with
        ``job_intervals`` (job -> seconds) for jobs whose exporters need a longer scrape timeout than the
        compressed interval; or raise HarnessError saying why this backend cannot."""
        self._backend.set_time_scale(scale, dict(job_intervals or {}))
        self.time_scale = scale
        self.job_intervals = dict(job_intervals or {})
        if self.recorder is not None:
            self.recorder.interval_s = max(0.05, RECORDER_POLL_S / scale)

    def reload_alertmanager(self, path: Path) -> None:
        """Switch Alertmanager to another config (receivers pointed at the sinks, timers scaled) by reload."""
        self._backend.reload_alertmanager(Path(path))

    def backfill(self, openmetrics: str, *, start: float, end: float, step_s: float) -> None:
        """Add samples before now (OpenMetrics text with timestamps) to Prometheus's history, and the
        recording rules' values over [start, end] (unix seconds, every ``step_s``); or raise HarnessError
        saying why this backend cannot."""
        self._backend.backfill(openmetrics, start=start, end=end, step_s=step_s)

    def stop(self) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            if self.recorder is not None:
                self.recorder.stop()
            self._backend.teardown()
        finally:
            self._signals.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        except Exception as teardown_error:
            if exc is None:
                raise
            # Never hide the error that ended the run behind a teardown problem.
            exc.add_note(f"also, teardown failed: {teardown_error}")
            log.error("teardown after an error also failed: %s", teardown_error)

    # -- SIGTERM becomes an orderly unwind --------------------------------------------------------
    def install_sigterm_handler(self) -> None:
        """Turn SIGTERM into SystemExit so ``with`` blocks and finally clauses tear the stack down; undone by
        ``stop``. Only when SIGTERM still has its default action: an application (or a run, harness.scenario.run)
        that set its own handler keeps it."""
        self._signals.enter_context(sigterm_raises(lambda signum: SystemExit(128 + signum), only_if_default=True))

    def describe(self) -> str:
        lines = [f"run {self.run_id} (time scale {self.time_scale:g}, run dir {self.run_dir})"]
        for name, info in self.services.items():
            where = info.address or "-"
            extra = f"  pid {info.pid}" if info.pid else ""
            if info.status == "unavailable":
                extra = f"  ({info.reason})"
            lines.append(f"  {name:<26} {info.status:<12} {where}{extra}")
        for name, (listen, upstream) in self.proxies.items():
            lines.append(f"  proxy {name:<20} {listen} -> {upstream}")
        return "\n".join(lines)
