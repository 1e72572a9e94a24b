"""Run one scenario against a running stack: precondition (stack quiet), load, warm-up, faults on the
plan, then pure verdicts over what the timeline recorded. Faults are undone and load stopped on every
path; the result is returned even when the run itself failed (``ScenarioResult.error``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.core import verdict as V
from harness.core.catalog import AlertRule, Catalog, expand_records
from harness.core.clock import RunClock
from harness.core.expectations import KINDS, Observed, expected_to_fire
from harness.core.expectations.base import FIRE, RESOLVE, fault_time
from harness.core.history import METRIC as HISTORY_METRIC
from harness.core.history import Backfill, BudgetLevels, budget_remaining, judge_budget
from harness.core.model import Expectation, FaultSpec, Scenario, share
from harness.core.promql import comparisons, read
from harness.core.protocols import AlertSource, FaultInjector, LoadDriver, Stack
from harness.core.resolution import EventRates, Need, limits, needs_of, relevant, unresolved
from harness.core.result import ERROR, FAIL, PASS, UNSUPPORTED, ScenarioResult, Verdict
from harness.core.timeline import MARK, PHASE, Timeline
from harness.core.timing import (
    EVAL_S,
    MIN_SCRAPES_PER_WINDOW,
    SCRAPE_S,
    RealTerms,
    ScaleChoice,
    Timing,
    choose_scale,
    job_intervals,
)
from harness.faults import Faults
from harness.faults.spec import KIND_SPECS
from harness.observe.alertmanager import AlertmanagerClient
from harness.observe.prometheus import PrometheusClient

if TYPE_CHECKING:
    from harness.load.profile import LoadProfile

log = logging.getLogger("harness.scenario")

# LAZY_ADAPTERS: the load generator, its request records and the SLO check are imported by the methods that
# use them. This module is on the path of `harness verify --help` and of pytest's collection of scenarios,
# which need none of them (43 ms, measured).


@dataclass
class RunOptions:
    time_scale: float
    records_dir: Path
    quiet_timeout: float = 60.0          # real seconds to wait for alerts from a previous scenario to resolve
    load_workers: int = 0                # >0: a Locust master with this many local workers
    load_start_timeout: float = 60.0     # real seconds for the load generator to make its first request
    sleep: Callable[[float], None] = time.sleep
    # Alerts whose windows are too long to drain between scenarios (e.g. a 30d error-budget average):
    # not waited for, reported as noise at the start of the next scenario.
    sticky_alerts: frozenset[str] = frozenset()
    # Start every scenario from an empty metrics history (as if Prometheus were new), so a window longer
    # than the gap between scenarios (an hour-long availability ratio is 30 s at scale 120) carries nothing
    # of the previous scenario's faults into the next. On for stacks the harness started; never on an
    # external stack, whose history is not ours to delete (a scenario's own `fresh_history` still asks).
    fresh_history: bool = False
    # Incompressible real terms measured on the running stack (harness.stack.measure); with them each
    # scenario runs at the largest scale (at most ``time_scale``) at which it still means what it says.
    terms: RealTerms | None = None
    # Events per request of the API's counters under steady load (harness.stack.measure.event_rates): with
    # them the scale also keeps every window an expected alert reads holding the events its threshold needs.
    rates: EventRates | None = None


def _sleep_until(clock: RunClock, t: float, sleep: Callable[[float], None]) -> None:
    while (left := t - clock.now()) > 0:
        sleep(min(left, 0.5))


def wait_quiet(prom: AlertSource, clock: RunClock, timeout: float, sleep: Callable[[float], None],
               ignore: frozenset[str] = frozenset(), am: AlertmanagerClient | None = None) -> list[str]:
    """Wait until Prometheus shows no pending or firing alert outside ``ignore`` (and Alertmanager holds none
    that Prometheus does not: those are resolved through its API); return every alert name still active then
    (those outside ``ignore`` are noise the scenario starts with, and fail its checks)."""
    deadline = clock.now() + timeout
    while True:
        alerts = prom.alerts()
        if am is not None:
            am.resolve_stale([a.get("labels") or {} for a in alerts if a.get("state") == "firing"])
        active = sorted({a["labels"].get("alertname", "?") for a in alerts})
        if not set(active) - ignore or clock.now() >= deadline:
            return active
        sleep(0.25)


# The longest warm-up the window rule below asks for (production seconds). Alerts with longer windows
# (budgets, an hour's availability) add nothing: their scenarios start from an empty history and state
# their margins for their own warm-up, which load that is not part of them would dilute.
MAX_WARMUP_S = 600.0
# Beyond a window's length: two scrapes (the last sample of the load's start leaves the window) and two
# evaluations (a condition it held clears, and the alert it made pending or firing resolves).
WARMUP_MARGIN_S = 2 * SCRAPE_S + 2 * EVAL_S


def scenario_warmup(scn: Scenario, catalog: Catalog) -> float:
    """Production seconds of load before the scenario's window opens: its own ``warmup``, or longer so that
    every alert it judges reads a window of steady load only. A window that still holds the first requests
    after a restart of the load (a cold pool, an expired cache: one slow sample in a sparse histogram) would
    judge that transient, not the system. Its ``for`` adds nothing: a condition the transient made true
    clears once the transient has left the window, and the pending (or firing) state clears with it."""
    judged = {e.subject for e in scn.expectations if e.kind in ("silent", "fires", "resolves", "notified")}
    names = set(catalog.alerts) if "*" in judged else judged & set(catalog.alerts)
    needs = [catalog.effective_window_s(n) + WARMUP_MARGIN_S for n in names]
    return max(scn.warmup, max((x for x in needs if x <= MAX_WARMUP_S), default=0.0))


def runs_alone(scn: Scenario, catalog: Catalog) -> bool:
    """Whether the scenario needs the machine to itself (harness.host.quiet): it judges a latency, through a
    ``latency`` budget or an alert whose rule reads a histogram quantile (QueryLatencyHigh's p95 of a few ms),
    and another runner's load on the same cores would be read as its fault."""
    if any(e.kind == "latency" for e in scn.expectations):
        return True
    alerts = set(expected_to_fire(scn, catalog))
    for e in scn.expectations:
        if KINDS[e.kind].judges_state:
            alerts |= set(catalog.alerts) if e.subject == "*" else {e.subject}
    return any("histogram_quantile" in read(expand_records(catalog.rule(a).expr, catalog.record_exprs)).functions
               for a in sorted(alerts) if a in catalog.alerts)


class ScenarioRunner:
    def __init__(self, stack: Stack, catalog: Catalog, options: RunOptions, *, prometheus: AlertSource | None = None,
                 faults_factory: Callable[[Stack], FaultInjector] | None = None,
                 load_factory: Callable[[Scenario, Path], LoadDriver] | None = None) -> None:
        self.stack = stack
        self.catalog = catalog
        self.opt = options
        self.timing = Timing(options.time_scale, terms=options.terms or RealTerms())
        self.prom: AlertSource = prometheus or PrometheusClient(stack.urls["prometheus"])
        # Only on a stack the harness started: an external Alertmanager's alerts are not ours to resolve.
        self.am = AlertmanagerClient(stack.urls["alertmanager"]) if prometheus is None \
            and options.fresh_history and "alertmanager" in stack.urls else None
        self._faults_factory = faults_factory
        self._load_factory = load_factory
        self._slo_rows: list[dict[str, Any]] = []
        self._backfill: Backfill | None = None

    # -- the run ---------------------------------------------------------------------------------
    def run(self, scn: Scenario, *, cap: float | None = None) -> ScenarioResult:
        """Run ``scn`` at the largest meaningful scale, at most ``cap`` (default: the run's time scale)."""
        clock: RunClock = self.stack.clock
        timeline: Timeline = self.stack.timeline
        begin = clock.now()
        result = ScenarioResult(name=scn.name, file=scn.file, started=begin, ended=begin,
                                time_scale=self.opt.time_scale)
        records_path = self.opt.records_dir / f"{scn.name}.records"
        fault_times: dict[str, tuple[float, float | None]] = {}
        achieved: dict[str, dict[str, Any]] = {}
        load = None
        faults = None
        t0 = begin
        if scn.expectations and all(e.kind == "unsupported" for e in scn.expectations):
            result.verdicts = self.evaluate(scn, timeline, begin, begin, fault_times, records_path)
            result.notes.append("not run: none of its expectations can be exercised on this machine")
            return result
        try:
            self._apply_scale(scn, result, self.opt.time_scale if cap is None else cap)
            timeline.record(clock.now(), MARK, "time_scale", scenario=scn.name, scale=result.time_scale)
            if scn.fresh_history or self.opt.fresh_history or scn.history is not None:
                self.prom.delete_all_series()
                timeline.record(clock.now(), MARK, "fresh_history", scenario=scn.name)
            self._backfill = None
            if scn.history is not None:
                self._backfill = self.backfill(scn, result)
            active = wait_quiet(self.prom, clock, self.opt.quiet_timeout, self.opt.sleep, self.opt.sticky_alerts,
                                am=self.am)
            noise = [a for a in active if a not in self.opt.sticky_alerts]
            carried = [a for a in active if a in self.opt.sticky_alerts]
            if noise:
                timeline.record(clock.now(), MARK, "noise_at_start", scenario=scn.name, alerts=noise)
                result.notes.append(f"still active when the scenario started (did not resolve within "
                                    f"{self.opt.quiet_timeout:.0f}s): {', '.join(noise)}")
            if carried:
                timeline.record(clock.now(), MARK, "carried_over", scenario=scn.name, alerts=carried)
                result.notes.append(f"active from earlier scenarios, not waited for (windows longer than the "
                                    f"quiet wait): {', '.join(carried)}")
            load = self._start_load(scn, records_path)
            if load is not None:
                result.records_file = str(records_path)
            timeline.record(clock.now(), PHASE, "warmup", scenario=scn.name)
            self.opt.sleep(self.timing.real(self.warmup(scn)))
            t0 = clock.now()
            timeline.record(t0, PHASE, "scenario", scenario=scn.name, duration=self.timing.real(scn.duration))
            faults = self._faults()
            self._play_faults(scn, t0, faults, fault_times, achieved)
            _sleep_until(clock, t0 + self.timing.real(scn.duration), self.opt.sleep)
            # With the load still running (it runs past the last resolution bound: resolution_tail), so an
            # alert cannot "resolve" merely because traffic stopped.
            self._await_resolutions(scn, timeline, fault_times)
        except Exception as exc:  # the run failed; keep what was recorded and say why
            log.exception("scenario %s failed to run", scn.name)
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            if faults is not None:
                try:
                    faults.undo_all()
                except Exception as exc:
                    result.error = result.error or f"undoing faults failed: {exc}"
            if load is not None:
                try:
                    load.stop()
                except Exception as exc:
                    result.error = result.error or f"stopping load failed: {exc}"
            end = clock.now()
            now = max(t0, end)
            for f in scn.faults:
                start, stop = fault_times.get(f.id, (None, None))
                if start is not None:
                    entry = {"id": f.id, "kind": f.kind, "target": f.target, "start": start,
                             "end": stop if stop is not None else now, "params": dict(f.params)}
                    if f.id in achieved:
                        entry["achieved"] = achieved[f.id]
                    result.faults.append(entry)
            if load is not None:
                self._ground_truth_achieved(result.faults, records_path)
        result.ended = clock.now()
        if result.error is None:
            self._slo_rows = []
            result.verdicts = self.attach_evidence(
                self.evaluate(scn, timeline, t0, result.ended, fault_times, records_path), t0, result.ended)
            result.slo = self._slo_rows
        return result

    def backfill(self, scn: Scenario, result: ScenarioResult) -> Backfill:
        """The scenario's history, written into Prometheus up to now at this scenario's scale."""
        assert scn.history is not None
        clock = self.stack.clock
        # Samples as scraped, or sparser while every window over the counter holds MIN_SCRAPES_PER_WINDOW
        # (a 30-day history at scrape cadence is 170 000 samples a series: half a minute of promtool).
        shortest = min((w for _, metric, w in self.catalog.windows() if metric == HISTORY_METRIC), default=300.0)
        interval = max(self.timing.scrape_s, shortest / MIN_SCRAPES_PER_WINDOW)
        plan = Backfill.plan(scn.history, load_rate=scn.load.rate, scale=self.timing.scale,
                             end=clock.to_wall(clock.now()), interval_s=self.timing.real(interval))
        self.stack.backfill(plan.openmetrics(), start=plan.start, end=plan.end, step_s=plan.interval_s)
        total, bad = plan.counts(plan.start, plan.end)
        self.stack.timeline.record(clock.now(), MARK, "history", scenario=scn.name, requests=total, bad=bad,
                                   start=plan.start, end=plan.end, good_ratio=scn.history.good_ratio)
        result.notes.append(f"history: {total:,.0f} requests over the {scn.history.window_s / 86400:g}-day window "
                            f"before the scenario ({plan.end - plan.start:,.0f} s at scale {self.timing.scale:g}), "
                            f"{bad:,.0f} of them bad ({1 - scn.history.good_ratio:.3%})")
        return plan

    def budget_verdicts(self, scn: Scenario, e: Expectation, records_path: Path, t0: float,
                         end: float) -> list[Verdict]:
        plan = self._backfill
        if plan is None or scn.history is None:
            return [Verdict("error_budget", e.subject, ERROR, "a backfilled history", "the history was not written")]
        from harness.load.records import read_records  # lazy: see LAZY_ADAPTERS

        clock = self.stack.clock
        objective = share(e.params["objective"], e.where, "error_budget.objective")
        rec = read_records(records_path) if records_path.exists() else None
        ends = (np.array([clock.to_wall(clock.from_monotonic(x)) for x in rec.end]) if rec is not None
                else np.array([]))
        seen = rec.status > 0 if rec is not None else np.array([], dtype=bool)
        bad = rec.status >= 500 if rec is not None else np.array([], dtype=bool)
        window = self.timing.real(scn.history.window_s)

        def truth(t: float) -> float:
            h_total, h_bad = plan.counts(t - window, t)
            live = (ends > t - window) & (ends <= t) & seen
            return budget_remaining(h_total + float(live.sum()), h_bad + float((live & bad).sum()), objective)

        def rule(t: float) -> float | None:
            got = self.prom.query(e.subject, at=clock.to_wall(t))
            return got[0].value if got else None

        levels = BudgetLevels(truth(clock.to_wall(t0)), truth(clock.to_wall(end)), rule(t0), rule(end))
        return judge_budget(e.subject, levels, consumed=share(e.params["consumed"], e.where, "error_budget.consumed"),
                            tolerance=share(e.params.get("tolerance", 0.01), e.where, "error_budget.tolerance"),
                            start=share(e.params["start"], e.where, "error_budget.start") if "start" in e.params
                            else None)

    def _faults(self) -> FaultInjector:
        if self._faults_factory is not None:
            return self._faults_factory(self.stack)
        return Faults(self.stack)

    def _start_load(self, scn: Scenario, records_path: Path) -> LoadDriver | None:
        if scn.load.profile == "none" or "api" not in self.stack.urls:
            return None
        if self._load_factory is not None:
            return self._load_factory(scn, records_path)
        from harness.load import run_load  # lazy: see LAZY_ADAPTERS

        profile = self.load_profile(scn)
        run = run_load(self.stack.urls["api"], profile, records_path=records_path, clock=self.stack.clock,
                       locustfile=scn.load.locustfile, workers=self.opt.load_workers,
                       timeline=self.stack.timeline, run_id=self.stack.run_id)
        try:
            run.wait_flowing(self.opt.load_start_timeout)  # the warm-up starts when the load does
        except BaseException:
            run.stop()
            raise
        return run

    def load_profile(self, scn: Scenario) -> LoadProfile:
        """The scenario's load in real seconds: its shape over warm-up and duration, then its last level held
        until the last resolution can be judged. With no traffic a ratio or a quantile has no value, and an
        alert on it "resolves" though nothing did. 30 s more cover a fault undone late (a restart); the load is
        stopped once the scenario is judged, so they cost nothing."""
        from harness.load.profile import profile_from_spec  # lazy: see LAZY_ADAPTERS

        return profile_from_spec(scn.load.profile, rate=scn.load.rate, users=scn.load.users,
                                 duration=self.timing.real(self.warmup(scn) + scn.duration),
                                 params=dict(scn.load.params), tail_s=self.resolution_tail(scn) + 30.0)

    def _ground_truth_achieved(self, faults: list[dict[str, Any]], records_path: Path) -> None:
        """Add what the raw request records say each calibrated fault achieved (an error ratio) to its entry."""
        from harness.faults.achieved import from_records  # lazy: see LAZY_ADAPTERS
        from harness.load.records import read_records

        try:
            rec = read_records(records_path)
        except Exception as exc:
            log.warning("no ground truth for the faults' achieved levels: %s", exc)
            return
        mono0 = self.stack.clock.mono_start
        for entry in faults:
            truth = from_records(entry["kind"], entry["params"], rec.between(mono0 + entry["start"],
                                                                              mono0 + entry["end"]))
            if truth:
                entry.setdefault("achieved", {})["ground_truth"] = truth

    def _play_faults(self, scn: Scenario, t0: float, faults: Any, times: dict[str, tuple[float, float | None]],
                     achieved: dict[str, dict[str, Any]] | None = None) -> None:
        """Enter and exit each fault at its planned time (in order); the actual times are what verdicts use.
        What each fault achieved (measured on the component) goes into ``achieved``."""
        clock: RunClock = self.stack.clock
        plan: list[tuple[float, int, FaultSpec]] = []
        for f in scn.faults:
            plan.append((t0 + self.timing.real(f.start), 1, f))
            plan.append((t0 + self.timing.real(f.end), 0, f))
        plan.sort(key=lambda p: (p[0], p[1]))
        active: dict[str, Any] = {}
        try:
            for at, is_start, f in plan:
                _sleep_until(clock, at, self.opt.sleep)
                if is_start:
                    ctx = faults.from_spec(f.kind, f.target, dict(f.params), fault_id=f.id)
                    started = clock.now()
                    ctx.__enter__()
                    active[f.id] = ctx
                    times[f.id] = (started, None)
                else:
                    ctx = active.pop(f.id)
                    ctx.__exit__(None, None, None)
                    times[f.id] = (times[f.id][0], clock.now())
                    _keep_achieved(achieved, f.id, ctx)
        finally:
            for fid, ctx in active.items():
                try:
                    ctx.__exit__(None, None, None)
                finally:
                    times[fid] = (times[fid][0], clock.now())
                    _keep_achieved(achieved, fid, ctx)

    # -- verdicts --------------------------------------------------------------------------------
    def evaluate(self, scn: Scenario, timeline: Timeline, t0: float, end: float,
                 fault_times: dict[str, tuple[float, float | None]], records_path: Path) -> list[Verdict]:
        events = timeline.events_with_state(t0 - 1.0)
        out: list[Verdict] = []
        seen = Observed(scn, events, t0, end, fault_times, records_path, expected_to_fire(scn, self.catalog))
        for e in scn.expectations:
            try:
                out.extend(KINDS[e.kind].evaluate(self, e, seen))
            except Exception as exc:
                out.append(Verdict(e.kind, e.subject, ERROR, "evaluable", f"{type(exc).__name__}: {exc}"))
        return out

    EVIDENCE_POINTS = 60

    def attach_evidence(self, verdicts: list[Verdict], t0: float, end: float) -> list[Verdict]:
        """For each failed alert expectation: the rule as Prometheus evaluated it (time-scaled), and what the
        value side of its comparison returned over the verdict's window, on the run clock."""
        failed = {id(v) for v in verdicts if v.status == FAIL and v.check in ("fires", "silent", "resolves")
                  and v.subject in self.catalog.alerts}
        if not failed:
            return verdicts
        try:
            loaded = [r for g in self.prom.rules() for r in g.get("rules", [])
                      if r.get("type") == "alerting"]
        except Exception as exc:
            return [replace(v, evidence={**v.evidence, "evidence_error": f"{type(exc).__name__}: {exc}"})
                    if id(v) in failed else v for v in verdicts]
        out = []
        for v in verdicts:
            if id(v) not in failed:
                out.append(v)
                continue
            a, b = v.window or (t0, end)
            evidence: dict[str, Any] = dict(v.evidence)
            for i, rule in enumerate(r for r in loaded if r.get("name") == v.subject):
                key = "" if i == 0 else f" ({i + 1})"
                expr = str(rule.get("query", ""))
                evidence[f"promql{key}"] = expr
                if rule.get("labels"):
                    evidence[f"rule labels{key}"] = rule["labels"]
                for j, (value, condition) in enumerate(comparisons(expr)):
                    evidence[f"condition{key}" + ("" if j == 0 else f" [{j + 1}]")] = condition
                    evidence[f"values of {value}{key}"] = self._values(value, a, b)
            out.append(replace(v, evidence=evidence))
        return out

    def _values(self, expr: str, a: float, b: float) -> Any:
        clock: RunClock = self.stack.clock
        step = max((b - a) / self.EVIDENCE_POINTS, 0.05)
        try:
            series = self.prom.query_range(expr, clock.to_wall(a), clock.to_wall(b), step)
        except Exception as exc:
            return f"query failed: {type(exc).__name__}: {exc}"
        if not series:
            return "no data: the expression returned no series in this window"
        return [{"series": labels, "t_v": [[round(clock.from_wall(t), 2), v] for t, v in points]}
                for labels, points in series]

    def _await_resolutions(self, scn: Scenario, timeline: Timeline,
                           fault_times: dict[str, tuple[float, float | None]]) -> None:
        """Keep observing past the scenario's end while a ``resolves`` expectation is still open: a fault
        that took long to apply or undo ends late, and its alert may resolve after the scenario's end."""
        clock: RunClock = self.stack.clock
        for e in scn.expectations:
            if e.kind != "resolves":
                continue
            try:
                since = fault_time(scn, e, fault_times, 1)
            except RuntimeError:
                continue  # reported by the verdict itself
            within = self.within(scn, e)
            while clock.now() < since + within:
                verdict = V.resolves_within(timeline.events_with_state(since - 1.0), e.subject, since=since,
                                            within=within, labels=e.params.get("labels"))
                if verdict.ok:
                    break
                self.opt.sleep(0.25)

    def resolution_tail(self, scn: Scenario) -> float:
        """Real seconds past the scenario's end that its ``resolves`` checks may still be open, by the planned
        fault times (``_await_resolutions`` waits that long at most, plus any delay in undoing a fault)."""
        tail = 0.0
        for e in scn.expectations:
            if e.kind != "resolves":
                continue
            fault = scn.fault(e.params.get("after"))
            if fault is not None:
                tail = max(tail, self.timing.real(fault.end - scn.duration) + self.within(scn, e))
        return tail

    def within(self, scn: Scenario, e: Expectation) -> float:
        """Real seconds allowed: the scenario's own bound, or the default's production terms compressed plus
        the measured real terms."""
        if "within" in e.params:
            return self.timing.real(float(e.params["within"]))
        return self.bound_for(scn, str(KINDS[e.kind].bound), e.subject)

    def bound_for(self, scn: Scenario, bound: str, alert: str) -> float:
        production_s, real_s = self.default_bound_of(scn, bound, alert)
        return self.timing.real(production_s) + real_s

    def poll_interval(self) -> float:
        return float(getattr(getattr(self.stack, "recorder", None), "interval_s", 0.0))

    def default_bound(self, scn: Scenario, e: Expectation) -> tuple[float, float]:
        """(production seconds, real seconds) of the default bound of a fires/resolves/notified check."""
        return self.default_bound_of(scn, str(KINDS[e.kind].bound), e.subject)

    def default_bound_of(self, scn: Scenario, bound: str, alert: str) -> tuple[float, float]:
        """(production seconds, real seconds) of ``alert``'s default ``bound`` (FIRE, RESOLVE or NOTIFY)."""
        tm, rule, down = self.timing, self.catalog.rule(alert), down_services(scn)
        expr = self._expr(rule)
        if bound == FIRE:
            return tm.default_fire_within(rule), tm.fire_real_s(down, expr)
        if bound == RESOLVE:
            return tm.default_resolve_within(rule), tm.resolve_real_s(down, expr)
        return tm.default_fire_within(rule) + self.catalog.group_wait_s, tm.notify_real_s(down, expr)

    def default_bounds(self, scn: Scenario) -> list[tuple[str, float, float]]:
        """(what, production seconds, real seconds) of every default bound the scenario checks."""
        return [(f"{e.kind} {e.subject}", *self.default_bound(scn, e)) for e in scn.expectations
                if KINDS[e.kind].bound is not None and "within" not in e.params
                and e.subject in self.catalog.alerts]

    MAX_WARMUP_S = MAX_WARMUP_S

    def warmup(self, scn: Scenario) -> float:
        """Production seconds of load before the scenario's window opens (``scenario_warmup``)."""
        return scenario_warmup(scn, self.catalog)

    def _expr(self, rule: AlertRule) -> tuple[str, ...]:
        """The rule's expression and those of the recording rules it reads (they are part of it)."""
        return expand_records(rule.expr, self.catalog.record_exprs)

    def choose_scale(self, scn: Scenario, cap: float | None = None) -> ScaleChoice:
        return choose_scale(self.opt.time_scale if cap is None else cap, scenario_max=scn.max_time_scale,
                            terms=self.opt.terms, down=down_services(scn), bounds=self.default_bounds(scn),
                            windows=self.catalog.windows(), events=self.event_limits(scn))

    def runs_alone(self, scn: Scenario) -> bool:
        return runs_alone(scn, self.catalog)

    def judged_needs(self, scn: Scenario) -> list[tuple[Need, Any]]:
        """The event needs of every alert the scenario judges, with the `labels:` of the expectation (the
        series groups it judges)."""
        to_fire = expected_to_fire(scn, self.catalog)
        out: list[tuple[Need, Any]] = []
        for e in scn.expectations:
            if not KINDS[e.kind].judges_state:
                continue
            names = sorted(set(self.catalog.alerts) - to_fire) if e.subject == "*" else [e.subject]
            labels = e.params.get("labels")
            for n in names:
                if n in self.catalog.alerts:
                    out += [(x, labels) for x in relevant(needs_of(n, self.catalog.rule(n).expr), labels)
                            if (x, labels) not in out]
        return out

    def event_limits(self, scn: Scenario) -> list[tuple[float, str]]:
        """(largest scale, why) at which each window the scenario judges holds the events its threshold needs,
        at the scenario's constant request rate (other load profiles are judged after the run only)."""
        if self.opt.rates is None or scn.load.profile != "constant_rate":
            return []
        rates = self.opt.rates
        return list(dict.fromkeys(x for need, labels in self.judged_needs(scn)
                                  for x in limits([need], rates, scn.load.rate, labels)))

    def silent(self, events: list[Any], alert: str, labels: Any, start: float, stop: float, *,
                pinned: bool) -> Verdict:
        """``stays_silent``, where firing that began on a window too sparse to resolve the threshold is not
        judged (or, when the check names exactly that series group, inconclusive)."""
        verdict = V.stays_silent(events, alert, start=start, end=stop, labels=labels)
        if verdict.ok:
            return verdict
        unjudged = self.sparse_firing(events, alert, labels, start, stop)
        named = [why for ident, why in unjudged if pinned and ident == dict(labels or {})]
        if named:
            return Verdict("silent", alert, FAIL, f"not firing in [{start:.2f}s, {stop:.2f}s], on windows that "
                           "resolve the threshold", "inconclusive: " + "; ".join(named) +
                           " (lower the scenario's max_time_scale or raise its load rate)", window=(start, stop))
        return V.stays_silent(events, alert, start=start, end=stop, labels=labels, unjudged=unjudged)

    def sparse_firing(self, events: list[Any], alert: str, labels: Any, start: float,
                      stop: float) -> list[tuple[dict[str, str], str]]:
        """(labels, why) of each firing series of ``alert`` in [start, stop] whose condition began (``for``
        before it fired) on a window holding fewer events than its threshold needs, asked of Prometheus at
        that instant, at this scenario's scale."""
        rule = self.catalog.rule(alert)
        needs = relevant(needs_of(alert, rule.expr), labels)
        out: list[tuple[dict[str, str], str]] = []
        clock = self.stack.clock
        for iv in V.alert_intervals(events, alert, labels):
            if not needs or not iv.overlaps(start, stop):
                continue
            began = max(iv.start - self.timing.real(rule.for_s), min(iv.start, start))
            for need in relevant(needs, iv.labels):
                try:
                    got = self.prom.query(need.count_expr(self.timing.real(need.window_s)), at=clock.to_wall(began))
                except Exception as exc:
                    log.warning("events of %s not counted, judged as they are: %s", need.describe(), exc)
                    continue
                held = {need.group_of(x.labels): x.value for x in got}
                group = need.group_of(iv.labels)
                for g, why in unresolved(need, {group: held.get(group, 0.0)}).items():
                    out.append((need.identity(g), f"{why} when it began at t={began:.2f}s"))
        return out

    def _apply_scale(self, scn: Scenario, result: ScenarioResult, cap: float) -> None:
        """Run this scenario at its own scale: the stack's rules, scrape and Alertmanager timers follow."""
        choice = self.choose_scale(scn, cap)
        if choice.refused:
            raise RuntimeError(f"refused: {choice.refused}")
        scale = choice.scale
        slow = job_intervals(scale, self.opt.terms.scrape_floors(down_services(scn))) if self.opt.terms else {}
        current = (float(getattr(self.stack, "time_scale", scale)), getattr(self.stack, "job_intervals", {}))
        if (scale, slow) != current:
            setter = getattr(self.stack, "set_time_scale", None)
            if setter is None:
                result.notes.append(f"this stack cannot change its time scale; runs at {current[0]:g} where "
                                    f"{scale:g} was chosen")
                scale = current[0]
            else:
                setter(scale, job_intervals=slow)
        if slow:
            result.notes.append("scraped less often so their exporters can answer: " + ", ".join(
                f"job {job} every {s:.2f} s" for job, s in slow.items()))
        self.timing = Timing(scale, terms=self.opt.terms or RealTerms())
        result.time_scale = scale
        result.notes.append(f"time scale {scale:g}: " + "; ".join(choice.limits[:3]))
        if choice.under_resolved:
            result.notes.append("windows too sparse at any affordable scale, judged on the events they hold: "
                                + "; ".join(choice.under_resolved))
        log.info("%s: time scale %g (%s)", scn.name, scale, choice.limits[0])

    def latencies(self, records_path: Path, endpoint: str, t0: float, end: float) -> np.ndarray:
        """Ground-truth latencies (from the intended start) of responses to ``endpoint`` in the window."""
        from harness.load.records import read_records  # lazy: see LAZY_ADAPTERS

        mono0 = self.stack.clock.mono_start
        rec = read_records(records_path).between(mono0 + t0, mono0 + end).for_endpoints([endpoint])
        return np.asarray(rec.latency[rec.status > 0])

    def slo_verdicts(self, scn: Scenario, e: Expectation, records_path: Path, t0: float,
                      end: float) -> list[Verdict]:
        from harness.scenario.slo_check import check_slo  # lazy: see LAZY_ADAPTERS

        verdicts, rows = check_slo(self.stack, e, records_path, t0, end, time_scale=self.timing.scale,
                                   scrape_interval_s=self.timing.real(self.timing.scrape_s),
                                   records=self.catalog.records)
        self._slo_rows.extend(rows)
        return verdicts


def _keep_achieved(achieved: dict[str, dict[str, Any]] | None, fault_id: str, fault: Any) -> None:
    level = getattr(fault, "achieved", None)
    if achieved is not None and isinstance(level, dict) and level:
        achieved[fault_id] = dict(level)


def down_services(scn: Scenario) -> list[str]:
    """Services a scenario's faults take down (their exporters then answer for a service that is gone)."""
    return sorted({f.target for f in scn.faults if f.target and f.kind in KIND_SPECS and KIND_SPECS[f.kind].takes_down})


def passed(verdicts: list[Verdict]) -> bool:
    return all(v.status in (PASS, UNSUPPORTED) for v in verdicts)
