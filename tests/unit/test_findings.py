"""The audit's static reading of the seed rules: each known defect is named for the rule that has it,
and the reference pack's fixed rules are not accused of it."""

from harness.config import RULES_DIR
from harness.core.catalog import load_catalog
from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.rules.exported import exported_by
from harness.scenario.findings import audit_findings, finding_keys, lint_rule

SEED = load_catalog([RULES_DIR / "betting-alerts.yml"])
REF = load_catalog([RULES_DIR / "reference.yml"])


def exported(name):
    return exported_by(name) is not None


def causes(catalog, alert):
    return " | ".join(lint_rule(catalog.alerts[alert], exported))


def test_seed_defects_named():
    assert "divides each series by itself" in causes(SEED, "CacheHitRateLow")
    assert "divides each series by itself" in causes(SEED, "ErrorRateHigh")
    assert "vector matching finds no pairs" in causes(SEED, "ConnectionPoolNearLimit")
    assert "`pg_replication_lag_bytes` is not exported" in causes(SEED, "ReplicationLagHigh")
    assert 'status="200"' in causes(SEED, "AvailabilitySLOBreach")
    assert "5 ms threshold" in causes(SEED, "QueryLatencyHigh")
    assert "time()" in causes(SEED, "BackupFailed")


def test_reference_not_accused():
    for alert in ("CacheHitRateLow", "ErrorRateHigh", "ConnectionPoolNearLimit", "ReplicationLagHigh",
                  "AvailabilitySLOBreach", "QueryLatencyHigh"):
        assert "itself" not in causes(REF, alert)
        assert "not exported" not in causes(REF, alert)
        assert "no pairs" not in causes(REF, alert)


def test_findings_only_for_failures_and_stable_keys():
    res = ScenarioResult("cache_hit_rate_fires", "f.yaml", 0, 10, 60, verdicts=[
        Verdict("fires", "CacheHitRateLow", FAIL, "firing within 30s", "never fired; never pending"),
        Verdict("silent", "RedisDown", PASS, "not firing", "silent"),
    ])
    found = audit_findings(SEED, [res], exported)
    assert len(found) == 1
    assert found[0]["alert"] == "CacheHitRateLow" and "itself" in found[0]["likely_cause"]
    assert finding_keys(found) == ["cache_hit_rate_fires: fires CacheHitRateLow"]


def test_expected_findings_are_all_required_and_no_others_allowed():
    import pytest

    from harness.core.errors import HarnessError
    from harness.scenario.findings import ExpectedFindings

    want = ExpectedFindings.parse({"findings": ["a", "b"]}, "f.json")
    assert want.compare(["a", "b"]) == ([], [])
    assert want.compare(["a", "c"]) == (["b"], ["c"])
    assert ExpectedFindings.parse(["a"], "f.json").compare(["a", "c"]) == ([], ["c"])
    assert want.updated(["e", "a"]) == {"findings": ["a", "e"]}
    with pytest.raises(HarnessError, match=r"f\.json"):
        ExpectedFindings.parse({"findings": "a"}, "f.json")
    with pytest.raises(HarnessError, match="no longer accepted"):
        ExpectedFindings.parse({"findings": ["a"], "timing_dependent": {"c": "p95 near 5 ms"}}, "f.json")


def test_a_failure_that_does_not_reproduce_at_a_low_scale_is_compression_sensitive_not_a_finding():
    res = ScenarioResult("postgres_down_fires", "f.yaml", 0, 10, 120, verdicts=[
        Verdict("fires", "PostgreSQLDown", FAIL, "firing within 3s", "never fired; never pending"),
        Verdict("resolves", "PostgreSQLDown", FAIL, "resolved by 5s", "still firing"),
    ])
    res.confirmation = {"time_scale": 10.0, "error": None, "passed": False, "failed": ["resolves PostgreSQLDown"]}
    found = audit_findings(SEED, [res], exported)
    sensitive = [f for f in found if f.get("compression_sensitive")]
    assert [f["check"] for f in sensitive] == ["fires"] and "did not reproduce at time scale 10" in \
        sensitive[0]["likely_cause"]
    assert finding_keys(found) == ["postgres_down_fires: resolves PostgreSQLDown"]
    assert not res.confirmed_ok
    res.confirmation["failed"] = []
    assert res.confirmed_ok and finding_keys(audit_findings(SEED, [res], exported)) == []


def test_an_alert_that_fired_is_not_said_to_return_nothing():
    # RedisMemoryHigh fired with no maxmemory limit: the cause is the division by 0, not label matching.
    res = ScenarioResult("redis_memory_unlimited", "f.yaml", 0, 10, 60, verdicts=[
        Verdict("silent", "RedisMemoryHigh", FAIL, "not firing", "firing from t=4s")])
    [found] = audit_findings(SEED, [res], exported)
    assert "divides by `redis_memory_max_bytes`" in found["likely_cause"]
    assert "returns nothing" not in found["likely_cause"]
    assert "divides by" not in causes(REF, "RedisMemoryHigh")


def test_a_latency_sli_that_is_not_a_share_is_named_and_the_fixed_one_is_not():
    published = load_catalog([RULES_DIR / "petforce-slo.yml"])
    fixed = load_catalog([RULES_DIR / "reference-slo.yml"])
    res = ScenarioResult("healthy_baseline", "f.yaml", 0, 10, 60, verdicts=[
        Verdict("record", "slo:api:latency:ratio", FAIL, "within ±0.001 of the ground truth 1.00000",
                "nan (returned 6 series, not one ratio)")])
    (finding,) = audit_findings(published, [res], exported)
    assert "latency quantile (seconds), not a share of requests" in finding["likely_cause"]
    assert finding_keys([finding]) == ["healthy_baseline: record -> slo:api:latency:ratio"]
    (fixed_finding,) = audit_findings(fixed, [res], exported)
    assert "quantile" not in fixed_finding["likely_cause"]


def test_a_page_that_reached_nobody_names_the_pager_receivers_problem():
    from harness.config import SEED_ALERTMANAGER

    seed = load_catalog([RULES_DIR / "betting-alerts.yml"], SEED_ALERTMANAGER)
    res = ScenarioResult("redis_down_fires", "f.yaml", 0, 10, 60, verdicts=[
        Verdict("pages", "role:pager", FAIL, "one of 7 alerts delivered to pagerduty-critical within 60.00s",
                "no notification")])
    (found,) = audit_findings(seed, [res], exported)
    assert "`service_key`" in found["likely_cause"]
    assert finding_keys([found]) == ["redis_down_fires: pages -> role:pager"]
