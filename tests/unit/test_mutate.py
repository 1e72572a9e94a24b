"""harness mutate without services: which scenarios can kill which mutant, the kill judgement, the run loop
(first kill stops, the original run once per scenario, one baseline run for all), and the report sections.
A fake stack whose "Prometheus" evaluates the loaded rule text plays the scenarios end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import harness.stack
from harness.config import resolve_config
from harness.core.model import parse_scenario
from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.report.model import RunReport
from harness.report.mutation import mutation_section
from harness.report.summary import build_summary, load_run_report
from harness.rules.mutants import LABELS, WEAKER
from harness.rules.packs import load_rules
from harness.scenario import cli, mutate
from harness.scenario import run as scenario_run
from harness.scenario.mutate import (
    KILLED,
    NOT_RUN,
    ORIGINAL,
    SURVIVED,
    batch_catalog,
    batch_failures,
    batch_scenario,
    cannot_kill,
    new_failures,
    plan_mutation,
    render_plan,
    render_result,
    run_mutation,
)

RULES = """\
groups:
  - name: g
    interval: 30s
    rules:
      # RedisDown, as the reference pack writes it
      - alert: Down
        expr: up{job="redis"} == 0 or redis_up == 0
        for: 1m
        labels:
          severity: critical
"""

AM = """\
route:
  receiver: chat
  group_by: [alertname]
  routes:
    - match: {severity: critical}
      receiver: pager
receivers:
  - name: chat
    webhook_configs: [{url: "http://chat.invalid/"}]
  - name: pager
    webhook_configs: [{url: "http://pager.invalid/"}]
