"""``harness mutate``: mutation testing of alert rules. Which of a rule's thresholds, comparisons, `for`, matchers,
metrics, branches and severity does the scenario suite really pin?

The mutants come from ``harness.rules.mutants`` (one edit each; equivalent ones skipped with the reason). Then,
on one running stack, rule files switched by reload (never a restart):

1. One healthy-baseline run with every mutant that may fire more than its original loaded at once, each under
   its own alert name (``<alert>__<id>``) beside the original packs. Prometheus evaluates each rule on its own,
   so the baseline's ``silent: "*"`` judges them all in one run: a mutant that fires on a healthy stack is
   killed there (unless its original fires too). Only Prometheus-level firing is judged this way; the
   baseline checks no notification or inhibition, where mutants could interact.
2. Each mutant still alive, alone in place of its rule: the scenarios that name its alert and can kill it
   (a mutant that can only fire less cannot fail a check that the alert stays silent; a severity change
   can fail only routing, inhibition or severity-labelled checks), cheapest first, stopping at the first kill.
   Expectations are judged by the original rules (the catalog of the team's packs): a `for` x10 mutant is
   held to the original `for`'s deadline, not to its own.

A mutant is killed by a scenario when a verdict about its alert fails on the mutant and passes on the original
packs (verdicts about other alerts, and latency and SLO checks, do not count: the mutant cannot change them, so
their failures are noise). The original's verdicts come from running that scenario once on the original packs,
the first time a mutant fails it (cached); with ``trust_original`` the original is taken to pass every scenario
(true of the reference packs, whose suite must pass in CI: ``make scenarios``), which saves those runs.

Pure except ``run_mutation``'s injected scenario runner: planning, judging and rendering are unit-tested without
services.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.durations import format_duration
from harness.rules.mutants import (
    EITHER,
    LABELS,
    STRONGER,
    WEAKER,
    Mutant,
    MutantSet,
    Skipped,
    baseline_pack,
    generate_mutants,
)
from harness.scenario.catalog import Catalog
from harness.scenario.model import Expectation, Scenario
from harness.scenario.result import FAIL, ScenarioResult, Verdict
from harness.scenario.runner import scenario_warmup
from harness.scenario.suite import Plan, pack_label, plan_run

KILLED = "killed"
SURVIVED = "survived"
NOT_RUN = "not run"

ORIGINAL = "original"          # pack keys for the scenario runner
BASELINE = "baseline"

# Real seconds a scenario costs beyond its compressed warm-up and duration (quiet wait, history reset, load
# start, reloads, resolution waits): for the estimate printed before the run.
RUN_OVERHEAD_S = 12.0

_MUST_HAPPEN = ("fires", "notified", "resolves", "inhibited")


# -- what a scenario can tell about a mutant -----------------------------------------------------------


def expectations_about(scn: Scenario, alert: str) -> list[Expectation]:
    """The scenario's expectations a change of ``alert``'s rule can fail: those on the alert, an inhibition it
    is the source of, and a ``silent: "*"`` that does not exempt it."""
    expected = {e.subject for e in scn.expectations if e.kind in ("fires", "notified")}
    def about(e: Expectation) -> bool:
        if e.kind == "inhibited" and str(e.params.get("by")) == alert:
            return True
        if e.kind == "silent" and e.subject == "*":
            return alert not in expected
        return e.subject == alert and e.kind in ("fires", "silent", "resolves", "notified", "inhibited")

    return [e for e in scn.expectations if about(e)]


def names_alert(scn: Scenario, alert: str) -> bool:
    return any(e.subject != "*" for e in expectations_about(scn, alert))


def is_baseline(scn: Scenario) -> bool:
    """A healthy baseline: no fault, and every alert must stay silent."""
    return not scn.faults and any(e.kind == "silent" and e.subject == "*" for e in scn.expectations)


def cannot_kill(scn: Scenario, mutant: Mutant) -> str:
    """Why ``scn`` cannot kill ``mutant`` by construction ("" when it can)."""
    about = expectations_about(scn, mutant.alert)
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
    scenarios: tuple[Scenario, ...]               # those that can kill it, cheapest first
    cannot_kill: tuple[tuple[str, str], ...]      # (scenario, why) of those that name its alert but cannot
    on_baseline: bool                             # judged on the one healthy-baseline run of all mutants


@dataclass(frozen=True)
class MutationPlan:
    original: Plan
    mutants: MutantSet
    schedules: tuple[Schedule, ...]
    baseline: Scenario | None
    time_scale: float
    trust_original: bool = False
    notes: tuple[str, ...] = ()

    @property
    def on_baseline(self) -> list[Mutant]:
        return [s.mutant for s in self.schedules if s.on_baseline]

    def cost(self, scn: Scenario) -> float:
        return scenario_cost_s(scn, self.original.catalog, self.time_scale)

    def estimate(self) -> tuple[int, int, float, float]:
        """(fewest runs, most runs, their real seconds): fewest when every mutant dies on its first chance, most
        when none dies (then each scenario a mutant fails also runs once on the original packs)."""
        low_runs = high_runs = 0
        low_s = high_s = 0.0
        if self.on_baseline and self.baseline is not None:
            low_runs = high_runs = 1
            low_s = high_s = self.cost(self.baseline)
        originals: set[str] = set()
        for s in self.schedules:
            rest = [x for x in s.scenarios if not (s.on_baseline and x is self.baseline)]
            if rest and not s.on_baseline:
                low_runs += 1
                low_s += self.cost(rest[0])
            high_runs += len(rest)
            high_s += sum(self.cost(x) for x in rest)
            originals |= {x.name for x in rest}
        if not self.trust_original:
            extra = [x for x in self.original.scenarios if x.name in originals]
            high_runs += len(extra)
            high_s += sum(self.cost(x) for x in extra)
        return low_runs, high_runs, low_s, high_s


def schedule(mutant: Mutant, scenarios: Sequence[Scenario], baseline: Scenario | None, catalog: Catalog,
             time_scale: float) -> Schedule:
    can: list[Scenario] = []
    cannot: list[tuple[str, str]] = []
    for scn in scenarios:
        if scn is not baseline and not names_alert(scn, mutant.alert):
            continue
        why = cannot_kill(scn, mutant)
        if why:
            cannot.append((scn.name, why))
        else:
            can.append(scn)
    can.sort(key=lambda s: (scenario_cost_s(s, catalog, time_scale), s.name))
    on_baseline = baseline is not None and baseline in can and mutant.direction in (STRONGER, EITHER)
    return Schedule(mutant, tuple(can), tuple(cannot), on_baseline)


def plan_mutation(scenario_paths: Sequence[str | Path], rule_files: Sequence[str | Path],
                  alertmanager_config: str | Path, *, time_scale: float, alerts: Sequence[str] = (),
                  trust_original: bool = False) -> MutationPlan:
    """Scenarios validated, mutants generated and each mutant's scenarios chosen, before anything starts."""
    original = plan_run(scenario_paths, rule_files, alertmanager_config)
    mutants = generate_mutants(original.rule_files, alertmanager_config, alerts=alerts)
    baselines = [s for s in original.scenarios if is_baseline(s)]
    baseline = next((s for s in baselines if s.name == "healthy_baseline"), baselines[0] if baselines else None)
    notes: list[str] = []
    if baseline is None:
        notes.append("no healthy-baseline scenario (no fault, `silent: \"*\"`) among the scenarios: every mutant "
                     "runs on its own")
    schedules = tuple(schedule(m, original.scenarios, baseline, original.catalog, time_scale)
                      for m in mutants.mutants)
    return MutationPlan(original, mutants, schedules, baseline, time_scale, trust_original, tuple(notes))


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


