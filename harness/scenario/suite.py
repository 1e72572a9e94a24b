"""Run a set of scenarios on one stack: validate all first, start the stack, run each with the stack
reset between them, and write the report on every path (success, failure, Ctrl-C, SIGTERM).

Used by ``harness verify``, ``harness audit``, ``harness drill`` and the pytest plugin.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from harness.config import REPO_ROOT, RULES_DIR, STACK_DIR, Config
from harness.errors import HarnessError
from harness.scenario.catalog import Catalog, load_catalog
from harness.scenario.model import Scenario, load_scenario
from harness.scenario.resolution import EventRates
from harness.scenario.result import ScenarioResult
from harness.scenario.runner import RunOptions, ScenarioRunner
from harness.scenario.timing import RealTerms
from harness.scenario.validate import ValidationContext, validate_scenarios
from harness.timeline import MARK

log = logging.getLogger("harness.suite")

# The seed guides' files as published (the audit runs these), and the corrected reference packs. The PetForce
# golden-signal rules (our transcription of a table, not published rules) are checked statically by
# `harness check`; their traffic-drop alert would fire between every two scenarios, when load stops.
SEED_RULES = ("betting-alerts.yml", "petforce-slo.yml")
REFERENCE_RULES = ("reference.yml", "reference-slo.yml")


SCENARIOS_DIR = REPO_ROOT / "scenarios"
SEED_ALERTMANAGER = STACK_DIR / "alertmanager" / "alertmanager.yml"
REFERENCE_ALERTMANAGER = STACK_DIR / "alertmanager" / "reference.yml"


def seed_rule_files() -> list[Path]:
    return [RULES_DIR / name for name in SEED_RULES]


def reference_rule_files() -> list[Path]:
    return [RULES_DIR / name for name in REFERENCE_RULES]


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.yaml")))
        elif p.is_file():
            out.append(p)
        else:
            raise HarnessError(f"no scenario file or directory at {p}", hint="pass a .yaml file or scenarios/")
    return out


def validation_context(catalog: Catalog) -> ValidationContext:
    from harness.scenario.slo_check import DEFAULT_SPEC
    from harness.slo.spec import load_slo_spec

    slos = frozenset(s.name for s in load_slo_spec(DEFAULT_SPEC).slos)
    return ValidationContext(alerts=frozenset(catalog.alerts), receivers=catalog.receivers, slo_names=slos,
                             receiver_roles=catalog.receivers_by_role, records=catalog.records)


@functools.cache
def shipped_alerts() -> frozenset[str]:
    """Alert names in every rule pack shipped with the harness (seed and reference). Read once per process: it
    is asked once per scenario, and reading the packs takes a second."""
    return frozenset(load_catalog(sorted(RULES_DIR.glob("*.yml"))).alerts)


def applicable(scn: Scenario, catalog: Catalog) -> list[str]:
    """Alerts of the shipped packs that a scenario names and the loaded packs lack (empty: it applies).

    A name found in no pack at all is not "not applicable": validation reports it as an error (a typo)."""
    named = {e.subject for e in scn.expectations
             if e.kind not in ("slo", "latency", "error_budget") and e.subject != "*"}
    named |= {str(e.params["by"]) for e in scn.expectations if e.kind == "inhibited" and "by" in e.params}
    records = {e.subject for e in scn.expectations if e.kind == "error_budget"} - set(catalog.records)
    return sorted(((named - set(catalog.alerts)) & shipped_alerts()) | records)


@dataclass
class Plan:
    """What a run will do, decided (and validated) before anything starts."""

    scenarios: list[Scenario]
    not_applicable: dict[str, list[str]]     # scenario name -> alerts missing from the rule files
    catalog: Catalog
    rule_files: list[Path]
    alertmanager_config: Path
    notes: list[str] = field(default_factory=list)   # e.g. the alert map applied (harness.scenario.alertmap)


def load_packs(rule_files: Sequence[str | Path], alertmanager_config: str | Path) -> tuple[list[Path], Catalog]:
    """The rule files (checked to exist) and what they and the Alertmanager config offer."""
    rules = [Path(p) for p in rule_files]
    for p in [*rules, Path(alertmanager_config)]:
        if not p.is_file():
            raise HarnessError(f"file not found: {p}", hint="check the --rules / --alertmanager-config paths")
    return rules, load_catalog(rules, alertmanager_config)


def plan_run(paths: Sequence[str | Path], rule_files: Sequence[str | Path], alertmanager_config: str | Path,
             *, only_applicable: bool = True, map_file: str | Path | None = None) -> Plan:
    rules, catalog = load_packs(rule_files, alertmanager_config)
    scenarios = [load_scenario(p) for p in scenario_files(paths)]
    notes: list[str] = []
    if map_file is not None:   # before validation, so that `applicable` sees the pack's names
        from harness.scenario.alertmap import load_map, map_scenarios

        mapped = map_scenarios(scenarios, load_map(map_file), catalog)
        scenarios, notes = mapped.scenarios, mapped.notes
    skipped: dict[str, list[str]] = {}
    run: list[Scenario] = []
    for scn in scenarios:
        missing = applicable(scn, catalog)
        if missing and only_applicable:
            skipped[scn.name] = missing
        else:
            run.append(scn)
    validate_scenarios(run, validation_context(catalog))
    return Plan(run, skipped, catalog, rules, Path(alertmanager_config), notes)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM takes the same clean-up path as Ctrl-C."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Real seconds to wait for quiet between scenarios when every scenario starts from an empty history.
FRESH_QUIET_TIMEOUT_S = 15.0


def run_options(catalog: Catalog, time_scale: float, records_dir: Path, *, backend: str, **kw: Any) -> RunOptions:
    """Runner options for a suite: each scenario starts from an empty history on a stack the harness
    started, and alerts whose windows cannot drain within the quiet wait are not waited for."""
    opt = RunOptions(time_scale, records_dir, fresh_history=backend != "external", **kw)
    if opt.fresh_history:
        # Every window starts empty, so whatever the last scenario left resolves within a few evaluations;
        # an alert still active after this wait fires on the healthy stack, and the scenario fails on it
        # rather than waiting a minute for it.
        opt.quiet_timeout = FRESH_QUIET_TIMEOUT_S
        return opt
    opt.sticky_alerts = catalog.sticky_alerts(opt.quiet_timeout * time_scale)
    if opt.sticky_alerts:
        log.info("not waited for between scenarios (windows longer than the quiet wait): %s",
                 ", ".join(sorted(opt.sticky_alerts)))
    return opt


# A suite's local stack starts at this scale (or the cap, if lower): slow enough that every exporter answers
# within its scrape timeout before anything is measured; each scenario then sets its own.
START_SCALE = 10.0


def starting_config(cfg: Config) -> Config:
    return replace(cfg, time_scale=min(cfg.time_scale, START_SCALE)) if cfg.backend == "local" else cfg


@dataclass(frozen=True)
class Measured:
    """What the harness measured on the stack before the suite: its real terms and its load's event rates."""

    terms: RealTerms | None = None
    rates: EventRates | None = None

    def describe(self) -> list[str]:
        return self.terms.describe() if self.terms else []


