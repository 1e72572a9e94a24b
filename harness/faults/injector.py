"""``Faults``: the one place scenarios get faults from, and the one place that undoes them all."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any

import requests

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
from harness.faults.target import FaultTarget

log = logging.getLogger(__name__)


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

    def _add(self, fault: Fault) -> Any:
        self.faults.append(fault)
        return fault

    def _known_proxy(self, proxy: str) -> None:
        proxies = self.stack.proxies
        if proxies and proxy not in proxies:
            raise specs.FaultSpecError("target", f"unknown proxy {proxy!r}",
                                       hint=f"this stack has: {', '.join(sorted(proxies))}")

    # -- network -----------------------------------------------------------------------------------
    def toxic(self, proxy: str, type: str, *, stream: str = "downstream", toxicity: float = 1.0,
              name: str | None = None, fault_id: str | None = None, **attributes: int) -> ToxicFault:
        """Any Toxiproxy toxic on any proxy, e.g. ``toxic("pg_primary", "latency", latency=200)``."""
        params: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity, **attributes}
        if name is not None:
            params["name"] = name
        specs.validate_spec("toxic", proxy, params, proxies=self.stack.proxies or specs.PROXIES)
        return self._add(ToxicFault(self.stack, self.toxiproxy, fault_id=self._new_id("toxic", proxy, fault_id),
                                    proxy=proxy, toxic_type=type, stream=stream, toxicity=toxicity, name=name,
                                    attributes=attributes))

    def proxy_down(self, proxy: str, *, fault_id: str | None = None) -> ProxyDownFault:
        self._known_proxy(proxy)
        return self._add(ProxyDownFault(self.stack, self.toxiproxy,
                                        fault_id=self._new_id("proxy_down", proxy, fault_id), proxy=proxy))

    # -- process -----------------------------------------------------------------------------------
    def _process_fault(self, cls: type[Any], kind: str, service: str, fault_id: str | None,
                       params: Mapping[str, Any]) -> Any:
        specs.validate_spec(kind, service, params, services=self._services())
        return self._add(cls(self.stack, fault_id=self._new_id(kind, service, fault_id), service=service,
                             params=params, signaller=self.signal_group))

    def crash(self, service: str, *, fault_id: str | None = None) -> CrashFault:
        return self._process_fault(CrashFault, "crash", service, fault_id, {})

    def freeze(self, service: str, *, fault_id: str | None = None) -> FreezeFault:
        return self._process_fault(FreezeFault, "freeze", service, fault_id, {})

    def stop(self, service: str, *, timeout: float = 10.0, fault_id: str | None = None) -> StopFault:
        return self._process_fault(StopFault, "stop", service, fault_id, {"timeout": timeout})

    def restart(self, service: str, *, timeout: float = 10.0, fault_id: str | None = None) -> RestartFault:
        return self._process_fault(RestartFault, "restart", service, fault_id, {"timeout": timeout})

    # -- service -----------------------------------------------------------------------------------
    def pause_wal_replay(self, *, wal_mb: int = 0, fault_id: str | None = None) -> PauseWalReplayFault:
        return self._add(PauseWalReplayFault(
            self.stack, fault_id=self._new_id("pause_wal_replay", None, fault_id), wal_mb=wal_mb,
            connect=self.sql_connect))

    def hold_connections(self, fraction: float, *, state: str = "idle",
                         fault_id: str | None = None) -> HoldConnectionsFault:
        specs.validate_spec("hold_connections", None, {"fraction": fraction, "state": state})
        return self._add(HoldConnectionsFault(
            self.stack, fault_id=self._new_id("hold_connections", None, fault_id), fraction=fraction, state=state,
            connect=self.sql_connect))

    def fill_redis(self, fraction: float, *, value_bytes: int = 65536,
                   fault_id: str | None = None) -> FillRedisFault:
        specs.validate_spec("fill_redis", None, {"fraction": fraction, "value_bytes": value_bytes})
        return self._add(FillRedisFault(
            self.stack, fault_id=self._new_id("fill_redis", None, fault_id), fraction=fraction,
            value_bytes=value_bytes, connect=self.redis_connect))

    def redis_config(self, parameter: str, value: str, *, fault_id: str | None = None) -> RedisConfigFault:
        specs.validate_spec("redis_config", None, {"parameter": parameter, "value": value})
        return self._add(RedisConfigFault(self.stack, fault_id=self._new_id("redis_config", None, fault_id),
                                          parameter=parameter, value=value, connect=self.redis_connect))

    def fill_disk(self, fraction: float, *, fault_id: str | None = None) -> FillDiskFault:
        specs.validate_spec("fill_disk", None, {"fraction": fraction})
        return self._add(FillDiskFault(self.stack, fault_id=self._new_id("fill_disk", None, fault_id),
                                       fraction=fraction))

    def cache_miss_storm(self, *, interval_s: float = 0.05, pattern: str | None = None,
                         fault_id: str | None = None) -> CacheMissStormFault:
        params: dict[str, Any] = {"interval_s": interval_s}
        if pattern is not None:
            params["pattern"] = pattern
        specs.validate_spec("cache_miss_storm", None, params)
        return self._add(CacheMissStormFault(
            self.stack, fault_id=self._new_id("cache_miss_storm", None, fault_id), interval_s=interval_s,
            pattern=pattern, connect=self.redis_connect))

    def backup_failing(self, last_success_age_seconds: float | None = None, *,
                       fault_id: str | None = None) -> BackupFailingFault:
        if last_success_age_seconds is not None:
            specs.validate_spec("backup_failing", None, {"last_success_age_seconds": last_success_age_seconds})
        return self._add(BackupFailingFault(
            self.stack, fault_id=self._new_id("backup_failing", None, fault_id), session=self.session,
            last_success_age_seconds=last_success_age_seconds))

    # -- calibrated, inside the API -------------------------------------------------------------------
    def error_ratio(self, ratio: float, *, endpoint: str | None = None,
                    fault_id: str | None = None) -> ErrorRatioFault:
        params: dict[str, Any] = {"ratio": ratio}
        if endpoint is not None:
            params["endpoint"] = endpoint
        specs.validate_spec("error_ratio", None, params)
        return self._add(ErrorRatioFault(self.stack, fault_id=self._new_id("error_ratio", None, fault_id),
                                         session=self.session, ratio=ratio, endpoint=endpoint))

    def cache_hit_ratio(self, ratio: float, *, fault_id: str | None = None) -> CacheHitRatioFault:
        specs.validate_spec("cache_hit_ratio", None, {"ratio": ratio})
        return self._add(CacheHitRatioFault(self.stack, fault_id=self._new_id("cache_hit_ratio", None, fault_id),
                                            session=self.session, ratio=ratio))

    def query_latency(self, query: str, latency_ms: float, *, fault_id: str | None = None) -> QueryLatencyFault:
        specs.validate_spec("query_latency", None, {"query": query, "latency_ms": latency_ms})
        return self._add(QueryLatencyFault(self.stack, fault_id=self._new_id("query_latency", None, fault_id),
                                           session=self.session, query=query, latency_ms=latency_ms))

    # -- from a scenario file ------------------------------------------------------------------------
    def _services(self) -> Collection[str]:
        services = getattr(self.stack, "services", None)
        return list(services) if services else specs.SERVICES

    def from_spec(self, kind: str, target: str | None, params: Mapping[str, Any] | None = None, *,
                  fault_id: str | None = None) -> Fault:
        """Build (not start) a fault from a scenario's ``kind``/``target``/``params``.

        Raises FaultSpecError (a HarnessError) naming the bad field before anything is touched.
        """
        p = dict(params or {})
        target = specs.validate_spec(kind, target, p, proxies=self.stack.proxies or specs.PROXIES,
                                     services=self._services())
        if kind == "toxic":
            assert target is not None
            ttype = p.pop("type")
            return self.toxic(target, ttype, stream=p.pop("stream", "downstream"),
                              toxicity=float(p.pop("toxicity", 1.0)), name=p.pop("name", None), fault_id=fault_id,
                              **p)
        if kind == "proxy_down":
            assert target is not None
            return self.proxy_down(target, fault_id=fault_id)
        if kind in ("crash", "freeze"):
            assert target is not None
            return getattr(self, kind)(target, fault_id=fault_id)
        if kind in ("stop", "restart"):
            assert target is not None
            return getattr(self, kind)(target, timeout=float(p.get("timeout", 10.0)),
                                       fault_id=fault_id)
        if kind == "pause_wal_replay":
            return self.pause_wal_replay(wal_mb=int(p.get("wal_mb", 0)), fault_id=fault_id)
        if kind == "hold_connections":
            return self.hold_connections(float(p["fraction"]), state=p.get("state", "idle"), fault_id=fault_id)
        if kind == "fill_redis":
            return self.fill_redis(float(p["fraction"]), value_bytes=int(p.get("value_bytes", 65536)),
                                   fault_id=fault_id)
        if kind == "redis_config":
            return self.redis_config(str(p["parameter"]), str(p["value"]), fault_id=fault_id)
        if kind == "fill_disk":
            return self.fill_disk(float(p["fraction"]), fault_id=fault_id)
        if kind == "cache_miss_storm":
            return self.cache_miss_storm(interval_s=float(p.get("interval_s", 0.05)), pattern=p.get("pattern"),
                                         fault_id=fault_id)
        if kind == "error_ratio":
            return self.error_ratio(float(p["ratio"]), endpoint=p.get("endpoint"), fault_id=fault_id)
        if kind == "cache_hit_ratio":
            return self.cache_hit_ratio(float(p["ratio"]), fault_id=fault_id)
        if kind == "query_latency":
            return self.query_latency(str(p["query"]), float(p["latency_ms"]), fault_id=fault_id)
        if kind == "backup_failing":
            age = p.get("last_success_age_seconds")
            return self.backup_failing(None if age is None else float(age), fault_id=fault_id)
        raise specs.FaultSpecError("kind", f"no factory for fault kind {kind!r}")  # a KIND_SPECS entry without one

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
