"""``harness mutate``: mutation testing of alert rules. Which of a rule's thresholds, comparisons, `for`, matchers,
metrics, branches and severity does the scenario suite really pin?

The mutants come from ``harness.rules.mutants`` (one edit each; equivalent ones skipped with the reason). Each is
offered only the scenarios that name its alert and can kill it by construction (a mutant that can only fire less
cannot fail a check that the alert stays silent; a severity change can fail only routing, inhibition or
severity-labelled checks; the healthy baseline's ``silent: "*"`` names every alert). Then, on one running stack,
rule files switched by reload (never a restart):

1. Batched runs, each scenario at most once: every mutant still alive that the scenario can kill is loaded at once,
   each under its own alert name (``<alert>__<id>``), beside the original packs; the scenario's expectations about
   the alert are copied for each renamed mutant. Prometheus evaluates each rule on its own, so fires / silent /
   resolves verdicts of a renamed mutant are what its rule alone would give; notified verdicts too when every route
   groups by ``alertname`` (then no two alert names share a notification), else those wait for step 2. The copies
   are judged by the original rule's bounds (the catalog maps each renamed alert to the original rule: a `for`
   x10 mutant is held to the original deadline), and the original, loaded in the same run, is the comparison: a
   mutant is killed when a verdict about it fails while the same verdict about the original passes. The next
   scenario is the one that can kill the most live mutants per second of run (the healthy baseline first).
2. Solo runs, for what a batch cannot judge (an ``inhibited`` check: renamed mutants neither inhibit nor are
   inhibited by their original): the mutant alone in place of its rule, cheapest scenario first, stopping at the
   first kill; a verdict about its alert that fails counts when the same scenario passes it on the original packs
   (run once per scenario, cached; with ``trust_original`` the original is taken to pass every scenario, as the
   reference packs must in CI).

Verdicts about other alerts, and latency and SLO checks, never count: the mutant cannot change them, so their
failures are noise. Pure except ``run_mutation``'s injected scenario runner and ``run_mutate``: planning, judging
and rendering are unit-tested without services.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness.core.catalog import Catalog
from harness.core.durations import format_duration
from harness.core.errors import HarnessError
from harness.core.expectations import expected_to_fire
from harness.core.model import Expectation, Scenario
from harness.core.plan import Plan
from harness.core.result import FAIL, ScenarioResult, Verdict
from harness.core.routing import every_route_groups_by
from harness.rules.check import promtool_check
from harness.rules.mutants import (
    LABELS,
    WEAKER,
    Mutant,
    MutantSet,
    Skipped,
    generate_mutants,
    renamed_pack,
)
from harness.scenario.run import Run, Session
from harness.scenario.runner import scenario_warmup
from harness.scenario.suite import pack_label, plan_run

KILLED = "killed"
SURVIVED = "survived"
NOT_RUN = "not judged"        # interrupted, a run failed, or the original failed the same check

# How a scenario run loads the rules (RunPack.kind).
ORIGINAL = "original"          # the team's packs as they are
SOLO = "solo"                  # one mutant in place of its rule
BATCH = "batch"                # the team's packs plus mutants renamed <alert>__<id>

# Real seconds a scenario costs beyond its compressed warm-up and duration (quiet wait, history reset, load
# start, reloads): 2-3 s measured on the 2-core machine. For the estimate printed before the run.
RUN_OVERHEAD_S = 4.0

_MUST_HAPPEN = ("fires", "notified", "resolves", "inhibited")
PROMETHEUS_KINDS = frozenset({"fires", "silent", "resolves"})


# -- what a scenario can tell about a mutant -----------------------------------------------------------


def expectations_about(scn: Scenario, alert: str) -> list[Expectation]:
    """The scenario's expectations a change of ``alert``'s rule can fail: those on the alert, an inhibition it
    is the source of, and a ``silent: "*"`` that does not exempt it."""
    expected = expected_to_fire(scn)

    def about(e: Expectation) -> bool:
        if e.kind == "inhibited" and str(e.params.get("by")) == alert:
            return True
        if e.kind == "silent" and e.subject == "*":
            return alert not in expected
        return e.subject == alert and e.kind in ("fires", "silent", "resolves", "notified", "inhibited")

    return [e for e in scn.expectations if about(e)]


def batchable(e: Expectation, alert: str, kinds: frozenset[str]) -> bool:
    """Whether a batched run judges this expectation about ``alert``: its kind is one of ``kinds``; an inhibition
    only between two rules of the alert itself (a renamed mutant takes its sibling rules along, so the pair
    keeps inhibiting each other), never by or of another alert."""
    if e.kind == "inhibited":
        return "inhibited" in kinds and e.subject == alert and str(e.params.get("by")) == alert
    return e.kind in kinds


def cannot_kill(scn: Scenario, mutant: Mutant, select: Callable[[Expectation], bool] = lambda e: True) -> str:
    """Why ``scn`` cannot kill ``mutant`` by construction through its ``select``ed checks ("" when it can)."""
    about = [e for e in expectations_about(scn, mutant.alert) if select(e)]
    if not about:
        return f"checks nothing about {mutant.alert}"
    if mutant.direction == WEAKER and not any(e.kind in _MUST_HAPPEN for e in about):
        return (f"only checks that {mutant.alert} stays silent, and this mutant can only fire less than the "
                "original")
    if mutant.direction == LABELS and not any(
            e.kind in ("notified", "inhibited") or "severity" in (e.params.get("labels") or {})
            or "severity" in (e.params.get("by_labels") or {}) for e in about):
        return (f"checks no receiver, inhibition or severity label of {mutant.alert}, and this mutant changes only "
                "its severity")
    return ""


def scenario_cost_s(scn: Scenario, catalog: Catalog, time_scale: float) -> float:
    """Estimated real seconds of one run of ``scn`` (its own scale cap applies)."""
    scale = min(time_scale, scn.max_time_scale or time_scale)
    return RUN_OVERHEAD_S + (scenario_warmup(scn, catalog) + scn.duration) / max(scale, 1.0)


# -- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    mutant: Mutant
    batched: tuple[Scenario, ...]                 # can kill it in a batch, cheapest first
    solo: tuple[Scenario, ...]                    # can kill it only alone (an inhibited check), cheapest first
    cannot_kill: tuple[tuple[str, str], ...]      # (scenario, why) of those that name its alert but cannot

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return self.batched + tuple(s for s in self.solo if s not in self.batched)


@dataclass(frozen=True)
class MutationPlan:
    original: Plan
    mutants: MutantSet
    schedules: tuple[Schedule, ...]
    time_scale: float
    batch_kinds: frozenset[str] = PROMETHEUS_KINDS    # the checks a batched run judges
    trust_original: bool = False
    notes: tuple[str, ...] = ()

    def cost(self, scn: Scenario) -> float:
        return scenario_cost_s(scn, self.original.catalog, self.time_scale)

    def estimate(self) -> tuple[int, float, int, float]:
        """(batched runs, their real seconds, solo runs, theirs), at most: each batched scenario once; each solo
        scenario once per mutant that needs it (and once on the original packs, unless trusted)."""
        batched = {s.name: s for sch in self.schedules for s in sch.batched}
        solo = [s for sch in self.schedules for s in sch.solo]
        originals = {} if self.trust_original else {s.name: s for s in solo}
        return (len(batched), sum(self.cost(s) for s in batched.values()), len(solo) + len(originals),
                sum(self.cost(s) for s in [*solo, *originals.values()]))


def schedule(mutant: Mutant, scenarios: Sequence[Scenario], catalog: Catalog, time_scale: float,
             batch_kinds: frozenset[str] = PROMETHEUS_KINDS) -> Schedule:
    batched: list[Scenario] = []
    solo: list[Scenario] = []
    cannot: list[tuple[str, str]] = []
    for scn in scenarios:
        if not expectations_about(scn, mutant.alert):
            continue
        why = cannot_kill(scn, mutant)
        if why:
            cannot.append((scn.name, why))
            continue
        if not cannot_kill(scn, mutant, lambda e: batchable(e, mutant.alert, batch_kinds)):
            batched.append(scn)
        if not cannot_kill(scn, mutant, lambda e: not batchable(e, mutant.alert, batch_kinds)):
            solo.append(scn)     # a check no batch can judge (an inhibition by another alert)

    def cost(s: Scenario) -> tuple[float, str]:
        return scenario_cost_s(s, catalog, time_scale), s.name

    return Schedule(mutant, tuple(sorted(batched, key=cost)), tuple(sorted(solo, key=cost)), tuple(cannot))


def inhibit_rules_name_alerts(alertmanager_config: str | Path) -> bool:
    """Whether an inhibit rule's matchers read ``alertname`` (``equal: [alertname]`` does not count: a renamed
    mutant and its sibling rules share their new name)."""
    try:
        doc = yaml.safe_load(Path(alertmanager_config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return True
    for rule in doc.get("inhibit_rules") or []:
        for key in ("source_match", "target_match", "source_match_re", "target_match_re"):
            if "alertname" in (rule.get(key) or {}):
                return True
        for key in ("source_matchers", "target_matchers"):
            if any(str(t).strip().lstrip("{").startswith("alertname") for t in rule.get(key) or []):
                return True
    return False


def notifications_apart(alertmanager_config: str | Path) -> bool:
    """Whether every route of the config groups by alertname: then a renamed mutant's notifications are its own."""
    try:
        doc = yaml.safe_load(Path(alertmanager_config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    route = doc.get("route")
    return isinstance(route, dict) and every_route_groups_by(route, "alertname")


def plan_mutation(scenario_paths: Sequence[str | Path], rule_files: Sequence[str | Path],
                  alertmanager_config: str | Path, *, time_scale: float, alerts: Sequence[str] = (),
                  trust_original: bool = False, map_file: str | Path | None = None) -> MutationPlan:
    """Scenarios validated, mutants generated and each mutant's scenarios chosen, before anything starts."""
    original = plan_run(scenario_paths, rule_files, alertmanager_config, map_file=map_file)
    mutants = generate_mutants(original.rule_files, alertmanager_config, alerts=alerts)
    notes: list[str] = []
    kinds = PROMETHEUS_KINDS
    if not notifications_apart(alertmanager_config):
        notes.append("some route does not group by alertname, so a renamed mutant could share notifications with "
                     "its original: notified and inhibited checks are judged only on solo runs")
    elif inhibit_rules_name_alerts(alertmanager_config):
        kinds = PROMETHEUS_KINDS | {"notified"}
        notes.append("an inhibit rule matches on alertname, which a renamed mutant does not have: inhibited checks "
                     "are judged only on solo runs")
    else:
        kinds = PROMETHEUS_KINDS | {"notified", "inhibited"}
    schedules = tuple(schedule(m, original.scenarios, original.catalog, time_scale, kinds) for m in mutants.mutants)
    return MutationPlan(original, mutants, schedules, time_scale, kinds, trust_original, tuple(notes))


def batch_scenario(scn: Scenario, mutants: Sequence[Mutant], kinds: frozenset[str]) -> Scenario:
    """``scn`` with each of its expectations about a mutant's alert that a batch judges (``batchable``) copied for
    the renamed mutant (an inhibition of the alert by itself: by the renamed mutant too)."""
    def copy(e: Expectation, m: Mutant) -> Expectation:
        params = dict(e.params)
        if e.kind == "inhibited":
            params["by"] = m.renamed
        return replace(e, subject=m.renamed, params=params)

    copies = [copy(e, m) for m in mutants for e in scn.expectations
              if e.subject == m.alert and batchable(e, m.alert, kinds)]
    return replace(scn, expectations=(*scn.expectations, *copies))


def batch_catalog(catalog: Catalog, mutants: Sequence[Mutant]) -> Catalog:
    """The original catalog plus each renamed mutant, mapped to its original rule: the copies of expectations are
    held to the original's bounds, windows and warm-up."""
    extra = {m.renamed: replace(catalog.rule(m.alert), name=m.renamed) for m in mutants}
    return replace(catalog, alerts={**catalog.alerts, **extra})


# -- judging -------------------------------------------------------------------------------------------


def verdict_about(v: Verdict, alert: str) -> bool:
    """Whether a verdict judges ``alert`` (notified / inhibited verdicts name it in their expectation)."""
    if v.check in ("fires", "silent", "resolves"):
        return v.subject == alert
    if v.check in ("notified", "not_notified", "inhibited"):
        return re.search(rf"(?<![\w:]){re.escape(alert)}(?![\w:])", v.expected) is not None
    return False


def failures_about(res: ScenarioResult, alert: str) -> list[Verdict]:
    return [v for v in res.verdicts if v.status == FAIL and verdict_about(v, alert)]


def _key(v: Verdict, name: str = "", as_name: str = "") -> tuple[str, str, str]:
    """What identifies a verdict across runs (and, with ``name`` -> ``as_name``, across a renamed copy)."""
    if not name:
        return v.check, v.subject, v.expected
    return v.check, v.subject.replace(name, as_name), v.expected.replace(name, as_name)


def new_failures(mutant_run: ScenarioResult, original_run: ScenarioResult | None, alert: str) -> list[Verdict]:
    """The verdicts about ``alert`` that fail on the mutant's solo run and pass on the original's (``None``: the
    original is taken to pass everything). A run that failed to run judges nothing."""
    if mutant_run.error is not None:
        return []
    base = {_key(v) for v in failures_about(original_run, alert)} if original_run is not None else set()
    return [v for v in failures_about(mutant_run, alert) if _key(v) not in base]


def batch_failures(res: ScenarioResult, mutant: Mutant) -> list[Verdict]:
    """The verdicts about ``mutant`` (renamed) that fail in a batched run while the same verdict about its original,
    in the same run, passes."""
    if res.error is not None:
        return []
    original = {_key(v) for v in failures_about(res, mutant.alert)}
    return [v for v in failures_about(res, mutant.renamed) if _key(v, mutant.renamed, mutant.alert) not in original]


# -- the run -------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    scenario: str
    outcome: str                   # "killed", "passed", "error", "no verdict" (the original failed it too)
    seconds: float
    detail: str = ""
    run: str = ""                  # "batch 3 (12 mutants)", "alone", ...


@dataclass
class MutantOutcome:
    mutant: Mutant
    cannot_kill: tuple[tuple[str, str], ...] = ()
    status: str = NOT_RUN
    killed_by: str | None = None
    evidence: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.mutant.to_dict()
        d.update(status=self.status, killed_by=self.killed_by, evidence=list(self.evidence),
                 attempts=[a.__dict__ for a in self.attempts],
                 cannot_kill=[{"scenario": s, "why": w} for s, w in self.cannot_kill])
        if self.status != SURVIVED:
            d.pop("hint")
        return d


@dataclass
class MutationResult:
    outcomes: list[MutantOutcome]
    skipped: tuple[Skipped, ...]
    alerts: tuple[str, ...]
    trust_original: bool
    packs: str = ""
    runs: dict[str, int] = field(default_factory=lambda: {BATCH: 0, SOLO: 0, ORIGINAL: 0})
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def score(self) -> float | None:
        """Killed over judged non-equivalent mutants (None before any is judged)."""
        judged = self.count(KILLED) + self.count(SURVIVED)
        return self.count(KILLED) / judged if judged else None

    @property
    def survivors(self) -> list[MutantOutcome]:
        return [o for o in self.outcomes if o.status == SURVIVED]

    @property
    def ok(self) -> bool:
        """Every non-equivalent mutant killed."""
        return all(o.status == KILLED for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "mutants": len(self.outcomes), "killed": self.count(KILLED),
                "survived": self.count(SURVIVED), "not_judged": self.count(NOT_RUN), "equivalent": len(self.skipped),
                "alerts": list(self.alerts), "packs": self.packs, "trust_original": self.trust_original,
                "runs": dict(self.runs), "seconds": self.seconds, "notes": list(self.notes),
                "outcomes": [o.to_dict() for o in self.outcomes], "skipped": [s.to_dict() for s in self.skipped]}


@dataclass(frozen=True)
class RunPack:
    """How a scenario run loads the rules: the original packs, one mutant in place of its rule, or a batch of
    mutants renamed beside the originals. ``label`` names the run (``<scenario>@<label>`` in the report)."""

    kind: str                       # ORIGINAL | SOLO | BATCH
    mutants: tuple[Mutant, ...] = ()
    label: str = ORIGINAL


ScenarioRun = Callable[[RunPack, Scenario], ScenarioResult]


def new_result(plan: MutationPlan) -> MutationResult:
    return MutationResult([MutantOutcome(s.mutant, s.cannot_kill) for s in plan.schedules], plan.mutants.skipped,
                          plan.mutants.alerts, plan.trust_original, pack_label(plan.original), notes=list(plan.notes))


def next_batch(plan: MutationPlan, pending: dict[str, list[Scenario]]) -> Scenario | None:
    """The scenario that can kill the most live mutants per second of run (ties: the cheaper, then by name)."""
    counts: dict[str, tuple[int, Scenario]] = {}
    for scenarios in pending.values():
        for scn in scenarios:
            counts[scn.name] = (counts.get(scn.name, (0, scn))[0] + 1, scn)
    if not counts:
        return None
    return max(counts.values(), key=lambda c: (c[0] / plan.cost(c[1]), -plan.cost(c[1]), c[1].name))[1]


def run_mutation(plan: MutationPlan, run: ScenarioRun, result: MutationResult | None = None,
                 on_attempt: Callable[[MutantOutcome, Attempt], None] | None = None,
                 on_run: Callable[[RunPack, Scenario], None] | None = None) -> MutationResult:
    """Judge every mutant of ``plan``, running scenarios through ``run``. ``result`` (see ``new_result``) is
    filled in as the run goes, so whoever passed it still has the verdicts so far if ``run`` raises (Ctrl-C).
    ``on_run`` hears of each scenario run before it starts, ``on_attempt`` of each mutant's verdict after."""
    out = result if result is not None else new_result(plan)
    by_id = {o.mutant.id: o for o in out.outcomes}
    started = time.monotonic()

    def timed(pack: RunPack, scn: Scenario) -> tuple[ScenarioResult, float]:
        if on_run is not None:
            on_run(pack, scn)
        t = time.monotonic()
        res = run(pack, scn)
        out.runs[pack.kind] += 1
        out.seconds = time.monotonic() - started
        return res, time.monotonic() - t

    def note(o: MutantOutcome, a: Attempt) -> None:
        o.attempts.append(a)
        if on_attempt is not None:
            on_attempt(o, a)

    def kill(o: MutantOutcome, scn: Scenario, verdicts: list[Verdict], a: Attempt) -> None:
        o.status, o.killed_by = KILLED, scn.name
        o.evidence = [f"{v.check} {v.subject}: {v.observed}" for v in verdicts]
        a.outcome, a.detail = KILLED, "; ".join(o.evidence)
        note(o, a)

    # 1. Batches: each scenario once, with every live mutant it can kill.
    pending = {s.mutant.id: list(s.batched) for s in plan.schedules}
    batches = 0
    while (scn := next_batch(plan, pending)) is not None:
        batch = [by_id[i].mutant for i, todo in pending.items() if scn in todo]
        batches += 1
        label = f"batch{batches}"
        res, took = timed(RunPack(BATCH, tuple(batch), label), batch_scenario(scn, batch, plan.batch_kinds))
        for m in batch:
            pending[m.id] = [x for x in pending[m.id] if x is not scn]
            o = by_id[m.id]
            a = Attempt(scn.name, "passed", took, run=f"{label} ({len(batch)} mutants)")
            if res.error is not None:
                a.outcome, a.detail = "error", res.error
                note(o, a)
                continue
            new = batch_failures(res, m)
            if new:
                kill(o, scn, new, a)
                pending[m.id] = []
                continue
            if failures_about(res, m.renamed):
                a.outcome, a.detail = "no verdict", "the original fails the same checks in this run"
            note(o, a)
    # 2. Alone: what only a solo run can show, cheapest first, the first kill stops.
    originals: dict[str, ScenarioResult] = {}
    for s in plan.schedules:
        o = by_id[s.mutant.id]
        if o.status == KILLED:
            continue
        for scn in s.solo:
            res, took = timed(RunPack(SOLO, (s.mutant,), s.mutant.id), scn)
            a = Attempt(scn.name, "passed", took, run="alone")
            if res.error is not None:
                a.outcome, a.detail = "error", res.error
                note(o, a)
                continue
            if not failures_about(res, s.mutant.alert):
                note(o, a)
                continue
            original: ScenarioResult | None = None
            if not plan.trust_original:
                if scn.name not in originals:
                    originals[scn.name], _ = timed(RunPack(ORIGINAL), scn)
                original = originals[scn.name]
                if original.error is not None:
                    a.outcome, a.detail = "no verdict", f"the original packs' run failed: {original.error}"
                    note(o, a)
                    continue
            new = new_failures(res, original, s.mutant.alert)
            if new:
                kill(o, scn, new, a)
                break
            a.outcome, a.detail = "no verdict", "the original packs fail the same checks"
            note(o, a)
        else:
            # Not killed: survived, unless a run that could have killed it failed to judge it.
            undecided = any(a.outcome in ("error", "no verdict") for a in o.attempts)
            o.status = NOT_RUN if undecided else SURVIVED
    out.seconds = time.monotonic() - started
    return out


# -- packs on disk -------------------------------------------------------------------------------------


def write_solo_pack(plan: MutationPlan, mutant: Mutant, root: Path) -> list[Path]:
    """The rule files of ``mutant`` alone: its mutated file written under ``root``, the others the originals."""
    paths = []
    for path, text in mutant.files:
        if path == mutant.file:
            target = root / mutant.id / Path(path).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            paths.append(target)
        else:
            paths.append(Path(path))
    return paths


def write_batch_pack(plan: MutationPlan, mutants: Sequence[Mutant], root: Path, label: str) -> list[Path]:
    """The original rule files plus one file of ``mutants`` renamed, written under ``root``."""
    target = root / f"{label}.yml"
    target.write_text(renamed_pack(mutants), encoding="utf-8")
    return [*plan.original.rule_files, target]


# -- rendering -----------------------------------------------------------------------------------------


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return format_duration(round(seconds / 60.0) * 60.0).replace("h", " h ").replace("m", " min").strip()


def render_plan(plan: MutationPlan) -> str:
    ms = plan.mutants
    lines = [f"harness mutate: {len(ms.mutants)} mutant(s) of {len(ms.alerts)} alert(s) ({pack_label(plan.original)})"]
    if ms.skipped:
        lines.append(f"  {len(ms.skipped)} skipped, each equivalent by construction (or not editable in place):")
        lines += [f"    {s.alert} [{Path(s.file).name}:{s.line}] {s.description}: {s.reason}" for s in ms.skipped]
    n_batch, batch_s, n_solo, solo_s = plan.estimate()
    checks = ", ".join(sorted(plan.batch_kinds))
    lines.append(f"  batched: each scenario at most once, with every live mutant it can kill ({checks} checks) loaded "
                 f"at once, renamed <alert>__<id>, beside the originals: at most {n_batch} run(s), about "
                 f"{_human(batch_s)} at time scale {plan.time_scale:g}")
    if n_solo:
        lines.append(f"  alone, for checks a batch cannot judge: at most {n_solo} run(s), about {_human(solo_s)} ("
                     + ("the original packs taken to pass, --trust-original)" if plan.trust_original else
                        "with each such scenario once on the original packs)"))
    for s in plan.schedules:
        if not s.scenarios:
            lines.append(f"  {s.mutant.id} {s.mutant.alert} [{s.mutant.where}] {s.mutant.description}: no scenario "
                         "can kill it; it will survive")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)


def render_run(pack: RunPack, scn: Scenario, cost_s: float) -> str:
    what = {BATCH: f"with {len(pack.mutants)} mutant(s) renamed beside the originals",
            SOLO: f"with {pack.mutants[0].id if pack.mutants else '?'} alone in place of its rule",
            ORIGINAL: "on the original packs"}[pack.kind]
    return f"-> {scn.name} {what} ({pack.label}, about {_human(cost_s)})"


def render_attempt(o: MutantOutcome, a: Attempt) -> str:
    m = o.mutant
    return (f"{a.outcome.upper():<10} {m.id} {m.alert}: {m.description} -- {a.scenario}, {a.run} ({a.seconds:.0f} s)"
            + (f": {a.detail[:140]}" if a.detail and a.outcome != "passed" else ""))


def render_result(res: MutationResult) -> str:
    killed, survived, unjudged = res.count(KILLED), res.count(SURVIVED), res.count(NOT_RUN)
    score = res.score
    lines = ["", f"mutation score: {killed}/{killed + survived} non-equivalent mutants killed"
             + (f" ({score:.0%})" if score is not None else "")
             + f"; {len(res.skipped)} equivalent skipped" + (f"; {unjudged} not judged" if unjudged else "")]
    if res.survivors:
        lines.append("survivors, and what kind of scenario would kill each:")
        for o in res.survivors:
            m = o.mutant
            tried = ", ".join(a.scenario for a in o.attempts) or "no scenario could"
            lines.append(f"  {m.id} {m.alert} [{m.where}] {m.description} (tried: {tried})")
            lines.append(f"      would be killed by {m.hint}")
    lines.append(f"scenario runs: {res.runs[BATCH]} batched, {res.runs[SOLO]} with a mutant alone, "
                 f"{res.runs[ORIGINAL]} on the original packs; {_human(res.seconds)}")
    lines += [f"note: {n}" for n in res.notes]
    return "\n".join(lines)


# -- on a stack ----------------------------------------------------------------------------------------


def check_packs(plan: MutationPlan, root: Path) -> None:
    """promtool on every mutant's rule at once (renamed, in one file): a mutant Prometheus would refuse fails
    here, in a second, not at its reload minutes into the run. Skipped when promtool is not installed (each
    expression was already parsed with promql-parser)."""
    if not plan.mutants.mutants or shutil.which("promtool") is None:
        return
    every = root / "every-mutant.yml"
    every.write_text(renamed_pack(plan.mutants.mutants), encoding="utf-8")
    res = promtool_check(every)
    if not res.ok:
        raise HarnessError("promtool refuses a mutant (a harness bug: please report it)", detail=res.output,
                           hint=f"the mutants are in {every}")


def run_mutate(plan: MutationPlan, cfg: Any, on_attempt: Callable[[MutantOutcome, Attempt], None] | None = None,
               on_run: Callable[[RunPack, Scenario], None] | None = None) -> tuple[Any, MutationResult]:
    """Run ``plan`` on one stack (rule files switched by reload) and write the report, with its mutation-testing
    section, on every path. Returns (the suite result, the mutation result)."""
    if cfg.backend != "local":
        raise HarnessError(f"harness mutate needs the local backend (configured: {cfg.backend})",
                           hint="it swaps mutants in by reloading Prometheus's rule files, which only a stack the "
                                "harness runs allows; pass --backend local")
    result = new_result(plan)
    am = plan.original.alertmanager_config
    with tempfile.TemporaryDirectory(prefix="harness-mutants-") as tmp:
        root = Path(tmp)
        check_packs(plan, root)

        def body(session: Session) -> None:
            def run(pack: RunPack, scn: Scenario) -> ScenarioResult:
                catalog = plan.original.catalog
                if pack.kind == BATCH:
                    files = write_batch_pack(plan, pack.mutants, root, pack.label)
                    catalog = batch_catalog(catalog, pack.mutants)
                elif pack.kind == SOLO:
                    files = write_solo_pack(plan, pack.mutants[0], root)
                else:
                    files = list(plan.original.rule_files)
                return session.run(replace(scn, name=f"{scn.name}@{pack.label}"), catalog, rule_files=files,
                                   alertmanager_config=am, note=_run_note(pack))

            run_mutation(plan, run, result, on_attempt, on_run)

        def finish(report: Any) -> None:
            report.mutation = result.to_dict()

        notes = [f"mutation testing of {pack_label(plan.original)}: scenario names carry @batchN (every live mutant "
                 "the scenario can kill, renamed <alert>__<id>, beside the originals), @<mutant id> (that mutant "
                 "alone) or @original"]
        with Run(cfg, kind="mutate", rule_files=plan.original.rule_files, alertmanager_config=am,
                 rule_alerts=sorted(plan.original.catalog.alerts), receivers=sorted(plan.original.catalog.receivers),
                 notes=notes, finish=finish) as mutate_run:
            body(mutate_run.session())
        out = mutate_run.out
    if out.interrupted:
        result.notes.append("interrupted: the mutants not judged yet are listed as not judged")
    if out.error:
        result.notes.append(f"the run failed: {out.error}")
    return out, result


def _run_note(pack: RunPack) -> str:
    if pack.kind == ORIGINAL:
        return "run on the original packs (to compare a mutant's failure with)"
    if pack.kind == BATCH:
        return (f"run with {len(pack.mutants)} mutant(s) loaded beside the original packs, renamed: "
                + ", ".join(f"{m.renamed} ({m.description})" for m in pack.mutants))
    m = pack.mutants[0]
    return f"mutant {m.id} of {m.alert} [{m.where}] alone: {m.description}"
