"""The demo tour (``harness demo``): the story of the harness in a few minutes, on one stack.

1. The reference packs: a fault that fires, routes and resolves, and a degraded run whose SLO is checked
   against ground truth (every request the load made) and against Prometheus's recording rule.
2. The published packs, switched to by reload: scenarios whose failures are known defects of the seed
   guides' rules and Alertmanager config, found with their evidence.

It is the same machinery as ``harness verify`` and ``harness audit`` (plans, runner, findings, report),
run as two plans on one stack. The tour behaved as expected when every reference scenario passed and
the published packs' findings are exactly the ones ``scenarios/expected-findings.json`` requires for its
scenarios; anything else is a problem, and the problems say what.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import REFERENCE_ALERTMANAGER, SEED_ALERTMANAGER, Config, reference_rule_files, seed_rule_files
from harness.core.errors import HarnessError
from harness.core.plan import Plan
from harness.core.result import ScenarioResult
from harness.scenario import suite
from harness.scenario.findings import (
    ExpectedFindings,
    audit_findings,
    exported_metric,
    finding_keys,
    load_expected_findings,
)
from harness.scenario.run import SuiteResult
from harness.scenario.suite import pack_label

EXPECTED_FINDINGS = suite.SCENARIOS_DIR / "expected-findings.json"

# On the reference packs: Redis killed (RedisDown fires, pages, reaches Slack, resolves), and the
# service an hour into 99.95% availability (history backfilled; AvailabilitySLOBreach must stay silent, and the
# availability SLO against ground truth and the recording rule).
REFERENCE_TOUR = ("redis_down_fires.yaml", "availability_slo_near_miss.yaml")
# On the published packs, defects that show in every run: each is a rule that cannot fire or a receiver that
# cannot be reached, so a slow scrape on a busy machine cannot change the finding. RedisDown is blind when the
# exporter is gone; the PagerDuty receiver speaks an API its URL refuses (shown by the primary's crash:
# PostgreSQLDown pages within seconds at a high scale, where an error ratio's window needs a low one); the
# connection-pool ratio matches no series. (The gauges of BackupFailed and RedisMemoryHigh vanish at every failed
# scrape, which resets their `for:`, so those findings need a quiet machine: `harness audit` has them.)
PUBLISHED_TOUR = ("redis_monitoring_blind.yaml", "postgres_down_fires.yaml", "connection_pool_fires.yaml")

# What the full runs cost on the 2-core CI machine (README, "Two commands").
FULL_RUNS = (("harness verify", "the whole suite on the reference packs, about 33 min"),
             ("harness audit", "the whole suite on the published packs, about as long"))


@dataclass(frozen=True)
class Tour:
    reference: Plan
    published: Plan
    expected: ExpectedFindings      # the published scenarios' entries of expected-findings.json


def plan_tour(scenarios_dir: Path = suite.SCENARIOS_DIR, expected_file: Path = EXPECTED_FINDINGS, *,
              reference: Sequence[str] = REFERENCE_TOUR, published: Sequence[str] = PUBLISHED_TOUR) -> Tour:
    """Both plans validated, and the defects each published scenario must show, before anything starts."""
    ref = suite.plan_run([scenarios_dir / f for f in reference], reference_rule_files(),
                         REFERENCE_ALERTMANAGER, only_applicable=False)
    pub = suite.plan_run([scenarios_dir / f for f in published], seed_rule_files(), SEED_ALERTMANAGER,
                         only_applicable=False)
    names = [s.name for s in pub.scenarios]
    expected = load_expected_findings(expected_file).for_scenarios(names)
    shows_nothing = [n for n in names if not any(k.startswith(f"{n}:") for k in expected.findings)]
    if shows_nothing:
        raise HarnessError(f"the tour's published scenarios {', '.join(shows_nothing)} have no required finding in "
                           f"{expected_file}", hint="the tour shows defects that reproduce in every run: pick "
                           "scenarios listed under \"findings\" there")
    return Tour(ref, pub, expected)


@dataclass
class TourOutcome:
    suite: SuiteResult
    reference: list[ScenarioResult]
    published: list[ScenarioResult]
    findings: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge_tour(tour: Tour, ran: SuiteResult) -> TourOutcome:
    """Split the run's results by plan and say everything that differs from the tour's expectations."""
    ref_names = {s.name for s in tour.reference.scenarios}
    reference = [r for r in ran.results if r.name in ref_names]
    published = [r for r in ran.results if r.name not in ref_names]
    findings = [f for f in ran.findings if f.get("scenario") not in ref_names]
    out = TourOutcome(ran, reference, published, findings)
    if ran.interrupted:
        out.problems.append("the tour was interrupted")
    if ran.error:
        out.problems.append(f"the run failed: {ran.error}")
    done = {r.name for r in ran.results}
    not_run = [s.name for s in (*tour.reference.scenarios, *tour.published.scenarios) if s.name not in done]
    if not_run:
        out.problems.append(f"not run: {', '.join(not_run)}")
    for r in reference:
        if not r.passed:
            why = r.error or "; ".join(f"{v.check} {v.subject}: {v.observed}" for v in r.verdicts if not v.ok
                                       and v.status != "unsupported")
            out.problems.append(f"reference scenario {r.name} failed: {why}")
    if not not_run and not ran.interrupted:
        missing, new = tour.expected.compare(finding_keys(findings))
        out.problems += [f"defect not found: {k}" for k in missing]
        out.problems += [f"unexpected finding: {k}" for k in new]
    return out


def run_tour(tour: Tour, cfg: Config, on_result: Callable[[ScenarioResult], None] | None = None) -> TourOutcome:
    if cfg.backend != "local":
        raise HarnessError(f"the demo needs the local backend (configured: {cfg.backend})",
                           hint="it switches rule packs and the Alertmanager config by reload, which only a "
                                "stack the harness runs allows; unset HARNESS_BACKEND or pass --backend local")
    def findings(plan: Plan, results: list[ScenarioResult]) -> list[dict[str, Any]]:
        return audit_findings(plan.catalog, results, exported_metric(plan.catalog)) if plan is tour.published else []

    reading = (f"demo: {', '.join(s.name for s in tour.reference.scenarios)} ran on the reference packs and must "
               f"pass; {', '.join(s.name for s in tour.published.scenarios)} ran on the published packs, where "
               "their failures are the known defects listed under the findings")
    ran = suite.run_plans([tour.reference, tour.published], cfg, kind="demo", on_result=on_result,
                          findings=findings, notes=[reading])
    return judge_tour(tour, ran)


def _clip(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder=" …")


def render_tour(tour: Tour, out: TourOutcome, *, width: int = 110) -> str:
    """The terminal summary: what was checked, what was found, where the report is."""
    def para(text: str) -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent="  ")

    lines = para(f"Reference packs ({pack_label(tour.reference)}): a fault must fire, route and resolve; the SLO "
                 "must match ground truth.")
    for r in out.reference:
        lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name} ({r.ended - r.started:.0f} s)")
        lines += [f"        {'ok ' if v.ok else 'NOT'} {_clip(f'{v.check} {v.subject}: {v.observed}', width - 12)}"
                  for v in r.verdicts]
        lines += [f"        {_clip(r.error, width - 8)}"] if r.error else []
    lines += ["", *para(f"Published packs ({pack_label(tour.published)}), switched to by reload: known defects "
                        "must show.")]
    for r in out.published:
        mine = [f for f in out.findings if f.get("scenario") == r.name]
        lines.append(f"  {len(mine)} finding(s)  {r.name} ({r.ended - r.started:.0f} s)")
        for f in mine:
            what = f"{f.get('check', 'run')} {f.get('alert', '')}".strip()
            if f.get("subject") and f.get("subject") != f.get("alert"):
                what += f" -> {f['subject']}"
            said = f"{what}: {f['happened']} (expected {f['expectation']})"
            lines.append(f"        {_clip(said, width - 8)}")
            lines += textwrap.wrap(" ".join(str(f["likely_cause"]).split()), width, max_lines=2, placeholder=" …",
                                   initial_indent="          cause: ", subsequent_indent="          ")
    lines.append("")
    if out.ok:
        lines += para(f"Tour as expected: {len(out.reference)} reference scenario(s) passed; "
                      f"{len(tour.expected.findings)} known defect(s) of the published packs found.")
    else:
        lines.append("Tour NOT as expected:")
        for p in out.problems:  # in full (an error's hint is its last line), each on at most 6 lines
            lines += textwrap.wrap(" ".join(p.split()), width, initial_indent="  - ", subsequent_indent="    ",
                                   max_lines=6, placeholder=" …")
    if out.suite.report_path:
        lines.append(f"Report: {out.suite.report_path}")
    lines += para("The full runs: " + "; ".join(f"`{cmd}` ({what})" for cmd, what in FULL_RUNS) + ".")
    return "\n".join(lines)