def measured_terms(stack: Any, backend: str, records_dir: Path, group_wait_s: float = 30.0) -> Measured:
    """The stack's real terms, measured on a stack the harness started (an external stack is not ours to
    crash; the docker backend has no process control): bounds then carry no real terms. Then Alertmanager's
    delivery is timed, and the stack is warmed up with load, so the first scenario does not meet cold pools
    and caches, and what its counters count per request meanwhile is kept (the events a scenario's windows
    will hold at its load rate)."""
    if backend != "local":
        log.info("real terms not measured on the %s backend: default bounds have production terms only", backend)
        return Measured()
    from harness.stack.measure import measure_delivery, measure_terms, warm_up

    terms = replace(measure_terms(stack), delivery_s=measure_delivery(stack, group_wait_s))
    return Measured(terms, warm_up(stack, records_dir))


def new_run_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:6]}"


def reset_stack(stack: Any) -> None:
    """Between scenarios: every toxic removed and every proxy enabled, every stopped service restarted."""
    import requests

    url = stack.urls.get("toxiproxy")
    if url:
        requests.post(f"{url}/reset", timeout=5).raise_for_status()
    for name in getattr(stack, "services", {}):
        try:
            proc = stack.process(name)
        except HarnessError:
            continue
        if not proc.running:
            log.warning("restarting %s, left stopped by the previous scenario", name)
            proc.start()


@dataclass
class SuiteResult:
    run_id: str
    results: list[ScenarioResult] = field(default_factory=list)
    report_path: Path | None = None
    interrupted: bool = False
    error: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)   # as the report holds them

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.error is None and all(r.confirmed_ok for r in self.results)


def run_plan(plan: Plan, cfg: Config, *, kind: str, on_result: Callable[[ScenarioResult], None] | None = None,
             findings: Callable[[Plan, list[ScenarioResult]], list[dict[str, Any]]] | None = None,
             on_start: Callable[[Any, Path], None] | None = None,
             confirm_scale: float | None = None, on_report: Callable[[Any], None] | None = None) -> SuiteResult:
    return run_plans([plan], cfg, kind=kind, on_result=on_result, findings=findings, on_start=on_start,
                     confirm_scale=confirm_scale, on_report=on_report)


def pack_label(plan: Plan) -> str:
    return f"rules {', '.join(p.name for p in plan.rule_files)}; Alertmanager config {plan.alertmanager_config.name}"


