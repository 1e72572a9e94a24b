"""`harness map` on a community-style pack: which reference alert each of its rules stands for, with a reason, and
the shipped suite made applicable by the proposed map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.catalog import load_catalog
from harness.core.model import load_scenario
from harness.scenario.alertmap import apply_map, map_scenarios, parse_map
from harness.scenario.map_proposal import Proposal, main, propose, render
from harness.scenario.suite import applicable, scenario_files, validation_context
from harness.scenario.validate import validate_scenarios

# The shipped example of a team's own pack (awesome-prometheus-alerts style: other names, severities page/ticket,
# percent thresholds).
COMMUNITY = Path(__file__).resolve().parents[2] / "stack" / "examples" / "community-pack"
AM = (COMMUNITY / "alertmanager.yml").read_text(encoding="utf-8")


@pytest.fixture
def pack(tmp_path: Path) -> tuple[Path, Path]:
    return COMMUNITY / "rules.yml", COMMUNITY / "alertmanager.yml"


def proposal_for(pack: tuple[Path, Path]) -> tuple[Proposal, dict[str, Any]]:
    rules, am = pack
    p = propose(load_catalog(reference_rule_files(), REFERENCE_ALERTMANAGER),
                yaml.safe_load(REFERENCE_ALERTMANAGER.read_text()), load_catalog([rules], am), yaml.safe_load(AM))
    return p, p.as_map()


def test_each_reference_alert_maps_to_the_rule_that_reads_the_same_metrics(pack: tuple[Path, Path]) -> None:
    _, m = proposal_for(pack)
    assert m["alerts"] == {
        "PostgreSQLDown": "PostgresqlDown", "RedisDown": "RedisInstanceDown",
        "ConnectionPoolNearLimit": "PostgresqlTooManyConnections", "ReplicationLagHigh": "PostgresqlReplicationLag",
        "RedisMemoryHigh": "RedisOutOfMemory", "DiskSpaceLow": "HostOutOfDiskSpace",
        "ErrorRateHigh": "ApiHighErrorRate", "AvailabilitySLOBreach": "ApiHighErrorRate",
        "BackupFailed": None, "CacheHitRateLow": None, "QueryLatencyHigh": None,
        "ErrorBudgetExhausted": None, "ErrorBudgetNearlyExhausted": None}


def test_recording_rules_map_by_the_metrics_they_read(pack: tuple[Path, Path], tmp_path: Path) -> None:
    _, m = proposal_for(pack)
    assert set(m["records"].values()) == {None}     # the pack records nothing
    rules, am = pack
    (tmp_path / "slo.yml").write_text("groups:\n- name: slo\n  rules:\n  - record: sli:latency:good_ratio\n"
                                      "    expr: sum(rate(http_request_duration_seconds_bucket{le='0.1'}[5m])) / "
                                      "sum(rate(http_request_duration_seconds_count[5m]))\n")
    p = propose(load_catalog(reference_rule_files(), REFERENCE_ALERTMANAGER),
                yaml.safe_load(REFERENCE_ALERTMANAGER.read_text()), load_catalog([rules, tmp_path / "slo.yml"], am),
                yaml.safe_load(AM))
    assert [(x.reference, x.theirs, x.reason) for x in p.records if x.theirs] == [
        ("slo:api:latency:ratio", "sli:latency:good_ratio", "sli:latency:good_ratio: reads "
         "http_request_duration_seconds_bucket, http_request_duration_seconds_count as slo:api:latency:ratio does "
         "(same metrics)")]


def test_every_line_has_its_reason(pack: tuple[Path, Path]) -> None:
    p, _ = proposal_for(pack)
    why = {x.reference: x.reason for x in p.alerts}
    assert why["PostgreSQLDown"].startswith("PostgresqlDown: reads pg_up == 0 as PostgreSQLDown does (")
    assert "same comparison" in why["PostgreSQLDown"]
    assert why["ErrorRateHigh"].startswith("ApiHighErrorRate: reads http_requests_total > 0.05")
    assert "threshold > 0.01 there" in why["ErrorRateHigh"]
    assert "other comparison: < 0.999 there" in why["AvailabilitySLOBreach"]
    assert why["BackupFailed"] == "no rule reads backup_last_success_timestamp"
    assert why["QueryLatencyHigh"] == "no rule reads query_duration_seconds_bucket"


def test_receivers_follow_the_routes_and_severities_the_mapped_alerts(pack: tuple[Path, Path]) -> None:
    p, m = proposal_for(pack)
    assert m["receivers"] == {"pagerduty-critical": "oncall-pd", "slack-critical": "team-slack",
                              "slack-warnings": "team-slack", "default": None}
    assert m["labels"] == {"severity": {"critical": "page", "warning": "ticket"}}
    why = {x.reference: x.reason for x in p.receivers}
    assert why["pagerduty-critical"].startswith("oncall-pd: where ")
    assert "role pager" in why["pagerduty-critical"]
    assert why["default"] == "no mapped alert routes to default, and no receiver has its role (email)"


def test_the_rendered_map_loads_and_keeps_its_reasons_as_comments(pack: tuple[Path, Path]) -> None:
    p, m = proposal_for(pack)
    text = render(p)
    assert "  # PostgresqlDown: reads pg_up == 0 as PostgreSQLDown does" in text
    loaded = parse_map(text, "proposed.yml")
    assert dict(loaded.alerts) == m["alerts"] and dict(loaded.receivers) == m["receivers"]
    assert loaded.labels == {"severity": {"critical": "page", "warning": "ticket"}}


def test_the_command_writes_the_map(pack: tuple[Path, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    rules, am = pack
    assert main(["--rules", str(rules), "--alertmanager-config", str(am), "--out", str(tmp_path / "m.yml")]) == 0
    assert parse_map((tmp_path / "m.yml").read_text()).alerts["RedisDown"] == "RedisInstanceDown"


def test_with_the_proposed_map_every_scenario_the_pack_covers_applies(pack: tuple[Path, Path]) -> None:
    rules, am = pack
    catalog = load_catalog([rules], am)
    scenarios = [load_scenario(f) for f in scenario_files(["scenarios"])]
    before = [s.name for s in scenarios if not applicable(s, catalog)]
    p, _ = proposal_for(pack)
    mapped = map_scenarios(scenarios, parse_map(render(p), "proposed.yml"), catalog)
    after = [s for s in mapped.scenarios if not applicable(s, catalog)]
    # before: the healthy baseline only; after: all but the uncovered alerts' scenarios and `inhibition`, which needs
    # a page-level tier of PostgresqlTooManyConnections (the pack has it as a ticket only)
    assert (len(scenarios), len(before), len(after)) == (37, 1, 23)
    validate_scenarios(after, validation_context(catalog))   # the pack's names and receivers throughout
    uncovered = {"BackupFailed", "CacheHitRateLow", "QueryLatencyHigh", "ErrorBudgetExhausted",
                 "ErrorBudgetNearlyExhausted", "slo:api:error_budget:remaining"}
    # What stays n/a needs an alert the pack has no rule for, or a tier of one it has no rule for.
    for s in mapped.scenarios:
        assert set(applicable(s, catalog)) <= uncovered | {"PostgresqlTooManyConnections{severity=page}"}
    inhibition = next(s for s in mapped.scenarios if s.name == "inhibition")
    assert applicable(inhibition, catalog) == ["PostgresqlTooManyConnections{severity=page}"]
    redis = next(s for s in after if s.name == "redis_down_fires")
    assert [(e.kind, e.subject, e.params.get("labels"), e.params.get("receivers"), e.params.get("not_receivers"))
            for e in redis.expectations] == [
        ("fires", "RedisInstanceDown", {"severity": "page"}, None, None),
        ("resolves", "RedisInstanceDown", None, None, None),
        ("notified", "RedisInstanceDown", None, ["oncall-pd", "team-slack"], []),
        ("pages", "true", None, None, None),                      # by meaning: nothing to map
        ("notifies", "severity=page", None, ["role:chat"], None)]   # the label value in the pack's terms
    assert any("redis_down_fires: notified RedisInstanceDown: not_receivers team-slack dropped" in n
               for n in mapped.notes)
    assert apply_map(scenarios, parse_map("{}", "empty.yml")).scenarios == scenarios


def test_the_shipped_community_map_makes_the_suite_run_against_the_community_pack() -> None:
    catalog = load_catalog([COMMUNITY / "rules.yml"], COMMUNITY / "alertmanager.yml")
    scenarios = [load_scenario(f) for f in scenario_files(["scenarios"])]
    mapped = map_scenarios(scenarios, parse_map((COMMUNITY / "map.yml").read_text(), "map.yml"), catalog)
    runnable = [s for s in mapped.scenarios if not applicable(s, catalog)]
    validate_scenarios(runnable, validation_context(catalog))
    named = {e.subject for s in runnable for e in s.expectations if e.subject in catalog.alerts}
    # The reviewed map leaves the availability SLO scenarios out (the pack has no SLO alert), and `inhibition` (no
    # page-level tier of PostgresqlTooManyConnections to inhibit its ticket).
    assert (len(scenarios), len(runnable)) == (37, 21)
    assert named == {"PostgresqlDown", "PostgresqlTooManyConnections", "PostgresqlReplicationLag",
                     "RedisInstanceDown", "RedisOutOfMemory", "HostOutOfDiskSpace", "ApiHighErrorRate"}