"""

SCENARIOS = {
    "healthy_baseline": "duration: 10m\nexpect:\n  - silent: '*'\n",
    "down_near_miss": "duration: 10m\nfaults:\n  - {kind: crash, target: redis, start: 3m, duration: 20s}\n"
                      "expect:\n  - silent: Down\n",
    "down_blind": "duration: 12m\nfaults:\n  - {kind: crash, target: redis_exporter, start: 3m, duration: 5m}\n"
                  "expect:\n  - fires: Down\n",
    "down_fires": "duration: 20m\nfaults:\n  - {kind: crash, target: redis, start: 3m, duration: 10m}\n"
                  "expect:\n  - fires: Down\n    labels: {severity: critical}\n  - notified: Down\n"
                  "    receivers: [pager]\n",
}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    rules, am, scn_dir = tmp_path / "rules.yml", tmp_path / "am.yml", tmp_path / "scenarios"
    rules.write_text(RULES)
    am.write_text(AM)
    scn_dir.mkdir()
    for name, text in SCENARIOS.items():
        (scn_dir / f"{name}.yaml").write_text(f"name: {name}\n{text}")
    return {"rules": rules, "am": am, "scenarios": scn_dir, "tmp": tmp_path}


def _plan(world: dict[str, Any], *, drop: tuple[str, ...] = (), **kw: Any) -> mutate.MutationPlan:
    paths = [p for p in sorted(world["scenarios"].glob("*.yaml")) if p.stem not in drop]
    return plan_mutation(paths, [world["rules"]], world["am"], time_scale=60, **kw)


def _mutant(plan: mutate.MutationPlan, contains: str) -> Any:
    found = [s for s in plan.schedules if contains in s.mutant.description]
    assert len(found) == 1, [s.mutant.description for s in plan.schedules]
    return found[0]


# -- the fake Prometheus: what each scenario makes a rule do ------------------------------------------


def fires(rule: Any, scenario: str) -> bool:
    """Whether ``rule`` fires in the scenario, reasoning as Prometheus would on the reference stack."""
    expr = " ".join(rule.expr.split())
    branches = [b.strip() for b in expr.split(" or ")]
    if any("!=" in b for b in branches):
        return True                                     # an inverted `== 0` fires on a healthy stack too
    if rule.for_s > 60:
        return False                                    # no fault here lasts 10 minutes past its start
    up = 'up{job="redis"} == 0' in branches             # the exporter is gone: only `up` says so
    redis_up = "redis_up == 0" in branches              # Redis is gone, its exporter answers redis_up 0
    return (scenario == "down_blind" and up) or (scenario == "down_fires" and redis_up)


class FakeRunner:
    def __init__(self, stack: FakeStack, catalog: Any, options: Any) -> None:
        self.stack, self.catalog = stack, catalog

    def runs_alone(self, scn: Any) -> bool:
        return False

    def run(self, scn: Any) -> ScenarioResult:
        base = scn.name.split("@")[0]
        rules = {r.name: r for p in self.stack.loaded for r in load_rules(p).alerts}
        self.stack.ran.append((scn.name, [str(p) for p in self.stack.loaded]))
        verdicts = []
        for e in scn.expectations:
            names = sorted(self.catalog.alerts) if e.subject == "*" else [e.subject]
            for name in names:
                rule = rules[name]
                on = fires(rule, base)
                if e.kind == "silent":
                    verdicts.append(Verdict("silent", name, FAIL if on else PASS, "silent", "fired" if on else "ok"))
                elif e.kind == "fires":
                    want = e.params.get("labels") or {}
                    ok = on and all(rule.labels.get(k) == v for k, v in want.items())
                    verdicts.append(Verdict("fires", name, PASS if ok else FAIL, "fires", "fired" if ok else "no"))
                elif e.kind == "notified":
                    for r in e.params["receivers"]:
                        got = on and (rule.labels.get("severity") == "critical") == (r == "pager")
                        verdicts.append(Verdict("notified", r, PASS if got else FAIL, f"{name} delivered to {r}",
                                                "arrived" if got else "no notification"))
        return ScenarioResult(scn.name, scn.file, 0.0, 1.0, 60, verdicts)


@dataclass
class FakeStack:
    clock: Any
    timeline: Any
    loaded: list[Path]
    ran: list[tuple[str, list[str]]] = field(default_factory=list)
    reloads: int = 0
    urls: dict[str, str] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)

    def reload_rules(self, paths: list[Path]) -> list[Path]:
        self.loaded = list(paths)
        self.reloads += 1
        return paths

    def reload_alertmanager(self, path: Path) -> None:
        raise AssertionError("the Alertmanager config never changes in a mutation run")

    def stop(self) -> None:
        self.loaded = []


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> list[FakeStack]:
    started: list[FakeStack] = []

    def start_stack(cfg: Any, *, rules: list[Path], alertmanager_config: Path, clock: Any, timeline: Any) -> FakeStack:
        started.append(FakeStack(clock, timeline, list(rules)))
        return started[-1]

    monkeypatch.setattr(harness.stack, "start_stack", start_stack)
    monkeypatch.setattr(scenario_run, "ScenarioRunner", FakeRunner)
    monkeypatch.setattr(scenario_run, "check_run_dashboards", lambda stack: [])
    monkeypatch.setattr(scenario_run, "measured_terms", lambda *a: scenario_run.Measured())
    return started


# -- planning ------------------------------------------------------------------------------------------


def test_each_mutant_gets_the_scenarios_that_can_kill_it_cheapest_first(world):
    plan = _plan(world)
    assert len(plan.mutants.mutants) == 9 and len(plan.mutants.skipped) == 4     # four `== 0` thresholds
    weaker = _mutant(plan, "for 1m -> 10m")
    assert weaker.mutant.direction == WEAKER
    # silent-only scenarios cannot fail a mutant that can only fire less, and say why
    assert [s.name for s in weaker.batched] == ["down_blind", "down_fires"] and weaker.solo == ()
    assert dict(weaker.cannot_kill)["down_near_miss"].startswith("only checks that Down stays silent")
    assert dict(weaker.cannot_kill)["healthy_baseline"].startswith("only checks that Down stays silent")
    inverted = _mutant(plan, "comparison == -> != in branch 1")
    assert inverted.mutant.direction not in (WEAKER, LABELS)
    # cheapest first: 10m + 5m warm-up (a tie, by name), 12m + 5m, 20m + 5m
    assert [s.name for s in inverted.batched] == ["down_near_miss", "healthy_baseline", "down_blind", "down_fires"]
    severity = _mutant(plan, "severity critical -> warning")
    assert severity.mutant.direction == LABELS
    assert [s.name for s in severity.batched] == ["down_fires"]          # the only severity/routing check
    # the only route groups by alertname and no inhibit rule reads alertname: every kind of check batches
    assert plan.batch_kinds == {"fires", "silent", "resolves", "notified", "inhibited"}


def test_notified_checks_wait_for_solo_runs_when_alerts_share_notifications(world):
    world["am"].write_text(AM.replace("group_by: [alertname]", "group_by: [severity]"))
    plan = _plan(world)
    assert not {"notified", "inhibited"} & plan.batch_kinds and any("group by alertname" in n for n in plan.notes)
    severity = _mutant(plan, "severity critical -> warning")
    # the fires check with severity labels still runs batched; the notified one only alone
    assert [s.name for s in severity.batched] == ["down_fires"] and [s.name for s in severity.solo] == ["down_fires"]


def test_cannot_kill_reasons(world):
    inverted = _mutant(_plan(world), "comparison == -> != in branch 1").mutant
    assert inverted.direction not in (WEAKER, LABELS)
    other = parse_scenario("name: s\nduration: 5m\nexpect:\n  - silent: Other\n")
    assert cannot_kill(other, inverted) == "checks nothing about Down"
    exempt = parse_scenario("name: s\nduration: 5m\nexpect:\n  - fires: Down\n  - silent: '*'\n")
    assert cannot_kill(exempt, inverted) == ""                                 # its fires check can


def test_the_plan_is_printed_before_anything_runs(world):
    text = render_plan(_plan(world))
    assert "9 mutant(s) of 1 alert(s)" in text
    assert "4 skipped, each equivalent by construction" in text and "0 scaled is still 0" in text
    assert "batched: each scenario at most once" in text and "at most 4 run(s)" in text
    assert "alone" not in text                                          # no inhibited check here


def test_alert_filter_keeps_ids(world, tmp_path):
    two = tmp_path / "two.yml"
    two.write_text(RULES + "      - alert: Other\n        expr: x > 1\n        for: 1m\n")
    all_ids = {m.id: m.description for m in plan_mutation([], [two], world["am"], time_scale=60).mutants.mutants}
    only = plan_mutation([], [two], world["am"], time_scale=60, alerts=["Other"]).mutants.mutants
    assert only and all(all_ids[m.id] == m.description for m in only)


# -- judging -------------------------------------------------------------------------------------------


def _res(*verdicts: Verdict, error: str | None = None) -> ScenarioResult:
    return ScenarioResult("s", "s.yaml", 0.0, 1.0, 60, list(verdicts), error=error)


def test_a_kill_is_a_check_of_the_alert_failing_on_the_mutant_and_passing_on_the_original():
    fired = Verdict("silent", "Down", FAIL, "not firing", "firing from t=3s")
    other = Verdict("silent", "Other", FAIL, "not firing", "firing")          # noise: another alert's check
    slo = Verdict("slo", "availability", FAIL, "holds", "did not")
    assert new_failures(_res(fired, other, slo), _res(), "Down") == [fired]
    assert new_failures(_res(fired), _res(fired), "Down") == []               # the original fails it too
    assert new_failures(_res(fired), None, "Down") == [fired]                 # the original taken to pass
    assert new_failures(_res(fired, error="load never started"), _res(), "Down") == []
    routed = Verdict("notified", "pager", FAIL, "Down delivered to pager within 5s", "no notification")
    assert new_failures(_res(routed), _res(), "Down") == [routed]
    assert new_failures(_res(routed), _res(), "Do") == []                     # names match whole


def test_a_batch_kill_needs_the_original_to_pass_the_same_check_in_the_same_run(world):
    m = _mutant(_plan(world), "comparison == -> != in branch 1").mutant
    mine = Verdict("silent", m.renamed, FAIL, "not firing in [1.00s, 9.00s]", "firing from t=1s")
    theirs = Verdict("silent", "Down", PASS, "not firing in [1.00s, 9.00s]", "silent")
    assert batch_failures(_res(mine, theirs), m) == [mine]
    assert batch_failures(_res(mine, replace(theirs, status=FAIL)), m) == []
    assert batch_failures(_res(replace(mine, status=PASS), theirs), m) == []
    assert batch_failures(_res(mine, theirs, error="the load never started"), m) == []
    routed = Verdict("notified", "pager", FAIL, f"{m.renamed} delivered to pager within 5.00s", "no notification")
    assert batch_failures(_res(routed, Verdict("notified", "pager", PASS, "Down delivered to pager within 5.00s",
                                               "arrived")), m) == [routed]


def test_batch_copies_expectations_and_maps_the_renamed_alert_to_the_original_rule(world):
    plan = _plan(world)
    m = _mutant(plan, "for 1m -> 10m").mutant
    scn = next(s for s in plan.original.scenarios if s.name == "down_fires")
    copy = batch_scenario(scn, [m], plan.batch_kinds)
    assert [(e.kind, e.subject) for e in copy.expectations] == [
        ("fires", "Down"), ("notified", "Down"), ("fires", m.renamed), ("notified", m.renamed)]
    assert copy.expectations[2].params["labels"] == {"severity": "critical"}
    catalog = batch_catalog(plan.original.catalog, [m])
    assert catalog.rule(m.renamed).for_s == 60                       # held to the original `for`, not 600


# -- the loop ------------------------------------------------------------------------------------------


def _scripted(plan: mutate.MutationPlan, failing: dict[tuple[str, str], set[str]]):
    """A scenario runner: a batch run of scenario S fails the fires check of each mutant id in
    failing[("batch", S)]; a solo run of mutant m on S fails if m is in failing[("solo", S)]; the original
    fails if "original" is in failing[("original", S)]. Records (kind, label, scenario) of every run."""
    calls: list[tuple[str, str, str]] = []

    def run(pack: mutate.RunPack, scn: Any) -> ScenarioResult:
        calls.append((pack.kind, pack.label, scn.name))
        bad = failing.get((pack.kind, scn.name), set())
        verdicts = [Verdict("fires", "Down", FAIL if "original" in bad else PASS, "firing", "")]
        for m in pack.mutants:
            name = m.renamed if pack.kind == mutate.BATCH else "Down"
            if pack.kind == mutate.SOLO:
                verdicts = []
            verdicts.append(Verdict("fires", name, FAIL if m.id in bad else PASS, "firing", "never fired"))
        return _res(*verdicts)

    return run, calls


def test_each_scenario_runs_once_with_every_live_mutant_it_can_kill(world):
    plan = _plan(world)
    ids = {s.mutant.description: s.mutant.id for s in plan.schedules}
    m_for, m_up = ids["for 1m -> 10m"], ids["metric up -> u in branch 1 of 2 (or)"]
    run, calls = _scripted(plan, {(mutate.BATCH, "down_blind"): {m_for, m_up}})
    out = run_mutation(plan, run)
    scenarios = [c[2] for c in calls]
    assert len(scenarios) == len(set(scenarios)) == 4 and all(c[0] == mutate.BATCH for c in calls)
    assert scenarios[0] == "down_blind"                 # 8 of the 9 mutants can die there: the best first
    by = {o.mutant.id: o for o in out.outcomes}
    assert by[m_for].status == KILLED and by[m_for].killed_by == "down_blind"
    assert by[m_for].evidence == [f"fires Down__{m_for}: never fired"]
    assert [a.scenario for a in by[m_for].attempts] == ["down_blind"]   # a dead mutant is in no later batch
    survivor = by[ids["severity critical -> warning"]]
    assert survivor.status == SURVIVED and [a.scenario for a in survivor.attempts] == ["down_fires"]
    assert out.runs == {mutate.BATCH: 4, mutate.SOLO: 0, mutate.ORIGINAL: 0}
    assert out.score == pytest.approx(2 / 9) and not out.ok


def test_a_failure_the_original_shares_in_the_same_batch_is_no_verdict(world):
    plan = _plan(world)
    m_for = _mutant(plan, "for 1m -> 10m").mutant.id
    run, _ = _scripted(plan, {(mutate.BATCH, "down_blind"): {m_for, "original"}})
    o = next(o for o in run_mutation(plan, run).outcomes if o.mutant.id == m_for)
    assert [(a.scenario, a.outcome) for a in o.attempts] == [("down_blind", "no verdict"), ("down_fires", "passed")]
    assert o.status == NOT_RUN           # not judged: neither killed nor shown to survive


INHIBITION = ("duration: 10m\nfaults:\n  - {kind: crash, target: redis, start: 3m, duration: 5m}\nexpect:\n"
              "  - inhibited: Down\n    by: Down\n    labels: {severity: warning}\n")


def test_an_alert_inhibiting_itself_is_judged_in_a_batch(world):
    (world["scenarios"] / "down_inhibits.yaml").write_text(f"name: down_inhibits\n{INHIBITION}")
    plan = _plan(world, drop=("down_blind", "down_fires", "down_near_miss", "healthy_baseline"))
    assert all([s.name for s in sch.batched] == ["down_inhibits"] and not sch.solo for sch in plan.schedules)
    m = plan.schedules[0].mutant
    copy = batch_scenario(plan.original.scenarios[0], [m], plan.batch_kinds).expectations[-1]
    assert (copy.kind, copy.subject, copy.params["by"]) == ("inhibited", m.renamed, m.renamed)


def test_solo_runs_compare_with_the_original_once_per_scenario(world):
    (world["scenarios"] / "down_inhibits.yaml").write_text(f"name: down_inhibits\n{INHIBITION}")
    # An inhibit rule that names the alert: a renamed mutant would escape it, so inhibition is judged alone.
    world["am"].write_text(AM + "inhibit_rules:\n  - source_match: {alertname: Down}\n    target_match: {severity: "
                           "warning}\n")
    plan = _plan(world, drop=("down_blind", "down_fires", "down_near_miss", "healthy_baseline"))
    assert any("matches on alertname" in n for n in plan.notes)
    assert all([s.name for s in sch.solo] == ["down_inhibits"] for sch in plan.schedules)
    first, second = plan.schedules[0].mutant.id, plan.schedules[1].mutant.id
    run, calls = _scripted(plan, {(mutate.SOLO, "down_inhibits"): {first, second}})
    out = run_mutation(plan, run)
    assert calls.count((ORIGINAL, ORIGINAL, "down_inhibits")) == 1             # cached for the second mutant
    assert [o.status for o in out.outcomes[:2]] == [KILLED, KILLED]
    assert out.outcomes[2].status == SURVIVED
    # the original failing the same check: no verdict, so the mutant is not counted as survived either
    run, _ = _scripted(plan, {(mutate.SOLO, "down_inhibits"): {first}, (ORIGINAL, "down_inhibits"): {"original"}})
    o = run_mutation(plan, run).outcomes[0]
    assert o.status == NOT_RUN and o.attempts[0].outcome == "no verdict"
    # trusted: no original run at all
    plan = replace(plan, trust_original=True)
    run, calls = _scripted(plan, {(mutate.SOLO, "down_inhibits"): {first}})
    assert run_mutation(plan, run).outcomes[0].status == KILLED and not [c for c in calls if c[0] == ORIGINAL]


def test_an_interrupted_run_keeps_what_it_judged(world):
    plan = _plan(world)
    result = mutate.new_result(plan)
    m_for = _mutant(plan, "for 1m -> 10m").mutant.id
    scripted, _ = _scripted(plan, {(mutate.BATCH, "down_blind"): {m_for}})
    calls: list[str] = []

    def run(pack: mutate.RunPack, scn: Any) -> ScenarioResult:
        if calls:
            raise KeyboardInterrupt
        calls.append(scn.name)
        return scripted(pack, scn)

    with pytest.raises(KeyboardInterrupt):
        run_mutation(plan, run, result)
    statuses = {o.mutant.id: o.status for o in result.outcomes}
    assert statuses[m_for] == KILLED and list(statuses.values()).count(NOT_RUN) == 8
    assert "8 not judged" in render_result(result)


# -- end to end on a fake stack ---------------------------------------------------------------------


def test_a_mutation_run_on_one_stack_kills_every_mutant_and_reports_it(world, fake_stack, tmp_path):
    cfg = resolve_config({"reports_dir": str(tmp_path / "reports")})
    out, result = mutate.run_mutate(_plan(world), cfg)
    assert len(fake_stack) == 1                                     # one stack; mutants swapped in by reload
    stack = fake_stack[0]
    assert result.ok and result.count(KILLED) == 9, render_result(result)
    names = [name for name, _ in stack.ran]
    assert names[0] == "down_blind@batch1" and all("@batch" in n for n in names)
    assert len({n.split("@")[0] for n in names}) == len(names)     # each scenario once
    first_files = stack.ran[0][1]
    assert first_files[0] == str(world["rules"]) and first_files[1].endswith("/batch1.yml")
    summary = json.loads((out.report_path.parent / "summary.json").read_text())
    assert summary["kind"] == "mutate" and summary["ok"] is True
    assert summary["mutation"]["killed"] == 9 and summary["mutation"]["equivalent"] == 4
    assert "Mutation testing" in out.report_path.read_text()
    assert load_run_report(out.report_path.parent).mutation == summary["mutation"]


def test_a_survivor_says_what_would_kill_it_and_fails_the_command(world, fake_stack, tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    # Without the exporter-crash scenario nothing exercises the `up` branch.
    (world["scenarios"] / "down_blind.yaml").unlink()
    code = cli.main_mutate([str(world["scenarios"]), "--rules", str(world["rules"]), "--alertmanager-config",
                            str(world["am"])])
    out = capsys.readouterr().out
    assert code == 1
    assert "survivors, and what kind of scenario would kill each:" in out
    assert "or branch 1 of 2 removed (up{job=\"redis\"} == 0)" in out
    assert "would be killed by a fires scenario for that branch (up{job=\"redis\"} == 0), checked with labels:" in out
    assert "KILLED" in out and "report: " in out
    assert "-> down_fires with 9 mutant(s) renamed beside the originals (batch1, about 29 s)" in out


def test_cli_plan_only(world, capsys):
    code = cli.main_mutate([str(world["scenarios"]), "--rules", str(world["rules"]), "--alertmanager-config",
                            str(world["am"]), "--plan"])
    out = capsys.readouterr().out
    assert code == 0 and "9 mutant(s) of 1 alert(s)" in out and "(weaker): down_blind, down_fires" in out


# -- the report sections ------------------------------------------------------------------------------


def test_summary_and_html_sections(world):
    plan = _plan(world)
    m_for = _mutant(plan, "for 1m -> 10m").mutant.id
    run, _ = _scripted(plan, {(mutate.BATCH, "down_blind"): {m_for}})
    result = run_mutation(plan, run)
    report = RunReport(run_id="r", kind="mutate", mutation=result.to_dict())
    summary = build_summary(report, None, {}, {})
    assert summary["mutation"]["survived"] == 8 and summary["ok"] is False
    survivor = next(o for o in summary["mutation"]["outcomes"] if o["status"] == SURVIVED)
    assert survivor["hint"] and survivor["attempts"]
    killed = next(o for o in summary["mutation"]["outcomes"] if o["status"] == KILLED)
    assert "hint" not in killed and killed["killed_by"] == "down_blind"
    html = mutation_section(summary["mutation"])
    assert "Mutation testing" in html and "would be killed by" in html and "0 scaled is still 0" in html
    assert html.index('pill bad">survived') < html.index('pill ok">killed')  # survivors listed first
    assert mutation_section(None) == ""
    text = render_result(result)
    assert "mutation score: 1/9 non-equivalent mutants killed (11%)" in text and "would be killed by" in text


def test_html_section_counts_runs_by_kind():
    html = mutation_section({"killed": 1, "survived": 0, "runs": {"batch": 3, "solo": 2, "original": 1},
                             "outcomes": [], "skipped": []})
    assert "Scenario runs: 3 batched" in html and "2 with a mutant alone, 1 on the original packs" in html
