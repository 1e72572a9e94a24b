"""``Faults``: the one place scenarios get faults from, and the one place that undoes them all."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any

import requests

from harness.core.protocols import FaultTarget
from harness.faults import spec as specs
from harness.faults.calibrated import CacheHitRatioFault, ErrorRatioFault, QueryLatencyFault
from harness.faults.fault import Fault, FaultError, Schedule
from harness.faults.network import USER_AGENT, ProxyDownFault, ToxicFault, ToxiproxyApi
from harness.faults.process import (
    CrashFault,
    FreezeFault,
    GroupSignaller,
    RestartFault,
    StopFault,
    signal_process_group,
)
from harness.faults.service import (
    BackupFailingFault,
    CacheMissStormFault,
    FillDiskFault,
    FillRedisFault,
    HoldConnectionsFault,
    PauseWalReplayFault,
    RedisConfigFault,
    RedisConnect,
    SqlConnect,
    psycopg_connect,
    redis_connect,
)

log = logging.getLogger(__name__)


def _given(**params: Any) -> dict[str, Any]:
    """The parameters a caller gave: None stands for "not given" (the kind's default, or its absence)."""
    return {k: v for k, v in params.items() if v is not None}


class Faults:
    """Creates faults against one stack and remembers them, so ``undo_all()`` can put everything back.

    Creating a fault does not start it: use it as a context manager, call ``start()``/``stop()``, or
    ``schedule(start, duration)``. The collaborators (HTTP session, SQL and Redis connection factories, the
    process-group signaller) are injectable for tests.
    """

    def __init__(self, stack: FaultTarget, *, session: requests.Session | None = None,
                 sql_connect: SqlConnect = psycopg_connect, redis_connect: RedisConnect = redis_connect,
                 signal_group: GroupSignaller = signal_process_group) -> None:
        self.stack: FaultTarget = stack
        self.session: requests.Session = session if session is not None else requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        # The collaborators the kinds' ``build`` hands their faults (harness.faults.kinds).
        self.sql_connect: SqlConnect = sql_connect
        self.redis_connect: RedisConnect = redis_connect
        self.signal_group: GroupSignaller = signal_group
        self._toxiproxy: ToxiproxyApi | None = None
        self.faults: list[Fault] = []
        self.schedules: list[Schedule] = []
        self._ids: set[str] = set()

    # -- bookkeeping -------------------------------------------------------------------------------
    @property
    def toxiproxy(self) -> ToxiproxyApi:
        if self._toxiproxy is None:
            try:
                url = self.stack.urls["toxiproxy"]
            except KeyError:
                raise FaultError("the stack has no Toxiproxy (no urls['toxiproxy'])",
                                 hint="network faults need the toxiproxy service") from None
            self._toxiproxy = ToxiproxyApi(url, self.session)
        return self._toxiproxy

    def _new_id(self, kind: str, target: str | None, fault_id: str | None) -> str:
        if fault_id is not None:
            if fault_id in self._ids:
                raise FaultError(f"fault id {fault_id!r} is already used in this run")
            self._ids.add(fault_id)
            return fault_id
        base = f"{kind}:{target}" if target else kind
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}#{n}"
        self._ids.add(candidate)
        return candidate

    # -- one method a kind, for Python scenarios (a YAML scenario goes through from_spec) ---------------
    def toxic(self, proxy: str, type: str, *, stream: str = "downstream", toxicity: float = 1.0,
              name: str | None = None, fault_id: str | None = None, **attributes: int) -> ToxicFault:
        """Any Toxiproxy toxic on any proxy, e.g. ``toxic("pg_primary", "latency", latency=200)``."""
        params: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity, **attributes}
        if name is not None:
            params["name"] = name
        return self._make("toxic", proxy, params, fault_id)

    def proxy_down(self, proxy: str, *, fault_id: str | None = None) -> ProxyDownFault:
        return self._make("proxy_down", proxy, {}, fault_id)

    def crash(self, service: str, *, fault_id: str | None = None) -> CrashFault:
        return self._make("crash", service, {}, fault_id)

    def freeze(self, service: str, *, fault_id: str | None = None) -> FreezeFault:
        return self._make("freeze", service, {}, fault_id)

    def stop(self, service: str, *, timeout: float = 10.0, fault_id: str | None = None) -> StopFault:
        return self._make("stop", service, {"timeout": timeout}, fault_id)

    def restart(self, service: str, *, timeout: float = 10.0, fault_id: str | None = None) -> RestartFault:
        return self._make("restart", service, {"timeout": timeout}, fault_id)

    def pause_wal_replay(self, *, wal_mb: int = 0, fault_id: str | None = None) -> PauseWalReplayFault:
        return self._make("pause_wal_replay", None, {"wal_mb": wal_mb}, fault_id)

    def hold_connections(self, fraction: float, *, state: str = "idle",
                         fault_id: str | None = None) -> HoldConnectionsFault:
        return self._make("hold_connections", None, {"fraction": fraction, "state": state}, fault_id)

    def fill_redis(self, fraction: float, *, value_bytes: int = 65536,
                   fault_id: str | None = None) -> FillRedisFault:
        return self._make("fill_redis", None, {"fraction": fraction, "value_bytes": value_bytes}, fault_id)

    def redis_config(self, parameter: str, value: str, *, fault_id: str | None = None) -> RedisConfigFault:
        return self._make("redis_config", None, {"parameter": parameter, "value": value}, fault_id)

    def fill_disk(self, fraction: float, *, fault_id: str | None = None) -> FillDiskFault:
        return self._make("fill_disk", None, {"fraction": fraction}, fault_id)

    def cache_miss_storm(self, *, interval_s: float = 0.05, pattern: str | None = None,
                         fault_id: str | None = None) -> CacheMissStormFault:
        return self._make("cache_miss_storm", None, _given(interval_s=interval_s, pattern=pattern), fault_id)

    def backup_failing(self, last_success_age_seconds: float | None = None, *,
                       fault_id: str | None = None) -> BackupFailingFault:
        return self._make("backup_failing", None, _given(last_success_age_seconds=last_success_age_seconds),
                          fault_id)

    def error_ratio(self, ratio: float, *, endpoint: str | None = None,
                    fault_id: str | None = None) -> ErrorRatioFault:
        return self._make("error_ratio", None, _given(ratio=ratio, endpoint=endpoint), fault_id)

    def cache_hit_ratio(self, ratio: float, *, fault_id: str | None = None) -> CacheHitRatioFault:
        return self._make("cache_hit_ratio", None, {"ratio": ratio}, fault_id)

    def query_latency(self, query: str, latency_ms: float, *, fault_id: str | None = None) -> QueryLatencyFault:
        return self._make("query_latency", None, {"query": query, "latency_ms": latency_ms}, fault_id)

    # -- from a scenario file ------------------------------------------------------------------------
    def _services(self) -> Collection[str]:
        services = getattr(self.stack, "services", None)
        return list(services) if services else specs.SERVICES

    def from_spec(self, kind: str, target: str | None, params: Mapping[str, Any] | None = None, *,
                  fault_id: str | None = None) -> Fault:
        """Build (not start) a fault from a scenario's ``kind``/``target``/``params``.

        Raises FaultSpecError (a HarnessError) naming the bad field before anything is touched.
        """
        fault: Fault = self._make(kind, target, params or {}, fault_id)
        return fault

    def _make(self, kind: str, target: str | None, params: Mapping[str, Any], fault_id: str | None) -> Any:
        # Any: each kind's method above declares its own fault class.
        target = specs.validate_spec(kind, target, params, proxies=self.stack.proxies or specs.PROXIES,
                                     services=self._services())
        entry = specs.KIND_SPECS[kind]
        # A service fault's id is its kind alone: its target goes without saying.
        fault_id = self._new_id(kind, None if entry.group == specs.SERVICE else target, fault_id)
        fault = entry.build(self, target, entry.with_defaults(params), fault_id)
        self.faults.append(fault)
        return fault

    def schedule(self, fault: Fault, start: float = 0.0, duration: float | None = None, *,
                 origin: float | None = None) -> Schedule:
        """``fault.schedule(...)``, remembered so ``undo_all()`` cancels it."""
        sched = fault.schedule(start, duration, origin=origin)
        self.schedules.append(sched)
        return sched

    # -- teardown ----------------------------------------------------------------------------------
    def undo_all(self, *, raise_errors: bool = True) -> list[Exception]:
        """Cancel every schedule and undo every fault, newest first; best effort per fault.

        Idempotent. Every fault is tried even when some fail; the errors (including those a scheduled
        fault hit on its thread) are returned, and with ``raise_errors`` the first one is raised with the
        others listed, after everything has been tried.
        """
        errors: list[Exception] = []
        for sched in reversed(self.schedules):
            try:
                sched.cancel()
            except Exception as exc:
                errors.append(exc)
            if isinstance(sched.error, Exception):
                errors.append(sched.error)
                sched.error = None  # reported once: undo_all stays idempotent
        for fault in reversed(self.faults):
            try:
                fault.stop()
            except Exception as exc:
                log.error("undo failed: %s", exc)
                errors.append(exc)
        if errors and raise_errors:
            first = errors[0]
            if len(errors) > 1:
                for other in errors[1:]:
                    first.add_note(f"also: {other}")
            raise first
        return errors

    def active(self) -> list[Fault]:
        return [f for f in self.faults if f.active]

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        errors = self.undo_all(raise_errors=exc is None)
        if exc is not None:
            # The scenario's own failure is the first error; undo failures ride along as notes.
            for err in errors:
                exc.add_note(f"while handling it, fault undo failed: {err}")