def _key(v: Verdict) -> str:
    return f"{v.check} {v.subject}: {v.expected}"


def new_failures(mutant_run: ScenarioResult, original_run: ScenarioResult | None, alert: str) -> list[Verdict]:
    """The verdicts about ``alert`` that fail on the mutant and pass on the original (``None``: the original is
    taken to pass everything). A run that failed to run judges nothing."""
    if mutant_run.error is not None:
        return []
    base = {_key(v) for v in failures_about(original_run, alert)} if original_run is not None else set()
    return [v for v in failures_about(mutant_run, alert) if _key(v) not in base]


def baseline_kill(res: ScenarioResult, mutant: Mutant) -> Verdict | None:
    """The verdict that kills ``mutant`` on the all-mutants baseline run: its renamed alert fired while the
    original stayed silent."""
    if res.error is not None:
        return None
    fired = next((v for v in res.verdicts if v.check == "silent" and v.subject == mutant.renamed
                  and v.status == FAIL), None)
    original_fired = any(v.check == "silent" and v.subject == mutant.alert and v.status == FAIL for v in res.verdicts)
    return None if fired is None or original_fired else fired


# -- the run -------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    scenario: str
    outcome: str                   # "killed", "passed", "error", "no verdict" (the original failed it too)
    seconds: float
    detail: str = ""


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
    runs: dict[str, int] = field(default_factory=lambda: {BASELINE: 0, "mutant": 0, ORIGINAL: 0})
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
                "survived": self.count(SURVIVED), "not_run": self.count(NOT_RUN), "equivalent": len(self.skipped),
                "alerts": list(self.alerts), "packs": self.packs, "trust_original": self.trust_original,
                "runs": dict(self.runs), "seconds": self.seconds, "notes": list(self.notes),
                "outcomes": [o.to_dict() for o in self.outcomes], "skipped": [s.to_dict() for s in self.skipped]}


