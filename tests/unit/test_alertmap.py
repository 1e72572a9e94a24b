"""The alert and receiver map: its file (errors name file, line and field) and its pure application to scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.catalog import Catalog, load_catalog
from harness.core.errors import HarnessError
from harness.core.model import parse_scenario
from harness.scenario.alertmap import (
    MapInvalid,
    apply_map,
    load_map,
    map_problems,
    map_scenario,
    parse_map,
    shipped_names,
)
from harness.scenario.suite import applicable, plan_run

REFERENCE = load_catalog(reference_rule_files(), REFERENCE_ALERTMANAGER)

MAP = """\
alerts:
  RedisDown: RedisInstanceDown
  ConnectionPoolNearLimit: PgConnections
  ErrorRateHigh: null
receivers:
  pagerduty-critical: oncall-pd
  slack-critical: team-slack
  slack-warnings: team-slack
  default: null
labels:
  severity: {critical: page, warning: ticket}
"""

SCENARIO = """\
name: mixed
duration: 20m
faults:
  - {kind: crash, target: redis, start: 3m, duration: 10m}
expect:
  - fires: RedisDown
    labels: {severity: critical}
  - notified: RedisDown
    receivers: [pagerduty-critical, slack-critical, role:pager]
    not_receivers: [slack-warnings, default]
  - inhibited: ConnectionPoolNearLimit
    labels: {severity: warning}
    by: ConnectionPoolNearLimit
    by_labels: {severity: critical}
  - silent: [ErrorRateHigh, PostgreSQLDown]
  - silent: "*"
