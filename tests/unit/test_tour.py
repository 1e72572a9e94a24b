"""The demo tour without services: its plans validate from the real files, its judgement is a pure function
of the run's results and findings, its summary says what was found and where the report is, and the suite
runs several plans on one stack, switching packs by reload (a fake stack records the calls)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import harness.stack
from harness.config import resolve_config
from harness.core.errors import HarnessError
from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.core.timeline import MARK, Timeline
from harness.scenario import cli, suite, tour
from harness.scenario import run as scenario_run
from harness.scenario.findings import ExpectedFindings, finding_keys
from harness.scenario.run import SuiteResult

TOUR = tour.plan_tour()


def result(name: str, *verdicts: Verdict, error: str | None = None) -> ScenarioResult:
    return ScenarioResult(name=name, file=f"scenarios/{name}.yaml", started=0.0, ended=10.0, time_scale=120,
                          verdicts=list(verdicts), error=error)


def finding(key: str) -> dict[str, Any]:
    """A finding whose stable key is ``key`` ("scenario: check Alert" or "... -> receiver")."""
    scenario, rest = key.split(": ", 1)
    check, target = rest.split(" ", 1)
    alert, _, subject = target.partition(" -> ")
    return {"scenario": scenario, "check": check, "alert": alert, "subject": subject or alert,
            "expectation": f"{check} {alert}", "happened": "never fired", "likely_cause": "a cause"}


def as_expected(**changes: Any) -> SuiteResult:
    """A run in which the tour behaved exactly as planned (changes applied on top)."""
    ok = Verdict("fires", "RedisDown", PASS, "fires", "fired at t=4.00s (4.00s after)")
    results = [result(s.name, ok) for s in TOUR.reference.scenarios]
    results += [result(s.name, Verdict("fires", "X", FAIL, "fires", "never fired")) for s in TOUR.published.scenarios]
    out = SuiteResult("run-1", results=results, report_path=Path("reports/run-1/index.html"),
                      findings=[finding(k) for k in TOUR.expected.findings])
    for k, v in changes.items():
        setattr(out, k, v)
    return out


def test_the_tour_plans_from_the_shipped_scenarios_and_requires_their_stable_findings():
    assert [s.name for s in TOUR.reference.scenarios] == ["redis_down_fires", "availability_slo_near_miss"]
    assert [p.name for p in TOUR.reference.rule_files] == ["reference.yml", "reference-slo.yml"]
    assert [p.name for p in TOUR.published.rule_files] == ["betting-alerts.yml", "petforce-slo.yml"]
    assert TOUR.published.alertmanager_config.name == "alertmanager.yml"
    assert set(TOUR.expected.findings) == {
        "redis_monitoring_blind: fires RedisDown", "redis_monitoring_blind: resolves RedisDown",
        "postgres_down_fires: notified PostgreSQLDown -> pagerduty-critical",
        "connection_pool_fires: fires ConnectionPoolNearLimit",
        "connection_pool_fires: notified ConnectionPoolNearLimit -> slack-warnings"}
    # The reference leg shows a fault that fires, routes and resolves, and an SLO against ground truth.
    checks = {e.kind for s in TOUR.reference.scenarios for e in s.expectations}
    assert {"fires", "notified", "resolves", "slo"} <= checks


def test_a_published_scenario_without_a_required_finding_is_refused_before_anything_starts():
    # redis_memory_near_miss has no required finding: it would show no defect of the published packs.
    with pytest.raises(HarnessError, match="redis_memory_near_miss have no required finding"):
        tour.plan_tour(published=("redis_monitoring_blind.yaml", "redis_memory_near_miss.yaml"))


def test_expected_findings_restricted_to_some_scenarios():
    exp = ExpectedFindings(("a: fires X", "b: fires Y", "ab: silent Z", "c: fires V"))
    assert exp.for_scenarios(["a", "b"]).findings == ("a: fires X", "b: fires Y")


def test_the_tour_as_planned_is_ok():
    out = tour.judge_tour(TOUR, as_expected())
    assert out.problems == []
    assert out.ok
    assert [r.name for r in out.reference] == ["redis_down_fires", "availability_slo_near_miss"]
    assert finding_keys(out.findings) == sorted(TOUR.expected.findings)


def test_a_failed_reference_scenario_is_a_problem_that_says_what_failed():
    run = as_expected()
    run.results[0] = result("redis_down_fires", Verdict("resolves", "RedisDown", FAIL, "resolves",
                                                        "still firing when recording stopped"))
    out = tour.judge_tour(TOUR, run)
    assert out.problems == ["reference scenario redis_down_fires failed: resolves RedisDown: still firing when "
                            "recording stopped"]


def test_a_defect_not_found_and_a_finding_not_expected_are_problems():
    run = as_expected()
    run.findings = [f for f in run.findings if f["scenario"] != "postgres_down_fires"]
    run.findings.append(finding("postgres_down_fires: resolves PostgreSQLDown"))
    out = tour.judge_tour(TOUR, run)
    assert out.problems == ["defect not found: postgres_down_fires: notified PostgreSQLDown -> pagerduty-critical",
                            "unexpected finding: postgres_down_fires: resolves PostgreSQLDown"]


def test_a_reference_failure_is_not_counted_as_a_finding_of_the_published_packs():
    run = as_expected()
    run.findings.append(finding("redis_down_fires: resolves RedisDown"))
    assert tour.judge_tour(TOUR, run).ok


def test_an_interrupted_or_failed_run_is_a_problem_and_unrun_scenarios_are_named():
    out = tour.judge_tour(TOUR, as_expected(interrupted=True, results=as_expected().results[:2], findings=[]))
    assert out.problems == ["the tour was interrupted",
                            "not run: redis_monitoring_blind, postgres_down_fires, connection_pool_fires"]
    out = tour.judge_tour(TOUR, as_expected(error="Prometheus refused the reload (400)"))
    assert out.problems == ["the run failed: Prometheus refused the reload (400)"]


def test_the_summary_says_what_was_checked_what_was_found_and_where_the_report_is():
    text = tour.render_tour(TOUR, tour.judge_tour(TOUR, as_expected()))
    assert "PASS  redis_down_fires" in text
    assert "ok  fires RedisDown: fired at t=4.00s" in text
    assert "1 finding(s)  postgres_down_fires" in text
    flat = " ".join(text.split())
    assert "Alertmanager config alertmanager.yml), switched to by reload" in flat
    assert "Tour as expected: 2 reference scenario(s) passed; 5 known defect(s) of the published packs found." in flat
    assert "Report: reports/run-1/index.html" in text
    assert "`harness verify`" in text and "`harness audit`" in text
    assert all(len(line) <= 110 for line in text.splitlines()), text


def test_the_summary_of_a_tour_gone_wrong_lists_the_problems():
    run = as_expected(findings=[])
    text = tour.render_tour(TOUR, tour.judge_tour(TOUR, run))
    assert "Tour NOT as expected:" in text
    assert "  - defect not found: postgres_down_fires: notified PostgreSQLDown -> pagerduty-critical" in text
    assert "Tour as expected" not in text


def test_the_demo_refuses_a_backend_that_cannot_reload_before_starting_anything(monkeypatch):
    monkeypatch.setattr(harness.stack, "start_stack", lambda *a, **k: pytest.fail("started a stack"))
    with pytest.raises(HarnessError, match="needs the local backend"):
        tour.run_tour(TOUR, replace(resolve_config({}), backend="docker"))


def test_the_demo_command_exits_non_zero_and_says_why_when_the_tour_went_wrong(monkeypatch, capsys):
    outcomes = iter([tour.judge_tour(TOUR, as_expected()), tour.judge_tour(TOUR, as_expected(findings=[]))])
    monkeypatch.setattr(tour, "run_tour", lambda *a, **k: next(outcomes))
    monkeypatch.setattr(tour, "plan_tour", lambda: TOUR)
    assert cli.main_demo([]) == 0
    assert "Tour as expected" in capsys.readouterr().out
    assert cli.main_demo([]) == 1
    assert "defect not found: connection_pool_fires: fires ConnectionPoolNearLimit" in capsys.readouterr().out



def test_the_demo_says_it_does_not_use_configured_rule_files(monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_RULES", "mine.yml")
    monkeypatch.setattr(tour, "run_tour", lambda *a, **k: tour.judge_tour(TOUR, as_expected()))
    monkeypatch.setattr(tour, "plan_tour", lambda: TOUR)
    assert cli.main_demo([]) == 0
    assert "runs its own packs; not used: rules (env HARNESS_RULES)" in capsys.readouterr().out

# -- several plans on one stack ----------------------------------------------------------------------

@dataclass
class FakeStack:
    clock: Any
    timeline: Timeline
    calls: list[tuple[str, Any]]
    urls: dict[str, str] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)

    def reload_rules(self, paths: list[Path]) -> list[Path]:
        self.calls.append(("rules", [p.name for p in paths]))
        return paths

    def reload_alertmanager(self, path: Path) -> None:
        self.calls.append(("alertmanager", path.name))

    def stop(self) -> None:
        self.calls.append(("stop", None))


class FakeRunner:
    interrupt_at: str | None = None

    def __init__(self, stack: FakeStack, catalog: Any, options: Any) -> None:
        self.stack = stack

    def runs_alone(self, scn: Any) -> bool:
        return False

    def run(self, scn: Any) -> ScenarioResult:
        if scn.name == self.interrupt_at:
            raise KeyboardInterrupt
        self.stack.calls.append(("run", scn.name))
        return result(scn.name, Verdict("fires", "X", PASS, "fires", "fired"))


@pytest.fixture
def fake_stack(monkeypatch):
    calls: list[tuple[str, Any]] = []

    def start_stack(cfg, *, rules, alertmanager_config, clock, timeline):
        calls.append(("start", ([p.name for p in rules], alertmanager_config.name)))
        return FakeStack(clock, timeline, calls)

    monkeypatch.setattr(harness.stack, "start_stack", start_stack)
    monkeypatch.setattr(scenario_run, "ScenarioRunner", FakeRunner)
    monkeypatch.setattr(scenario_run, "check_run_dashboards", lambda stack: [])
    monkeypatch.setattr(scenario_run, "measured_terms", lambda *a: scenario_run.Measured())
    monkeypatch.setattr(FakeRunner, "interrupt_at", None)
    return calls


def test_plans_run_on_one_stack_with_the_packs_switched_by_reload(fake_stack, tmp_path):
    cfg = resolve_config({"reports_dir": str(tmp_path)})
    seen: list[str] = []

    def findings(plan, results):
        return [{"scenario": r.name, "pack": plan.alertmanager_config.name} for r in results]

    out = suite.run_plans([TOUR.reference, TOUR.published], cfg, kind="demo", findings=findings,
                          on_result=lambda r: seen.append(r.name), notes=["how to read this report"])
    assert fake_stack == [
        ("start", (["reference.yml", "reference-slo.yml"], "reference.yml")),
        ("run", "redis_down_fires"), ("run", "availability_slo_near_miss"),
        ("rules", ["betting-alerts.yml", "petforce-slo.yml"]), ("alertmanager", "alertmanager.yml"),
        ("run", "redis_monitoring_blind"), ("run", "postgres_down_fires"), ("run", "connection_pool_fires"),
        ("stop", None)]
    assert seen == [s.name for s in (*TOUR.reference.scenarios, *TOUR.published.scenarios)]
    assert out.ok and out.report_path is not None and out.report_path.is_file()
    assert out.findings[0] == {"scenario": "redis_down_fires", "pack": "reference.yml"}
    assert out.findings[-1] == {"scenario": "connection_pool_fires", "pack": "alertmanager.yml"}
    assert out.results[-1].notes == ["run on rules betting-alerts.yml, petforce-slo.yml; Alertmanager config "
                                     "alertmanager.yml"]
    assert "how to read this report" in out.report_path.read_text()
    switched = [e for e in Timeline.load(out.report_path.parent / "events.jsonl").events()
                if e.kind == MARK and e.name == "packs_switched"]
    assert len(switched) == 1 and switched[0].data["rules"] == ["betting-alerts.yml", "petforce-slo.yml"]


def test_one_plan_runs_as_before_without_a_reload_or_pack_notes(fake_stack, tmp_path):
    out = suite.run_plan(TOUR.reference, resolve_config({"reports_dir": str(tmp_path)}), kind="verify")
    assert [c[0] for c in fake_stack] == ["start", "run", "run", "stop"]
    assert all(r.notes == [] for r in out.results)


def test_an_interrupted_tour_stops_the_stack_and_still_writes_the_report(fake_stack, tmp_path, monkeypatch):
    monkeypatch.setattr(FakeRunner, "interrupt_at", "postgres_down_fires")
    out = suite.run_plans([TOUR.reference, TOUR.published], resolve_config({"reports_dir": str(tmp_path)}),
                          kind="demo")
    assert out.interrupted and not out.ok
    assert fake_stack[-1] == ("stop", None)
    assert [r.name for r in out.results] == ["redis_down_fires", "availability_slo_near_miss", "redis_monitoring_blind"]
    assert out.report_path is not None and "interrupted" in out.report_path.read_text()