ScenarioRun = Callable[[str, Scenario], ScenarioResult]   # (pack key: ORIGINAL, BASELINE or a mutant id, scenario)


def new_result(plan: MutationPlan) -> MutationResult:
    return MutationResult([MutantOutcome(s.mutant, s.cannot_kill) for s in plan.schedules], plan.mutants.skipped,
                          plan.mutants.alerts, plan.trust_original, pack_label(plan.original), notes=list(plan.notes))


def run_mutation(plan: MutationPlan, run: ScenarioRun, result: MutationResult | None = None,
                 on_attempt: Callable[[MutantOutcome, Attempt], None] | None = None) -> MutationResult:
    """Judge every mutant of ``plan``, running scenarios through ``run``. ``result`` (see ``new_result``) is
    filled in as the run goes, so whoever passed it still has the verdicts so far if ``run`` raises (Ctrl-C)."""
    out = result if result is not None else new_result(plan)
    by_id = {o.mutant.id: o for o in out.outcomes}
    originals: dict[str, ScenarioResult] = {}
    started = time.monotonic()

    def timed(pack: str, scn: Scenario) -> tuple[ScenarioResult, float]:
        t = time.monotonic()
        res = run(pack, scn)
        out.runs["mutant" if pack not in (ORIGINAL, BASELINE) else pack] += 1
        out.seconds = time.monotonic() - started
        return res, time.monotonic() - t

    def note(o: MutantOutcome, a: Attempt) -> None:
        o.attempts.append(a)
        if on_attempt is not None:
            on_attempt(o, a)

    judged_on_baseline: set[str] = set()
    together = plan.on_baseline
    if together and plan.baseline is not None:
        res, took = timed(BASELINE, plan.baseline)
        if res.error is not None:
            out.notes.append(f"the all-mutants baseline run failed ({res.error}); each mutant runs on its own")
        else:
            for m in together:
                o = by_id[m.id]
                judged_on_baseline.add(m.id)
                v = baseline_kill(res, m)
                if v is None:
                    note(o, Attempt(plan.baseline.name, "passed", took, "silent on a healthy stack (with all mutants)"))
                    continue
                o.status, o.killed_by = KILLED, plan.baseline.name
                o.evidence = [f"{v.check} {v.subject}: {v.observed}"]
                note(o, Attempt(plan.baseline.name, KILLED, took, o.evidence[0]))
    for s in plan.schedules:
        o = by_id[s.mutant.id]
        if o.status == KILLED:
            continue
        for scn in s.scenarios:
            if scn is plan.baseline and s.mutant.id in judged_on_baseline:
                continue
            res, took = timed(s.mutant.id, scn)
            if res.error is not None:
                note(o, Attempt(scn.name, "error", took, res.error))
                continue
            failed = failures_about(res, s.mutant.alert)
            if not failed:
                note(o, Attempt(scn.name, "passed", took))
                continue
            original: ScenarioResult | None = None
            if not plan.trust_original:
                if scn.name not in originals:
                    originals[scn.name], _ = timed(ORIGINAL, scn)
                original = originals[scn.name]
                if original.error is not None:
                    note(o, Attempt(scn.name, "no verdict", took, f"the original packs' run failed: {original.error}"))
                    continue
            new = new_failures(res, original, s.mutant.alert)
            if not new:
                note(o, Attempt(scn.name, "no verdict", took, "the original packs fail the same checks"))
                continue
            o.status, o.killed_by = KILLED, scn.name
            o.evidence = [f"{v.check} {v.subject}: {v.observed}" for v in new]
            note(o, Attempt(scn.name, KILLED, took, "; ".join(o.evidence)))
            break
        else:
            o.status = SURVIVED
    out.seconds = time.monotonic() - started
    return out


