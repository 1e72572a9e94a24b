"""Calibrated faults inside the service, set through ``/admin/faults/{kind}`` by the harness.

Each holds a measured quantity at a requested value, deterministically (every Nth call, never a coin flip),
and counts what it achieved, so the harness can report it:

- ``error_ratio``: the API answers 500 to exactly ``ratio`` of one endpoint's requests (``endpoint``, a route
  template) or of all requests (one counter over every measured route).
- ``cache_hit_ratio``: at most ``ratio`` of active-bets reads are served from Redis; the others skip the cache
  and are real misses (Query 1 on Postgres, the result written back), counted like any miss.
- ``query_latency``: ``latency_ms`` added to one named query, inside its timed section and while it holds its
  connection (a slow query, as the pool and the histogram see it); every other query is untouched.

State is per process: with several uvicorn workers a control request reaches one of them, so the reply says
whether the API runs in multiprocess mode and the harness refuses it there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

KINDS = ("error_ratio", "cache_hit_ratio", "query_latency")


class ControlError(ValueError):
    """A control request is malformed; the message names the field."""


class Every:
    """Selects calls so that after k calls exactly floor(k * ratio) were selected (an exact share at every
    point, spread evenly: ratio 0.02 selects the 50th, 100th, ... call)."""

    def __init__(self, ratio: float) -> None:
        self._share = Fraction(ratio).limit_denominator(1_000_000)
        self.calls = 0
        self.selected = 0

    def next(self) -> bool:
        self.calls += 1
        due = self.calls * self._share.numerator // self._share.denominator > self.selected
        if due:
            self.selected += 1
        return due


@dataclass
class ErrorRatio:
    ratio: float
    endpoint: str | None
    every: Every

    def stats(self) -> dict[str, Any]:
        n, e = self.every.calls, self.every.selected
        return {"requests": n, "errors": e, "achieved_ratio": e / n if n else None}


@dataclass
class CacheHitRatio:
    ratio: float
    misses: Every                        # selects the reads that skip the cache: 1 - ratio of them
    hits: int = 0
    total: int = 0

    def stats(self) -> dict[str, Any]:
        return {"reads": self.total, "hits": self.hits, "forced_misses": self.misses.selected,
                "achieved_ratio": self.hits / self.total if self.total else None}


@dataclass
class QueryLatency:
    query: str
    latency_ms: float
    durations_s: list[float] = field(default_factory=list)

    def stats(self) -> dict[str, Any]:
        d = sorted(self.durations_s)
        if not d:
            return {"calls": 0}
        return {"calls": len(d), "min_ms": d[0] * 1000, "mean_ms": sum(d) / len(d) * 1000,
                "p95_ms": d[min(len(d) - 1, int(0.95 * len(d)))] * 1000}


def _ratio(params: dict[str, Any], name: str, *, allow_zero: bool) -> float:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{name} must be a number, got {value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        raise ControlError(f"{name} must be in {'[0' if allow_zero else '(0'}, 1], got {value!r}")
    return float(value)


class Control:
    def __init__(self, routes: tuple[str, ...], queries: tuple[str, ...], *, multiprocess: bool = False) -> None:
        self.routes = routes
        self.queries = queries
        self.multiprocess = multiprocess
        self.error_ratio: ErrorRatio | None = None
        self.cache_hit_ratio: CacheHitRatio | None = None
        self.query_latency: QueryLatency | None = None

    # -- the admin interface -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        active = {k: getattr(self, k) for k in KINDS if getattr(self, k) is not None}
        return {"pid": os.getpid(), "multiprocess": self.multiprocess,
                "active": {k: v.stats() for k, v in active.items()}}

    def set(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        if kind == "error_ratio":
            endpoint = params.get("endpoint")
            if endpoint is not None and endpoint not in self.routes:
                raise ControlError(f"endpoint must be a route template ({', '.join(self.routes)}), got {endpoint!r}")
            ratio = _ratio(params, "ratio", allow_zero=False)
            self.error_ratio = ErrorRatio(ratio, endpoint, Every(ratio))
        elif kind == "cache_hit_ratio":
            ratio = _ratio(params, "ratio", allow_zero=True)
            self.cache_hit_ratio = CacheHitRatio(ratio, Every(1.0 - ratio))
        elif kind == "query_latency":
            query, ms = params.get("query"), params.get("latency_ms")
            if query not in self.queries:
                raise ControlError(f"query must be one of {', '.join(self.queries)}, got {query!r}")
            if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 < ms <= 10_000:
                raise ControlError(f"latency_ms must be a number in (0, 10000], got {ms!r}")
            self.query_latency = QueryLatency(str(query), float(ms))
        else:
            raise ControlError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        return self.state()

    def clear(self, kind: str) -> dict[str, Any]:
        """End a fault; returns what it achieved (empty when it was not set)."""
        if kind not in KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        current = getattr(self, kind)
        setattr(self, kind, None)
        return {"pid": os.getpid(), "kind": kind, "achieved": current.stats() if current is not None else {}}

    # -- hooks the request path calls ----------------------------------------------------------------
    def fail_request(self, endpoint: str) -> bool:
        """True when this request to ``endpoint`` is one the error_ratio fault answers with a 500."""
        f = self.error_ratio
        if f is None or (f.endpoint is not None and f.endpoint != endpoint):
            return False
        return f.every.next()

    def skip_cache(self) -> bool:
        f = self.cache_hit_ratio
        return f is not None and f.misses.next()

    def cache_outcome(self, hit: bool) -> None:
        f = self.cache_hit_ratio
        if f is not None:
            f.total += 1
            f.hits += int(hit)

    def query_delay_s(self, query: str) -> float:
        f = self.query_latency
        return f.latency_ms / 1000 if f is not None and f.query == query else 0.0

    def query_observed(self, query: str, seconds: float) -> None:
        f = self.query_latency
        if f is not None and f.query == query and len(f.durations_s) < 1_000_000:
            f.durations_s.append(seconds)
