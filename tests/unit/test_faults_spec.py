"""Fault spec validation: pure, no stack."""

from __future__ import annotations

import pytest

from harness.core.errors import HarnessError
from harness.faults import FAULT_KINDS, FaultSpecError, spec_problems, validate_spec


def fields(kind, target, params, **kw):
    return [p.field for p in spec_problems(kind, target, params, **kw)]


def test_fault_kinds_lists_every_kind_with_param_types():
    assert set(FAULT_KINDS) == {"toxic", "proxy_down", "crash", "freeze", "stop", "restart", "pause_wal_replay",
                                "hold_connections", "fill_redis", "cache_miss_storm", "fill_disk", "redis_config",
                                "backup_failing", "error_ratio", "cache_hit_ratio", "query_latency"}
    assert FAULT_KINDS["query_latency"] == {"query": str, "latency_ms": float}
    assert FAULT_KINDS["hold_connections"] == {"fraction": float, "state": str}
    assert FAULT_KINDS["toxic"]["latency"] is int
    assert FAULT_KINDS["crash"] == {}


@pytest.mark.parametrize("kind,target,params", [
    ("toxic", "pg_primary", {"type": "latency", "latency": 200, "jitter": 20}),
    ("toxic", "redis", {"type": "timeout", "stream": "upstream", "toxicity": 0.5}),
    ("toxic", "pg_replica", {"type": "bandwidth", "rate": 0}),
    ("proxy_down", "replication", {}),
    ("crash", "postgres_primary", {}),
    ("stop", "api", {"timeout": 5}),
    ("pause_wal_replay", None, {}),
    ("pause_wal_replay", "postgres_replica", None),
    ("hold_connections", None, {"fraction": 0.9, "state": "active"}),
    ("fill_redis", "redis", {"fraction": 1}),
    ("cache_miss_storm", None, {"interval_s": 0.1, "pattern": "cache:*"}),
    ("backup_failing", None, {"last_success_age_seconds": 90000}),
])
def test_valid_specs_have_no_problems(kind, target, params):
    assert spec_problems(kind, target, params) == []


def test_service_faults_imply_their_target():
    assert validate_spec("pause_wal_replay", None, {}) == "postgres_replica"
    assert validate_spec("fill_redis", None, {"fraction": 0.5}) == "redis"
    assert validate_spec("crash", "api", {}) == "api"


@pytest.mark.parametrize("kind,target,params,field", [
    ("explode", "api", {}, "kind"),
    ("toxic", "pg_nowhere", {"type": "latency", "latency": 1}, "target"),
    ("toxic", None, {"type": "latency", "latency": 1}, "target"),
    ("crash", "postgress_primary", {}, "target"),
    ("freeze", None, {}, "target"),
    ("pause_wal_replay", "redis", {}, "target"),
    ("toxic", "pg_primary", {"type": "lag", "latency": 1}, "params.type"),
    ("toxic", "pg_primary", {"latency": 1}, "params.type"),
    ("toxic", "pg_primary", {"type": "latency"}, "params.latency"),
    ("toxic", "pg_primary", {"type": "latency", "latency": 1.5}, "params.latency"),
    ("toxic", "pg_primary", {"type": "latency", "latency": "200ms"}, "params.latency"),
    ("toxic", "pg_primary", {"type": "latency", "latency": -1}, "params.latency"),
    ("toxic", "pg_primary", {"type": "latency", "latency": 1, "rate": 5}, "params.rate"),
    ("toxic", "pg_primary", {"type": "latency", "latency": 1, "stream": "sideways"}, "params.stream"),
    ("toxic", "pg_primary", {"type": "latency", "latency": 1, "toxicity": 1.5}, "params.toxicity"),
    ("toxic", "pg_primary", {"type": "slicer", "average_size": 0}, "params.average_size"),
    ("toxic", "pg_primary", {"type": "slicer", "average_size": 10, "size_variation": 10}, "params.size_variation"),
    ("hold_connections", None, {}, "params.fraction"),
    ("hold_connections", None, {"fraction": 0}, "params.fraction"),
    ("hold_connections", None, {"fraction": 1.2}, "params.fraction"),
    ("hold_connections", None, {"fraction": True}, "params.fraction"),
    ("hold_connections", None, {"fraction": 0.5, "state": "busy"}, "params.state"),
    ("fill_redis", None, {"fraction": 0.5, "colour": "red"}, "params.colour"),
    ("cache_miss_storm", None, {"interval_s": 0}, "params.interval_s"),
    ("backup_failing", None, {"last_success_age_seconds": -5}, "params.last_success_age_seconds"),
    ("crash", "api", {"timeout": 3}, "params.timeout"),
])
def test_bad_specs_name_the_field(kind, target, params, field):
    assert field in fields(kind, target, params)
    with pytest.raises(HarnessError) as err:
        validate_spec(kind, target, params)
    assert isinstance(err.value, FaultSpecError)
    assert field in str(err.value)


def test_unknown_names_suggest_the_close_ones():
    (problem,) = spec_problems("crash", "postgress_primary", {})
    assert "postgres_primary" in problem.hint
    (problem,) = spec_problems("fill_reddis", None, {})
    assert "fill_redis" in problem.hint


def test_every_problem_is_reported_at_once():
    problems = fields("hold_connections", "api", {"fraction": 2, "state": "busy", "extra": 1})
    assert problems == ["target", "params.fraction", "params.state", "params.extra"]


def test_stack_specific_names_are_checked_when_given():
    assert fields("toxic", "pg_primary", {"type": "noop"}, proxies=["only_this"]) == ["target"]
    assert fields("crash", "grafana", {}, services=["api"]) == ["target"]


def test_params_must_be_a_mapping():
    assert fields("crash", "api", [1, 2]) == ["params"]