# -- packs on disk -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Packs:
    """Rule files for each pack key, written to ``root``."""

    files: dict[str, list[Path]]

    def __getitem__(self, key: str) -> list[Path]:
        return self.files[key]


def write_packs(plan: MutationPlan, root: Path) -> Packs:
    """Each mutant's rule files (only the mutated one is new; the others are the originals) and the all-mutants
    baseline pack (the originals plus one file of renamed mutants), written under ``root``."""
    files: dict[str, list[Path]] = {ORIGINAL: list(plan.original.rule_files)}
    for m in plan.mutants.mutants:
        d = root / m.id
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for path, text in m.files:
            if path == m.file:
                target = d / Path(path).name
                target.write_text(text, encoding="utf-8")
                paths.append(target)
            else:
                paths.append(Path(path))
        files[m.id] = paths
    if plan.on_baseline:
        combined = root / "all-mutants.yml"
        combined.write_text(baseline_pack(plan.on_baseline), encoding="utf-8")
        files[BASELINE] = [*plan.original.rule_files, combined]
    return Packs(files)


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
    together = plan.on_baseline
    if together and plan.baseline is not None:
        lines.append(f"  {len(together)} mutant(s) that may fire more than their originals run together on one "
                     f"{plan.baseline.name} run, each renamed <alert>__<id>")
    low, high, low_s, high_s = plan.estimate()
    lines.append(f"  then each mutant alone, its scenarios cheapest first, stopping at the first kill: {low} to "
                 f"{high} scenario run(s) in all, about {_human(low_s)} to {_human(high_s)} at time scale "
                 f"{plan.time_scale:g}")
    lines.append("  a failure counts only if the original packs pass the same check: " + (
        "taken as given (--trust-original)" if plan.trust_original else
        "each scenario a mutant fails is run once on the original packs too"))
    unkillable = [s for s in plan.schedules if not s.scenarios]
    for s in unkillable:
        lines.append(f"  {s.mutant.id} {s.mutant.alert}: no scenario can kill it; it will survive")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)


def render_attempt(o: MutantOutcome, a: Attempt) -> str:
    m = o.mutant
    return f"{a.outcome.upper():<10} {m.id} {m.alert}: {m.description} -- {a.scenario} ({a.seconds:.0f} s)" + (
        f": {a.detail[:140]}" if a.detail and a.outcome != "passed" else "")


def render_result(res: MutationResult) -> str:
    killed, survived, not_run = res.count(KILLED), res.count(SURVIVED), res.count(NOT_RUN)
    score = res.score
    lines = ["", f"mutation score: {killed}/{killed + survived} non-equivalent mutants killed"
             + (f" ({score:.0%})" if score is not None else "")
             + f"; {len(res.skipped)} equivalent skipped" + (f"; {not_run} not run" if not_run else "")]
    if res.survivors:
        lines.append("survivors, and what kind of scenario would kill each:")
        for o in res.survivors:
            m = o.mutant
            tried = ", ".join(a.scenario for a in o.attempts) or "no scenario could"
            lines.append(f"  {m.id} {m.alert} [{m.where}] {m.description} (tried: {tried})")
            lines.append(f"      would be killed by {m.hint}")
    lines.append(f"scenario runs: {res.runs[BASELINE]} all-mutants baseline, {res.runs['mutant']} on a mutant, "
                 f"{res.runs[ORIGINAL]} on the original packs; {_human(res.seconds)}")
    lines += [f"note: {n}" for n in res.notes]
    return "\n".join(lines)