def switch_pack(stack: Any, plan: Plan) -> None:
    """Load a plan's rule files and Alertmanager config into the running stack, by reload (no restart)."""
    stack.reload_rules(plan.rule_files)
    stack.reload_alertmanager(plan.alertmanager_config)


@dataclass
class Session:
    """A started stack that runs scenarios on any rule files and Alertmanager config, switched to by reload (never
    a restart, so pools, caches and the measured real terms stay as they are). Built by ``run_session``."""

    stack: Any
    cfg: Config
    records_dir: Path
    measured: Measured
    out: SuiteResult
    rule_files: list[Path]
    alertmanager_config: Path
    on_result: Callable[[ScenarioResult], None] | None = None

    def use(self, rule_files: Sequence[Path], alertmanager_config: Path) -> None:
        """Load these packs, reloading only what differs from what is loaded."""
        rules, changed = list(rule_files), False
        if rules != self.rule_files:
            self.stack.reload_rules(rules)
            self.rule_files, changed = rules, True
        if alertmanager_config != self.alertmanager_config:
            self.stack.reload_alertmanager(alertmanager_config)
            self.alertmanager_config, changed = alertmanager_config, True
        if changed:
            self.stack.timeline.record(self.stack.clock.now(), MARK, "packs_switched",
                                       rules=[p.name for p in rules], alertmanager_config=alertmanager_config.name)

    def runner(self, catalog: Catalog) -> ScenarioRunner:
        return ScenarioRunner(self.stack, catalog, run_options(catalog, self.cfg.time_scale, self.records_dir,
                                                               backend=self.cfg.backend,
                                                               load_workers=self.cfg.load_workers,
                                                               terms=self.measured.terms, rates=self.measured.rates))

    def run(self, scn: Scenario, catalog: Catalog, *, rule_files: Sequence[Path] | None = None,
            alertmanager_config: Path | None = None, note: str | None = None) -> ScenarioResult:
        """Run one scenario on these packs (default: those loaded), judged with ``catalog``; the result joins the
        run's report."""
        self.use(self.rule_files if rule_files is None else rule_files,
                 self.alertmanager_config if alertmanager_config is None else alertmanager_config)
        reset_stack(self.stack)
        res = self.runner(catalog).run(scn)
        if note:
            res.notes.append(note)
        self.out.results.append(res)
        if self.on_result:
            self.on_result(res)
        return res


def run_plans(plans: Sequence[Plan], cfg: Config, *, kind: str,
              on_result: Callable[[ScenarioResult], None] | None = None,
              findings: Callable[[Plan, list[ScenarioResult]], list[dict[str, Any]]] | None = None,
              on_start: Callable[[Any, Path], None] | None = None, notes: Sequence[str] = (),
              confirm_scale: float | None = None, on_report: Callable[[Any], None] | None = None) -> SuiteResult:
    """Run each plan's scenarios on one stack, started with the first plan's packs; each later plan's rule
    files and Alertmanager config are switched to by reload. ``findings`` is asked once per plan, with that
    plan's results; the report holds them all. ``confirm_scale``: rerun each failed scenario at this scale
    (or its own, if lower) before its failures count; see ``confirm``. ``on_report`` gets the assembled
    RunReport (results, events, findings) before it is written, on every path, to add what it computes (the
    failure-mode matrix of a coverage run); what it raises becomes a note of the report."""
    if not plans:
        raise HarnessError("nothing to run: no plan given")
    by_plan: list[list[ScenarioResult]] = [[] for _ in plans]

    def body(session: Session) -> None:
        for i, plan in enumerate(plans):
            note = f"run on {pack_label(plan)}" if len(plans) > 1 else None
            for scn in plan.scenarios:
                by_plan[i].append(session.run(scn, plan.catalog, rule_files=plan.rule_files,
                                              alertmanager_config=plan.alertmanager_config, note=note))
            if confirm_scale:
                runner = session.runner(plan.catalog)
                for scn, res in zip(plan.scenarios, by_plan[i], strict=True):
                    if res.error is None and not res.passed:
                        reset_stack(session.stack)
                        confirm(runner, scn, res, confirm_scale)

    def finish(report: Any) -> None:
        if findings is not None:
            try:
                report.findings = [f for pl, res in zip(plans, by_plan, strict=True) for f in findings(pl, res)]
            except Exception as exc:
                report.notes.append(f"computing findings failed: {exc}")
        if on_report is not None:
            try:
                on_report(report)
            except Exception as exc:
                log.exception("completing the report failed")
                report.notes.append(f"completing the report failed: {type(exc).__name__}: {exc}")

    notes = [*notes, *(n for pl in plans for n in pl.notes),
             *(f"not applicable: {name} (rule files lack {', '.join(m)})"
               for pl in plans for name, m in pl.not_applicable.items())]
    return run_session(plans[0].rule_files, plans[0].alertmanager_config, cfg, kind=kind, body=body,
                       rule_alerts=sorted({a for pl in plans for a in pl.catalog.alerts}),
                       receivers=sorted({r for pl in plans for r in pl.catalog.receivers}),
                       on_result=on_result, on_start=on_start, notes=notes, finish=finish)


