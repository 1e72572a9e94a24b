"""Fault kinds, their parameters, and validation that needs no running stack.

``FAULT_KINDS`` maps each kind to ``{param: python type}`` for the scenario validator; ``KIND_SPECS``
holds the rest (required, ranges, choices, implied target). ``spec_problems`` lists every problem in one
fault spec, ``validate_spec`` raises the first as ``FaultSpecError`` naming the field.

Parameters are taken literally, never time-scaled: a 200 ms latency is 200 ms at any time scale.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

# The reference stack's names (contract C); a backend may offer a subset, checked when the stack is known.
PROXIES = ("pg_primary", "pg_replica", "redis", "replication",
           "exporter_pg_primary", "exporter_pg_replica", "exporter_redis")
SERVICES = ("postgres_primary", "postgres_replica", "redis", "prometheus", "alertmanager", "api", "toxiproxy",
            "postgres_exporter_primary", "postgres_exporter_replica", "redis_exporter", "node_exporter",
            "backup", "grafana")

# Toxic type -> its integer attributes (Toxiproxy 2.12; see shared/reference/toxiproxy-api.md section 5).
TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "noop": (),
}
# Attributes whose zero default is rarely what anyone means (latency 0 is a no-op; slicer 0 crashes the real
# server), so a spec must give them.
TOXIC_REQUIRED: dict[str, tuple[str, ...]] = {
    "latency": ("latency",), "bandwidth": ("rate",), "slow_close": ("delay",),
    "slicer": ("average_size",), "limit_data": ("bytes",),
}
STREAMS = ("upstream", "downstream")
# The sample API's route templates and named queries (stack/api/betting_api), which calibrated faults select.
API_ROUTES = ("/api/active-bets", "/api/bets", "/api/users/{id}/bets", "/api/markets/{id}/exposure",
              "/api/reports/daily-volume", "/api/meta")
API_QUERIES = ("query1", "place_bet", "query2", "query3", "query4")
NETWORK, PROCESS, SERVICE = "network", "process", "service"


class FaultSpecError(HarnessError):
    """A fault spec is wrong; ``field`` is ``kind``, ``target`` or ``params.<name>``."""

    def __init__(self, field: str, problem: str, *, hint: str = "") -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"fault spec: {field}: {problem}", hint=hint)


Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Param:
    type: type | tuple[type, ...]
    required: bool = False
    check: Check | None = None
    doc: str = ""


@dataclass(frozen=True)
class KindSpec:
    group: str                                   # network | process | service
    params: Mapping[str, Param] = field(default_factory=dict)
    service: str | None = None                   # the one service a service fault acts on
    doc: str = ""


def _fraction(v: Any) -> str | None:
    return None if 0 < v <= 1 else f"must be in (0, 1], got {v!r}"


def _positive(v: Any) -> str | None:
    return None if v > 0 else f"must be > 0, got {v!r}"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else f"must be >= 0, got {v!r}"


def _ratio_or_zero(v: Any) -> str | None:
    return None if 0 <= v <= 1 else f"must be in [0, 1], got {v!r}"


def _below_db_deadline(v: Any) -> str | None:
    # The API bounds every database call by its 1 s deadline (BETTING_DB_TIMEOUT_S): more is a 503, not latency.
    return None if 0 < v < 1000 else f"must be in (0, 1000) ms (the API's database deadline is 1 s), got {v!r}"


def _choice(options: tuple[str, ...]) -> Check:
    def check(v: Any) -> str | None:
        return None if v in options else f"must be one of {', '.join(options)}, got {v!r}"
    return check


def _stream(v: Any) -> str | None:
    return None if str(v).lower() in STREAMS else f"must be upstream or downstream, got {v!r}"


_TOXIC_PARAMS: dict[str, Param] = {
    "type": Param(str, required=True, check=_choice(tuple(TOXIC_ATTRIBUTES)), doc="toxic type"),
    "stream": Param(str, check=_stream, doc="downstream (server to client, default) or upstream"),
    "toxicity": Param(float, check=lambda v: None if 0 <= v <= 1 else f"must be in [0, 1], got {v!r}",
                      doc="probability a connection is affected (drawn per connection)"),
    "name": Param(str, doc="toxic name on the proxy (default: generated, unique)"),
}
for _attrs in TOXIC_ATTRIBUTES.values():
    for _a in _attrs:
        _TOXIC_PARAMS.setdefault(_a, Param(int, check=_non_negative, doc="toxic attribute (see Toxiproxy docs)"))

_STOP_TIMEOUT = Param(float, check=_positive, doc="seconds to wait for a graceful stop")

KIND_SPECS: dict[str, KindSpec] = {
    "toxic": KindSpec(NETWORK, _TOXIC_PARAMS, doc="a Toxiproxy toxic on a proxy"),
    "proxy_down": KindSpec(NETWORK, doc="disable a proxy: new connections refused, open ones closed"),
    "crash": KindSpec(PROCESS, doc="SIGKILL the service's process tree; started again at the end"),
    "freeze": KindSpec(PROCESS, doc="SIGSTOP the service's process tree; SIGCONT at the end"),
    "stop": KindSpec(PROCESS, {"timeout": _STOP_TIMEOUT}, doc="graceful stop; started again at the end"),
    "restart": KindSpec(PROCESS, {"timeout": _STOP_TIMEOUT}, doc="graceful stop then start, at once"),
    "pause_wal_replay": KindSpec(SERVICE, {
        "wal_mb": Param(int, check=_non_negative, doc="MB of WAL to write on the primary once paused"),
    }, service="postgres_replica",
                                 doc="pg_wal_replay_pause() on the replica; resumed at the end"),
    "hold_connections": KindSpec(SERVICE, {
        "fraction": Param(float, required=True, check=_fraction, doc="share of max_connections in use"),
        "state": Param(str, check=_choice(("idle", "active")), doc="idle (default) or active (pg_sleep)"),
    }, service="postgres_primary", doc="hold primary connections up to a fraction of max_connections"),
    "fill_redis": KindSpec(SERVICE, {
        "fraction": Param(float, required=True, check=_fraction, doc="used_memory / maxmemory to reach"),
        "value_bytes": Param(int, check=_positive, doc="size of each filler value (default 65536)"),
    }, service="redis", doc="write keys until used_memory/maxmemory >= fraction; deleted at the end"),
    "cache_miss_storm": KindSpec(SERVICE, {
        "interval_s": Param(float, check=_positive, doc="seconds between flushes (default 0.05)"),
        "pattern": Param(str, doc="key glob to delete (default: FLUSHDB of the API's database)"),
    }, service="redis", doc="flush the cache continuously"),
    "redis_config": KindSpec(SERVICE, {
        "parameter": Param(str, required=True, doc="a Redis configuration parameter, e.g. maxmemory"),
        "value": Param(str, required=True, doc="the value to set (the original is restored at the end)"),
    }, service="redis", doc="CONFIG SET a misconfiguration on Redis; restored at the end"),
    "fill_disk": KindSpec(SERVICE, {
        "fraction": Param(float, required=True, check=_fraction, doc="used / size of the volume to reach"),
    }, service="node_exporter", doc="fill the data volume node_exporter watches; emptied at the end"),
    # Calibrated faults inside the API (harness/faults/calibrated.py, stack/api/betting_api/control.py).
    "error_ratio": KindSpec(SERVICE, {
        "ratio": Param(float, required=True, check=_fraction, doc="share of requests answered 500 (every Nth)"),
        "endpoint": Param(str, check=_choice(API_ROUTES),
                          doc="one route template, e.g. /api/active-bets (default: one counter over all requests)"),
    }, service="api", doc="the API answers 500 to exactly this share of one endpoint's (or all) requests"),
    "cache_hit_ratio": KindSpec(SERVICE, {
        "ratio": Param(float, required=True, check=_ratio_or_zero, doc="share of active-bets reads served from cache"),
    }, service="api", doc="at most this share of active-bets reads hit the cache; the rest are real misses"),
    "query_latency": KindSpec(SERVICE, {
        "query": Param(str, required=True, check=_choice(API_QUERIES), doc="the query to slow down"),
        "latency_ms": Param(float, required=True, check=_below_db_deadline, doc="milliseconds added to each call"),
    }, service="api", doc="add latency_ms to one named query, and to nothing else"),
    "backup_failing": KindSpec(SERVICE, {
        "last_success_age_seconds": Param(float, check=_non_negative,
                                          doc="also backdate the last success by this many seconds"),
    }, service="backup", doc="make the backup job's runs fail; restored at the end"),
}

# Faults set through the API's control interface: one of each kind at a time.
API_CONTROL_KINDS = ("error_ratio", "cache_hit_ratio", "query_latency")

FAULT_KINDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    kind: {name: p.type for name, p in spec.params.items()} for kind, spec in KIND_SPECS.items()
}


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known)) or '(none)'}"


def _type_ok(value: Any, typ: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # YAML `true` is not a number
        return typ is bool
    if typ is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, typ)


def _type_name(typ: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__


def spec_problems(kind: str, target: str | None, params: Mapping[str, Any] | None, *,
                  proxies: Collection[str] = PROXIES,
                  services: Collection[str] = SERVICES) -> list[FaultSpecError]:
    """Every problem in one fault spec (empty when it is valid). Needs no running stack."""
    if kind not in KIND_SPECS:
        return [FaultSpecError("kind", f"unknown fault kind {kind!r}", hint=_suggest(str(kind), KIND_SPECS))]
    spec = KIND_SPECS[kind]
    problems: list[FaultSpecError] = []
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        return [FaultSpecError("params", f"expected a mapping, got {type(params).__name__}")]

    if spec.group == NETWORK:
        if not target:
            problems.append(FaultSpecError("target", f"{kind} needs a proxy name", hint=_suggest("", proxies)))
        elif target not in proxies:
            problems.append(FaultSpecError("target", f"unknown proxy {target!r}", hint=_suggest(target, proxies)))
    elif spec.group == PROCESS:
        if not target:
            problems.append(FaultSpecError("target", f"{kind} needs a service name",
                                           hint=_suggest("", services)))
        elif target not in services:
            problems.append(FaultSpecError("target", f"unknown service {target!r}",
                                           hint=_suggest(target, services)))
    elif target not in (None, spec.service):
        problems.append(FaultSpecError("target", f"{kind} acts on {spec.service!r}, not {target!r}",
                                       hint="omit target or set it to " + str(spec.service)))

    for name, value in params.items():
        p = spec.params.get(name)
        if p is None:
            problems.append(FaultSpecError(f"params.{name}", f"not a parameter of {kind}",
                                           hint=f"accepted: {', '.join(sorted(spec.params)) or '(none)'}"))
            continue
        if not _type_ok(value, p.type):
            problems.append(FaultSpecError(f"params.{name}", f"expected {_type_name(p.type)}, got {value!r}"))
            continue
        problem = p.check(value) if p.check is not None else None
        if problem:
            problems.append(FaultSpecError(f"params.{name}", problem))
    for name, p in spec.params.items():
        if p.required and name not in params:
            problems.append(FaultSpecError(f"params.{name}", "missing", hint=p.doc))

    if kind == "toxic" and isinstance(params.get("type"), str) and params["type"] in TOXIC_ATTRIBUTES:
        problems.extend(_toxic_problems(params))
    return problems


def _toxic_problems(params: Mapping[str, Any]) -> list[FaultSpecError]:
    ttype = params["type"]
    own = TOXIC_ATTRIBUTES[ttype]
    problems = []
    for name in params:
        if name in _TOXIC_PARAMS and name not in ("type", "stream", "toxicity", "name") and name not in own:
            problems.append(FaultSpecError(f"params.{name}", f"not an attribute of a {ttype} toxic",
                                           hint=f"{ttype} takes: {', '.join(own) or '(no attributes)'}"))
    for name in TOXIC_REQUIRED.get(ttype, ()):
        if name not in params:
            problems.append(FaultSpecError(f"params.{name}", f"missing (a {ttype} toxic needs it)"))
    if ttype == "slicer":
        avg, var = params.get("average_size"), params.get("size_variation", 0)
        if isinstance(avg, int) and isinstance(var, int) and avg > 0 and var >= avg:
            # The real Toxiproxy panics on out-of-range slices.
            problems.append(FaultSpecError("params.size_variation", f"must be < average_size ({avg}), got {var}"))
        if avg == 0:
            problems.append(FaultSpecError("params.average_size", "must be > 0 (0 crashes a real Toxiproxy)"))
    return problems


def validate_spec(kind: str, target: str | None, params: Mapping[str, Any] | None, *,
                  proxies: Collection[str] = PROXIES, services: Collection[str] = SERVICES) -> str | None:
    """Raise the first problem as FaultSpecError; return the effective target (service faults imply it)."""
    problems = spec_problems(kind, target, params, proxies=proxies, services=services)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            more = "; ".join(f"{p.field}: {p.problem}" for p in problems[1:])
            raise FaultSpecError(first.field, f"{first.problem} (also: {more})", hint=first.hint)
        raise first
    spec = KIND_SPECS[kind]
    return spec.service if spec.group == SERVICE else target
