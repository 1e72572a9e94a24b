"""``harness coverage`` without a stack: planning, the report hook, the report's matrix section and summary,
the terminal and JSON output, the exit code, and the errors a user meets before anything starts."""

import json

import pytest

from harness.cli import main as harness_main
from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.catalog import AlertRule, Catalog
from harness.core.errors import HarnessError
from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.core.timeline import ALERT_STATE, NOTIFICATION, PHASE, Event
from harness.report import RunReport, rebuild_index, write_report
from harness.report.cli import describe
from harness.report.summary import load_run_report
from harness.scenario.coverage_cli import CoverageRun, finish, plan_coverage, render_matrix
from harness.scenario.criteria import parse_criteria
from harness.scenario.failure_modes import load_failure_modes, parse_failure_modes
from harness.scenario.run import SuiteResult

MODES = parse_failure_modes("""\
modes:
  - name: healthy
    duration: 10m
  - name: db_down
    duration: 15m
    faults: [{kind: crash, target: postgres_primary, start: 2m, duration: 10m}]
  - name: cache_down
    duration: 15m
    faults: [{kind: crash, target: redis, start: 2m, duration: 10m}]
""", file="fm.yaml")

CATALOG = Catalog(
    alerts={"DbDown": AlertRule("DbDown", "pg_up == 0", 30, {"severity": "critical"}, "g", None, "r.yml"),
            "CacheDown": AlertRule("CacheDown", "redis_up == 0", 60, {"severity": "warning"}, "g", None, "r.yml")},
    receivers=frozenset({"pd", "chat"}),
    receiver_configs=({"name": "pd", "pagerduty_configs": [{"routing_key": "k"}]},
                      {"name": "chat", "slack_configs": [{"channel": "#a"}]}))

EVENTS = [
    Event(20, PHASE, "scenario", {"scenario": "healthy"}),
    Event(120, PHASE, "scenario", {"scenario": "db_down"}),
    Event(135, ALERT_STATE, "DbDown", {"state": "firing", "labels": {"alertname": "DbDown", "severity": "critical"}}),
    Event(137, NOTIFICATION, "pd", {"status": "firing", "alerts": [{"alertname": "DbDown", "labels": {}}]}),
    Event(170, ALERT_STATE, "DbDown", {"state": "inactive", "labels": {"alertname": "DbDown", "severity": "critical"}}),
    Event(220, PHASE, "scenario", {"scenario": "cache_down"}),
    Event(240, ALERT_STATE, "CacheDown", {"state": "firing", "labels": {"alertname": "CacheDown",
                                                                          "severity": "warning"}}),
    Event(242, NOTIFICATION, "chat", {"status": "firing", "alerts": [{"alertname": "CacheDown", "labels": {}}]}),
]


def results():
    watch = [Verdict("silent", "DbDown", PASS, "", ""), Verdict("silent", "CacheDown", PASS, "", "")]
    return [
        ScenarioResult("healthy", "fm.yaml", 0, 100, 10.0, verdicts=list(watch)),
        ScenarioResult("db_down", "fm.yaml", 100, 200, 10.0, verdicts=[Verdict("silent", "DbDown", FAIL, "", "")],
                       faults=[{"id": "f", "kind": "crash", "target": "postgres_primary", "start": 132, "end": 160}]),
        ScenarioResult("cache_down", "fm.yaml", 200, 300, 10.0,
                       verdicts=[Verdict("silent", "CacheDown", FAIL, "", "")],
                       faults=[{"id": "f", "kind": "crash", "target": "redis", "start": 232, "end": 260}]),
    ]


def completed(criteria_text: str) -> tuple[RunReport, CoverageRun]:
    criteria = parse_criteria(criteria_text, file="c.yaml")
    run = CoverageRun(MODES, criteria, CATALOG, out=None)
    report = RunReport(run_id="cov-1", kind="coverage", time_scale=10.0, scenarios=results(), events=list(EVENTS),
                       rule_alerts=list(CATALOG.alerts))
    run.complete(report)
    return report, run


def test_the_report_hook_adds_the_judged_matrix_and_drops_the_watch_verdicts():
    report, run = completed("page:\n  db_down: 5m\n  cache_down: 5m\n")
    assert run.matrix is report.failure_modes and run.matrix is not None
    assert [s.verdicts for s in report.scenarios] == [[], [], []]
    assert report.scenarios[1].notes == ["failure mode: fired DbDown; notified pd; paged after 50s"]
    assert [(v.mode, v.observed) for v in run.matrix.violations] == [
        ("cache_down", "paged nobody: fired CacheDown; notified chat, none of which pages")]
    assert not report.ok and report.failed == 0      # the modes ran; the criteria failed


