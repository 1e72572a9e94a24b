"""One run's lifecycle, the same for every command (``verify``, ``audit``, ``drill``, ``demo``, ``mutate``,
``coverage``) and for the pytest plugin: the run's clock, timeline and report; the stack, started once (lazily)
at the suite's starting scale; its measured real terms and warm-up; a runner per catalog; SIGTERM taken as
Ctrl-C while the run is open (the previous handler restored when it closes); and the report written on every
path (success, failure, Ctrl-C, SIGTERM, a bug).

    with Run(cfg, kind="verify", rule_files=..., alertmanager_config=...) as run:
        run.session().run(scenario, catalog)
    run.out.report_path

``with`` takes Ctrl-C, SIGTERM and a HarnessError as the run's end (``out.interrupted`` / ``out.error``); any
other exception is recorded in the report and raised. The pytest plugin, which owns no ``with`` block around
the session, calls ``open()`` and ``close()`` itself.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.config import Config
from harness.core.catalog import Catalog, load_catalog
from harness.core.clock import RunClock
from harness.core.errors import HarnessError
from harness.core.model import Scenario
from harness.core.resolution import EventRates
from harness.core.result import ScenarioResult
from harness.core.timeline import MARK, Timeline
from harness.core.timing import RealTerms
from harness.host.quiet import machine
from harness.observe.prometheus import PrometheusClient
from harness.scenario.runner import RunOptions, ScenarioRunner
from harness.signals import sigterm_as_interrupt

log = logging.getLogger("harness.run")

# LAZY_ADAPTERS: the stack, its measurement and the report are imported by the functions that use them.
# This module is on the path of `harness verify --help` and of pytest's collection of scenarios (through
# harness.scenario.suite), which need none of them: importing them here cost those 113 ms (measured).


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
    from harness.stack.measure import measure_delivery, measure_terms, warm_up  # lazy: see LAZY_ADAPTERS

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


def check_run_dashboards(stack: Any) -> list[Any]:
    """Run every provisioned dashboard panel's query over the run so far; panels with no data are listed."""
    clock = stack.clock
    window = (clock.to_wall(0.0), clock.to_wall(clock.now()))
    from harness.report.dashboards import check_dashboards, default_dashboards  # lazy: see LAZY_ADAPTERS

    return list(check_dashboards(default_dashboards(), PrometheusClient(stack.urls["prometheus"]), window=window))


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


@dataclass
class Session:
    """A started stack that runs scenarios on any rule files and Alertmanager config, switched to by reload (never
    a restart, so pools, caches and the measured real terms stay as they are). Handed out by ``Run.session``."""

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
        runner = self.runner(catalog)
        alone = runner.runs_alone(scn)
        with machine(alone, on_wait=lambda why: log.info("scenario %s waits: %s", scn.name, why)) as waited:
            self.use(self.rule_files if rule_files is None else rule_files,
                     self.alertmanager_config if alertmanager_config is None else alertmanager_config)
            reset_stack(self.stack)
            res = runner.run(scn)
        if alone:
            res.notes.append(f"ran alone on this machine (it judges a latency: another runner's load would read "
                             f"as its fault); waited {waited:.1f}s for the other scenarios to finish")
        if note:
            res.notes.append(note)
        self.out.results.append(res)
        if self.on_result:
            self.on_result(res)
        return res


def start_stack(cfg: Config, *, rules: Sequence[Path], alertmanager_config: Path, clock: Any,
                timeline: Any) -> Any:
    from harness.stack import start_stack as start  # lazy: see LAZY_ADAPTERS

    return start(cfg, rules=list(rules), alertmanager_config=alertmanager_config, clock=clock, timeline=timeline)