"""


def test_a_map_renames_alerts_receivers_and_label_values() -> None:
    scn, notes = map_scenario(parse_scenario(SCENARIO), parse_map(MAP, "m.yml"))
    got = [(e.kind, e.subject, dict(e.params)) for e in scn.expectations]
    assert got == [
        ("fires", "RedisInstanceDown", {"labels": {"severity": "page"}}),
        ("notified", "RedisInstanceDown", {"receivers": ["oncall-pd", "team-slack", "role:pager"],
                                           "not_receivers": []}),
        ("inhibited", "PgConnections", {"labels": {"severity": "ticket"}, "by": "PgConnections",
                                        "by_labels": {"severity": "page"}}),
        ("silent", "PostgreSQLDown", {}),     # left out of the map: kept as it is
        ("silent", "*", {}),
    ]
    assert notes == ["mixed: silent ErrorRateHigh dropped: m.yml says the pack has no such alert",
                     "mixed: notified RedisInstanceDown: not_receivers team-slack dropped: the map makes it a receiver "
                     "the alert must also notify"]


def test_an_alert_the_pack_lacks_keeps_its_scenario_not_applicable() -> None:
    only_silent = parse_scenario("name: s\nduration: 5m\nexpect:\n  - silent: ErrorRateHigh\n")
    fires = parse_scenario("name: f\nduration: 5m\nfaults: [{kind: crash, target: redis, start: 1m, duration: 1m}]\n"
                           "expect:\n  - fires: ErrorRateHigh\n")
    amap = parse_map(MAP, "m.yml")
    pack = Catalog(alerts={"RedisInstanceDown": REFERENCE.alerts["RedisDown"]})
    for scn in (only_silent, fires):
        mapped, _ = map_scenario(scn, amap)
        assert mapped == scn and applicable(mapped, pack) == ["ErrorRateHigh"]


def test_a_map_renames_the_recording_rule_of_an_error_budget_check() -> None:
    scn = parse_scenario("name: b\nduration: 5m\nexpect:\n  - error_budget: slo:api:error_budget:remaining\n"
                         "    objective: 0.999\n    consumed: 2%\n")
    mapped, _ = map_scenario(scn, parse_map("records: {'slo:api:error_budget:remaining': budget:left}\n", "m.yml"))
    assert [e.subject for e in mapped.expectations] == ["budget:left"]


def test_an_empty_map_changes_nothing() -> None:
    scn = parse_scenario(SCENARIO)
    out = apply_map([scn], parse_map("", "empty.yml"))
    assert out.scenarios == [scn]
    assert out.notes == ["applied map empty.yml: 0 alert(s) mapped, 0 not covered by the pack, 0 receiver(s)"]


@pytest.mark.parametrize(("text", "error"), [
    ("alerts: [RedisDown]\n", "m.yml: alerts: expected a mapping of reference name to the pack's name, got "
                              "CommentedSeq"),
    ("alerts:\n  RedisDown: RedisUp\n  PostgreSQLDown: [a, b]\n", "m.yml:3: alerts.PostgreSQLDown: expected a name "
                                                                   "or null, got CommentedSeq"),
    ("alerts: {}\nreceiver:\n  a: b\n", "m.yml:2: receiver: unknown section\n    Hint: did you mean receivers?"),
    ("labels:\n  severity: page\n", "m.yml:2: labels.severity: expected a mapping of the reference's value"),
    ("alerts: {a: b\n", "m.yml:2: (syntax)"),
    ("- a\n", "m.yml:1: (document): expected a mapping with alerts:, receivers:, labels:"),
])
def test_a_bad_map_file_names_file_line_and_field(text: str, error: str) -> None:
    with pytest.raises(MapInvalid) as exc:
        parse_map(text, "m.yml")
    assert error in str(exc.value)


def test_names_neither_side_knows_are_errors_with_the_closest_names(tmp_path: Path) -> None:
    amap = parse_map("alerts:\n  RedisDwn: RedisInstanceDown\n  PostgreSQLDown: PostgresDown\n"
                     "receivers:\n  pagerduty-critcal: oncall\n", "m.yml")
    pack = Catalog(alerts={"PostgresqlDown": REFERENCE.alerts["PostgreSQLDown"],
                           "RedisInstanceDown": REFERENCE.alerts["RedisDown"]},
                   receivers=frozenset({"oncall-pd", "team-slack"}))
    errors = [str(e) for e in map_problems(amap, pack, shipped_names())]
    assert errors == [
        "m.yml:2: alerts: 'RedisDwn' is no alert of the reference packs the scenarios name\n"
        "Hint: did you mean RedisDown?",
        "m.yml:3: alerts.PostgreSQLDown: alert 'PostgresDown' is not in the loaded rule files\n"
        "Hint: did you mean PostgresqlDown?",
        "m.yml:5: receivers: 'pagerduty-critcal' is no receiver of the reference packs the scenarios name\n"
        "Hint: did you mean pagerduty-critical?",
        "m.yml:5: receivers.pagerduty-critcal: receiver 'oncall' is not in the Alertmanager config\n"
        "Hint: did you mean oncall-pd?",
    ]


def test_a_missing_map_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"nope.yml: \(file\): cannot read.*\n.*harness map --rules"):
        load_map(tmp_path / "nope.yml")


def test_verify_plans_with_the_map_before_validation(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups:\n- name: r\n  rules:\n  - alert: RedisInstanceDown\n"
                                        "    expr: redis_up == 0\n    labels: {severity: page}\n")
    (tmp_path / "am.yml").write_text("route: {receiver: oncall-pd}\nreceivers:\n- name: oncall-pd\n"
                                     "  pagerduty_configs: [{routing_key: x}]\n- name: team-slack\n"
                                     "  slack_configs: [{api_url: 'https://x.invalid/', channel: '#a'}]\n")
    (tmp_path / "map.yml").write_text(MAP.replace("  ConnectionPoolNearLimit: PgConnections\n", ""))
    args = (["scenarios/redis_down_fires.yaml", "scenarios/redis_down_near_miss.yaml",
             "scenarios/postgres_down_fires.yaml"], [tmp_path / "rules.yml"], tmp_path / "am.yml")
    without = plan_run(*args)
    assert [s.name for s in without.scenarios] == []
    plan = plan_run(*args, map_file=tmp_path / "map.yml")
    assert [s.name for s in plan.scenarios] == ["redis_down_fires", "redis_down_near_miss"]
    assert list(plan.not_applicable) == ["postgres_down_fires"]
    assert plan.notes[0].startswith(f"applied map {tmp_path / 'map.yml'}: 1 alert(s) mapped, 1 not covered")
    (tmp_path / "map.yml").write_text("alerts:\n  RedisDown: RedisDown2\n")
    with pytest.raises(MapInvalid, match=r"map\.yml:2: alerts\.RedisDown: alert 'RedisDown2' is not in the loaded"):
        plan_run(*args, map_file=tmp_path / "map.yml")


pytest_plugins = ["pytester"]


def test_the_pytest_option_maps_collected_scenarios(pytester: pytest.Pytester) -> None:
    rules = pytester.path / "mine.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: Mine\n        expr: redis_up == 0\n")
    (pytester.path / "map.yml").write_text("alerts:\n  RedisDown: Mine\n")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "blip.yaml").write_text(
        "name: blip\nduration: 10m\nload: {profile: none}\nexpect:\n  - silent: RedisDown\n")
    items, _ = pytester.inline_genitems("scenarios", "--rules", str(rules), "--map", "map.yml")
    assert [(e.kind, e.subject) for e in items[0].scenario.expectations] == [("silent", "Mine")]   # type: ignore
    assert not items[0].get_closest_marker("skip")
    (pytester.path / "map.yml").write_text("alerts:\n  RedisDown: Mne\n")
    result = pytester.runpytest("-q", "scenarios", "--rules", str(rules), "--map", "map.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*map.yml:2: alerts.RedisDown: alert 'Mne' is not in the loaded rule files*"])


def test_checks_a_merge_makes_contradictory_are_dropped_with_a_note() -> None:
    scn = parse_scenario("name: m\nduration: 10m\nfaults: [{kind: crash, target: redis, start: 1m, duration: 5m}]\n"
                         "expect:\n  - fires: RedisDown\n  - silent: [PostgreSQLDown, ErrorRateHigh]\n"
                         "  - silent: PostgreSQLDown\n    labels: {instance: pg}\n"
                         "  - notified: RedisDown\n    receivers: [pagerduty-critical, email]\n")
    amap = parse_map("alerts: {RedisDown: TargetDown, PostgreSQLDown: TargetDown}\n"
                     "receivers: {pagerduty-critical: pd, email: null}\n", "m.yml")
    mapped, notes = map_scenario(scn, amap)
    assert [(e.kind, e.subject, dict(e.params)) for e in mapped.expectations] == [
        ("fires", "TargetDown", {}), ("silent", "ErrorRateHigh", {}),
        ("silent", "TargetDown", {"labels": {"instance": "pg"}}),   # one series of it may still be silent
        ("notified", "TargetDown", {"receivers": ["pd"]})]
    assert notes == ["m: notified TargetDown: receivers email dropped: m.yml says the pack has no such receiver",
                     "m: silent TargetDown dropped: the map makes it the alert the scenario expects to fire"]


TIERED = """\
groups:
  - name: g
    rules:
      - {alert: Pool, expr: up > 0, labels: {severity: ticket}}
      - {alert: Disk, expr: up > 0, labels: {severity: page, team: infra}}
      - {alert: Tiered, expr: up > 0, labels: {severity: ticket}}
      - {alert: Tiered, expr: up > 1, labels: {severity: page}}
"""


def test_an_alert_without_the_tier_a_scenario_asks_for_is_not_applicable(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(TIERED)
    pack = load_catalog([tmp_path / "r.yml"])
    assert pack.lacks_series("Pool", {"severity": "page"}) == ["severity=page"]       # the pack has page alerts
    assert pack.lacks_series("Pool", {"severity": "ticket", "instance": "x"}) == []  # a series label: may exist
    assert pack.lacks_series("Pool", {"severity": "pgae"}) == []                      # a typo is judged, not excused
    assert pack.lacks_series("Tiered", {"severity": "page"}) == []                    # its second rule has it
    assert pack.lacks_series("Disk", {"severity": "page", "team": "infra"}) == []
    scn = parse_scenario("""\
name: tiers
duration: 20m
faults:
  - {kind: hold_connections, start: 3m, duration: 10m, params: {fraction: 0.97}}
expect:
  - fires: Pool
    labels: {severity: page}
  - inhibited: Tiered
    labels: {severity: ticket}
    by: Pool
    by_labels: {severity: page}
  - silent: Disk
    labels: {severity: ticket}
""")
    assert applicable(scn, pack) == ["Pool{severity=page}"]