# -- on a stack ----------------------------------------------------------------------------------------


def check_packs(plan: MutationPlan, root: Path) -> None:
    """promtool on every mutant's rule at once (renamed, in one file): a mutant Prometheus would refuse fails
    here, in a second, not at its reload minutes into the run. Skipped when promtool is not installed (each
    expression was already parsed with promql-parser)."""
    import shutil

    from harness.errors import HarnessError
    from harness.rules.check import promtool_check

    if not plan.mutants.mutants or shutil.which("promtool") is None:
        return
    every = root / "every-mutant.yml"
    every.write_text(baseline_pack(plan.mutants.mutants), encoding="utf-8")
    res = promtool_check(every)
    if not res.ok:
        raise HarnessError("promtool refuses a mutant (a harness bug: please report it)", detail=res.output,
                           hint=f"the mutants are in {every}")


def run_mutate(plan: MutationPlan, cfg: Any,
               on_attempt: Callable[[MutantOutcome, Attempt], None] | None = None) -> tuple[Any, MutationResult]:
    """Run ``plan`` on one stack (rule files switched by reload) and write the report, with its mutation-testing
    section, on every path. Returns (the suite result, the mutation result)."""
    import tempfile
    from dataclasses import replace

    from harness.errors import HarnessError
    from harness.scenario.catalog import load_catalog
    from harness.scenario.suite import Session, run_session

    if cfg.backend != "local":
        raise HarnessError(f"harness mutate needs the local backend (configured: {cfg.backend})",
                           hint="it swaps each mutant in by reloading Prometheus's rule files, which only a stack the "
                                "harness runs allows; pass --backend local")
    result = new_result(plan)
    am = plan.original.alertmanager_config
    with tempfile.TemporaryDirectory(prefix="harness-mutants-") as tmp:
        root = Path(tmp)
        packs = write_packs(plan, root)
        check_packs(plan, root)
        catalogs = {ORIGINAL: plan.original.catalog}
        if BASELINE in packs.files:
            catalogs[BASELINE] = load_catalog(packs[BASELINE], am)

        def body(session: Session) -> None:
            def run(key: str, scn: Scenario) -> ScenarioResult:
                label = "all-mutants" if key == BASELINE else key
                return session.run(replace(scn, name=f"{scn.name}@{label}"), catalogs.get(key, catalogs[ORIGINAL]),
                                   rule_files=packs[key], alertmanager_config=am, note=_run_note(plan, key))

            run_mutation(plan, run, result, on_attempt)

        def finish(report: Any) -> None:
            report.mutation = result.to_dict()

        first = packs[BASELINE] if BASELINE in packs.files else packs[ORIGINAL]
        out = run_session(first, am, cfg, kind="mutate", body=body, rule_alerts=sorted(plan.original.catalog.alerts),
                          receivers=sorted(plan.original.catalog.receivers), finish=finish,
                          notes=[f"mutation testing of {pack_label(plan.original)}: scenario names carry @<mutant id> "
                                 "(@original: the original packs; @all-mutants: the one baseline run with every "
                                 "mutant that may fire more, renamed <alert>__<id>)"])
    if out.interrupted:
        result.notes.append("interrupted: mutants not judged are listed as not run")
    if out.error:
        result.notes.append(f"the run failed: {out.error}")
    return out, result


def _run_note(plan: MutationPlan, key: str) -> str:
    if key == ORIGINAL:
        return "run on the original packs (to compare a mutant's failure with)"
    if key == BASELINE:
        return f"run with all {len(plan.on_baseline)} mutants that may fire more loaded together, renamed"
    m = plan.mutants.by_id(key)
    return f"mutant {m.id} of {m.alert} [{m.where}]: {m.description}"