def run_session(rule_files: Sequence[Path], alertmanager_config: Path, cfg: Config, *, kind: str,
                body: Callable[[Session], None], rule_alerts: Sequence[str] = (), receivers: Sequence[str] = (),
                on_result: Callable[[ScenarioResult], None] | None = None,
                on_start: Callable[[Any, Path], None] | None = None, notes: Sequence[str] = (),
                finish: Callable[[Any], None] | None = None) -> SuiteResult:
    """Start one stack with these packs, hand it to ``body`` as a Session, and stop it and write the report on
    every path (success, failure, Ctrl-C, SIGTERM). ``finish`` may add to the report (a RunReport) before it
    is written, also on those paths."""
    from harness.clock import RunClock
    from harness.report import write_report
    from harness.report.model import RunReport
    from harness.stack import start_stack
    from harness.timeline import Timeline

    run_id = new_run_id(kind)
    out = SuiteResult(run_id)
    clock = RunClock()
    run_dir = Path(cfg.reports_dir) / run_id
    records_dir = run_dir / "records"
    records_dir.mkdir(parents=True, exist_ok=True)
    timeline = Timeline(path=run_dir / "timeline.jsonl")
    report = RunReport(run_id=run_id, kind=kind, time_scale=cfg.time_scale, started_wall=clock.wall_start,
                       mono_start=clock.mono_start, rule_alerts=list(rule_alerts), receivers=list(receivers))
    report.notes += list(notes)
    stack = None
    try:
        with sigterm_as_interrupt():
            stack = start_stack(starting_config(cfg), rules=list(rule_files), alertmanager_config=alertmanager_config,
                                clock=clock, timeline=timeline)
            measured = measured_terms(stack, cfg.backend, records_dir,
                                      load_catalog([], alertmanager_config).group_wait_s)
            report.notes += [f"measured: {line}" for line in measured.describe()]
            if on_start is not None:
                on_start(stack, records_dir)
            body(Session(stack, cfg, records_dir, measured, out, list(rule_files), alertmanager_config, on_result))
            report.dashboards = check_run_dashboards(stack)
    except KeyboardInterrupt:
        out.interrupted = True
    except HarnessError as exc:
        out.error = str(exc)
    finally:
        if stack is not None:
            try:
                stack.stop()
            except Exception as exc:
                out.error = out.error or f"stopping the stack failed: {exc}"
        timeline.close()
        report.scenarios = out.results
        report.events = timeline.events()
        report.records = {r.name: Path(r.records_file) for r in out.results if r.records_file}
        report.interrupted = out.interrupted
        report.error = out.error
        report.ended_wall = time.time()
        if finish is not None:
            try:
                finish(report)
            except Exception as exc:
                report.notes.append(f"completing the report failed: {type(exc).__name__}: {exc}")
        out.findings = report.findings
        out.report_path = write_report(report, Path(cfg.reports_dir))
    return out


def confirm(runner: ScenarioRunner, scn: Scenario, res: ScenarioResult, scale: float) -> None:
    """Rerun a failed scenario at a low scale and keep what it showed beside the first run: a failure that
    does not reproduce there came from compression, not from the rule."""
    cap = min(scale, res.time_scale)
    log.info("confirming %s at time scale <= %g (failed at %g: %s)", scn.name, cap, res.time_scale,
             ", ".join(res.failed_keys()))
    again = runner.run(replace(scn, name=f"{scn.name}.confirm"), cap=cap)
    res.confirmation = {"time_scale": again.time_scale, "passed": again.passed, "error": again.error,
                        "failed": again.failed_keys(), "verdicts": [v.to_dict() for v in again.verdicts]}
    res.notes.append(f"confirmed at time scale {again.time_scale:g}: " + (
        f"the run failed ({again.error})" if again.error else
        "every failure reproduced" if set(res.failed_keys()) <= set(again.failed_keys()) else
        f"did not reproduce: {', '.join(sorted(set(res.failed_keys()) - set(again.failed_keys())))}"))


def check_run_dashboards(stack: Any) -> list[Any]:
    """Run every provisioned dashboard panel's query over the run so far; panels with no data are listed."""
    from harness.observe.prometheus import PrometheusClient
    from harness.report.dashboards import check_dashboards, default_dashboards

    clock = stack.clock
    window = (clock.to_wall(0.0), clock.to_wall(clock.now()))
    return list(check_dashboards(default_dashboards(), PrometheusClient(stack.urls["prometheus"]), window=window))