class Run:
    """One run: its id, clock, timeline, report and stack. See the module's docstring.

    ``finish`` may add to the report (a RunReport) before it is written, on every path; what it raises becomes a
    note of the report. ``on_start`` is called with the stack and the records directory once the stack is up and
    measured (a live view attaches there)."""

    def __init__(self, cfg: Config, *, kind: str, rule_files: Sequence[Path], alertmanager_config: Path,
                 rule_alerts: Sequence[str] = (), receivers: Sequence[str] = (), notes: Sequence[str] = (),
                 on_result: Callable[[ScenarioResult], None] | None = None,
                 on_start: Callable[[Any, Path], None] | None = None,
                 finish: Callable[[Any], None] | None = None) -> None:
        self.cfg = cfg
        self.rule_files = list(rule_files)
        self.alertmanager_config = Path(alertmanager_config)
        self.on_result, self.on_start, self.finish = on_result, on_start, finish
        self.run_id = new_run_id(kind)
        self.out = SuiteResult(self.run_id)
        self.clock = RunClock()
        self.run_dir = Path(cfg.reports_dir) / self.run_id
        self.records_dir = self.run_dir / "records"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.timeline = Timeline(path=self.run_dir / "timeline.jsonl")
        from harness.report.model import RunReport  # lazy: see LAZY_ADAPTERS

        self.report = RunReport(run_id=self.run_id, kind=kind, time_scale=cfg.time_scale,
                                started_wall=self.clock.wall_start, mono_start=self.clock.mono_start,
                                rule_alerts=list(rule_alerts), receivers=list(receivers), notes=list(notes))
        self.stack: Any = None
        self._session: Session | None = None
        self._start_error: Exception | None = None
        self._signals = ExitStack()
        self._closed = False

    # -- opening and closing ------------------------------------------------------------------------
    def open(self) -> Run:
        """From now until ``close``, SIGTERM raises KeyboardInterrupt (in the main thread)."""
        self._signals.enter_context(sigterm_as_interrupt())
        return self

    def __enter__(self) -> Run:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if isinstance(exc, KeyboardInterrupt):
            self.out.interrupted = True
        elif exc is not None and exc is self._start_error:
            pass  # close() says the stack did not start, and why
        elif isinstance(exc, HarnessError):
            self.out.error = str(exc)
        elif exc is not None:
            self.out.error = f"{type(exc).__name__}: {exc}"
        self.close()
        return isinstance(exc, KeyboardInterrupt | HarnessError)

    # -- the stack, started once ------------------------------------------------------------------------
    def session(self) -> Session:
        """The started stack, as a Session (started on first use; a failed start is raised again on every later
        call, without starting again)."""
        if self._start_error is not None:
            raise self._start_error
        if self._closed:
            raise HarnessError(f"run {self.run_id} is closed: its stack is stopped")
        if self._session is None:
            try:
                self._session = self._start()
            except Exception as exc:
                self._start_error = exc
                raise
        return self._session

    def _start(self) -> Session:
        cfg = self.cfg
        # Starting and measuring a stack loads the machine: never beside a scenario that runs alone.
        with machine(False, on_wait=lambda why: log.info("the stack start waits: %s", why)):
            self.stack = start_stack(starting_config(cfg), rules=self.rule_files,
                                     alertmanager_config=self.alertmanager_config, clock=self.clock,
                                     timeline=self.timeline)
            measured = measured_terms(self.stack, cfg.backend, self.records_dir,
                                      load_catalog([], self.alertmanager_config).group_wait_s)
        self.report.notes += [f"measured: {line}" for line in measured.describe()]
        if self.on_start is not None:
            self.on_start(self.stack, self.records_dir)
        return Session(self.stack, cfg, self.records_dir, measured, self.out, list(self.rule_files),
                       self.alertmanager_config, self.on_result)

    # -- the end: stack stopped, report written -----------------------------------------------------------
    def close(self, *, interrupted: bool = False) -> SuiteResult:
        """Stop the stack (if it started) and write the report; idempotent. Restores the SIGTERM handler."""
        if self._closed:
            return self.out
        self._closed = True
        out, report = self.out, self.report
        out.interrupted = out.interrupted or interrupted
        if self._start_error is not None and out.error is None:
            out.error = f"the stack did not start: {self._start_error}"
        try:
            if self.stack is not None:
                self._stop_stack()
            self.timeline.close()
            report.scenarios = out.results
            report.events = self.timeline.events()
            report.records = {r.name: Path(r.records_file) for r in out.results if r.records_file}
            report.interrupted = out.interrupted
            report.error = out.error
            report.ended_wall = time.time()
            if self.finish is not None:
                try:
                    self.finish(report)
                except Exception as exc:
                    report.notes.append(f"completing the report failed: {type(exc).__name__}: {exc}")
            out.findings = report.findings
            from harness.report import write_report  # lazy: see LAZY_ADAPTERS

            out.report_path = write_report(report, Path(self.cfg.reports_dir))
        finally:
            self._signals.close()
        return out

    def _stop_stack(self) -> None:
        """Dashboards checked over the run (unless it was cut short), then the stack stopped; best effort each,
        never hiding the error that ended the run."""
        if not self.out.interrupted and self.out.error is None:
            try:
                self.report.dashboards = check_run_dashboards(self.stack)
            except Exception as exc:
                self.report.notes.append(f"dashboard check failed: {type(exc).__name__}: {exc}")
        try:
            self.stack.stop()
        except Exception as exc:
            self.out.error = self.out.error or f"stopping the stack failed: {exc}"