def test_the_report_shows_the_matrix_and_summary_json_holds_it(tmp_path):
    report, run = completed("page:\n  db_down: 5m\n  cache_down: 5m\n")
    index = write_report(report, tmp_path)
    html = index.read_text()
    assert 'id="failure-modes"' in html and "3 modes &times; 2 alerts" in html
    assert '<td class="mm-crit" title="DbDown fired 30s after the fault began, severity critical">30s</td>' in html
    assert "<b>cache_down</b> must page someone within 5m" in html
    assert "<title>coverage cov-1 — failed</title>" in html
    summary = json.loads((index.parent / "summary.json").read_text())
    assert summary["ok"] is False
    assert [m["name"] for m in summary["failure_modes"]["failure_modes"]] == ["healthy", "db_down", "cache_down"]
    assert summary["failure_modes"]["headlines"]["pages_nobody"] == ["cache_down"]
    assert load_run_report(index.parent).failure_modes == run.matrix
    assert "failure-modes" in rebuild_index(index.parent).read_text()
    told = describe(index.parent)
    assert "failure modes: 3 run, 0 with no alert, 1 paging nobody" in told
    assert "FAIL cache_down must page someone within 5m: paged nobody" in told


def test_terminal_view_lists_modes_alerts_and_headlines():
    from rich.console import Console

    _, run = completed("page:\n  db_down: 5m\n")
    console = Console(record=True, width=160)
    console.print(render_matrix(run.matrix))
    text = console.export_text()
    assert "db_down" in text and "DbDown 30s critical" in text and "CacheDown 1m20s warning" in text
    assert "failure modes that page nobody (1): cache_down" in text
    assert "alerts firing on a healthy stack (0): none" in text


def test_json_and_exit_codes(capsys):
    _, ok_run = completed("page:\n  db_down: 5m\nnotify:\n  cache_down: ~\n")
    assert finish(SuiteResult("cov-1"), ok_run.matrix, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["problems"] == [] and doc["run_id"] == "cov-1"
    db = doc["failure_modes"][1]
    assert (db["name"], db["fired"], db["receivers"], db["paged"], db["time_to_page_s"]) == (
        "db_down", ["DbDown"], ["pd"], True, 50.0)
    assert {"name": "CacheDown", "exercised_by": ["cache_down"]}.items() <= doc["alerts"][1].items()

    _, bad_run = completed("page:\n  cache_down: 5m\n")
    assert finish(SuiteResult("cov-2"), bad_run.matrix, as_json=False) == 1
    out = capsys.readouterr().out
    assert "FAIL cache_down must page someone within 5m: paged nobody" in out

    assert finish(SuiteResult("cov-3", interrupted=True), ok_run.matrix, as_json=False) == 1
    assert "the run was interrupted" in capsys.readouterr().out
    assert finish(SuiteResult("cov-4"), None, as_json=False) == 1


def test_plan_watches_every_alert_of_the_given_packs():
    plan = plan_coverage(load_failure_modes().select(["healthy_baseline", "redis_crashed"]),
                         reference_rule_files(), REFERENCE_ALERTMANAGER)
    assert [s.name for s in plan.scenarios] == ["healthy_baseline", "redis_crashed"]
    assert all([(e.kind, e.subject) for e in s.expectations] == [("silent", "*")] for s in plan.scenarios)
    assert "PostgreSQLDown" in plan.catalog.alerts
    with pytest.raises(HarnessError, match=r"file not found: nope\.yml"):
        plan_coverage(MODES, ["nope.yml"], REFERENCE_ALERTMANAGER)


def test_bad_criteria_or_mode_names_fail_before_anything_starts(tmp_path, capsys):
    bad = tmp_path / "criteria.yaml"
    bad.write_text("page:\n  postgres_primary_crashd: 5m\n")
    assert harness_main(["coverage", "--criteria", str(bad), "--list"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: page.postgres_primary_crashd: no failure mode 'postgres_primary_crashd'" in err
    assert "did you mean postgres_primary_crashed" in err
    assert harness_main(["coverage", "--modes", "redis_crash", "--list"]) == 1
    assert "did you mean redis_crashed" in capsys.readouterr().err
    assert harness_main(["coverage", "--modes", "redis_crashed", "--list"]) == 0
    assert capsys.readouterr().out.startswith("redis_crashed  crash redis  [must notify someone]")
