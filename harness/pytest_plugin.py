"""pytest plugin: a thin layer over the harness library (registered through the pytest11 entry point).

- Options: --backend, --rules, --alertmanager-config, --time-scale.
- YAML files in a ``scenarios`` directory are collected as test items; all of them are validated together
  at the end of collection, so a bad file stops the run in under a second, before any service starts.
- Fixtures: ``stack`` (session scope, shared with YAML items; between scenarios every toxic and fault is
  removed, services restored and alerts resolved), ``faults``, ``load``, ``alerts``, ``slo``.
- A report (reports/<run-id>/) is written at session end, on failure and on interrupt too.

Nothing heavy is imported until a fixture or scenario item needs it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError

_KEY = pytest.StashKey["HarnessSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "alert-verification harness")
    group.addoption("--backend", default=None, help="stack backend: local (default), docker or external")
    group.addoption("--rules", nargs="+", default=None, metavar="FILE",
                    help="rule files to verify (default: the reference pack)")
    group.addoption("--alertmanager-config", default=None, metavar="FILE", help="Alertmanager config to verify")
    group.addoption("--time-scale", type=float, default=None, help="compress time by this factor (1 = real)")
    group.addoption("--map", default=None, metavar="FILE", help="alert and receiver map: the scenarios' reference "
                    "names in your pack's names (`harness map` proposes one)")


class HarnessSession:
    """Lazily starts one stack for the whole pytest session and collects results for the report."""

    def __init__(self, config: pytest.Config) -> None:
        from harness.config import resolve_config

        self.pytest_config = config
        self.cfg = resolve_config({"backend": config.getoption("--backend"),
                                   "time_scale": config.getoption("--time-scale")})
        rules = config.getoption("--rules")
        if rules:
            self.rule_files = [Path(r) for r in rules]
        else:
            from harness.scenario.suite import reference_rule_files

            self.rule_files = reference_rule_files()
        from harness.scenario.suite import REFERENCE_ALERTMANAGER

        self.am_config = Path(config.getoption("--alertmanager-config") or REFERENCE_ALERTMANAGER)
        self._catalog: Any = None
        self.stack: Any = None
        self.runner: Any = None
        self.results: list[Any] = []
        self.run_id = ""
        self.run_dir: Path | None = None
        self.timeline: Any = None
        self.clock: Any = None
        self.start_error: Exception | None = None
        self.notes: list[str] = []   # for the report: the alert map applied

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from harness.scenario.catalog import load_catalog

            self._catalog = load_catalog(self.rule_files, self.am_config)
        return self._catalog

    def ensure_stack(self) -> Any:
        if self.start_error is not None:
            # One failed start fails every scenario with the same error, without starting again.
            raise self.start_error
        if self.stack is None:
            from harness.clock import RunClock
            from harness.scenario.runner import ScenarioRunner
            from harness.scenario.suite import measured_terms, new_run_id, run_options, starting_config
            from harness.stack import start_stack
            from harness.timeline import Timeline

            self.run_id = new_run_id("pytest")
            self.run_dir = Path(self.cfg.reports_dir) / self.run_id
            (self.run_dir / "records").mkdir(parents=True, exist_ok=True)
            self.clock = RunClock()
            self.timeline = Timeline(path=self.run_dir / "timeline.jsonl")
            try:
                self.stack = start_stack(starting_config(self.cfg), rules=self.rule_files,
                                         alertmanager_config=self.am_config, clock=self.clock,
                                         timeline=self.timeline)
                measured = measured_terms(self.stack, self.cfg.backend, self.run_dir / "records",
                                          self.catalog.group_wait_s)
            except Exception as exc:
                self.start_error = exc
                raise
            self.runner = ScenarioRunner(self.stack, self.catalog,
                                         run_options(self.catalog, self.cfg.time_scale, self.run_dir / "records",
                                                     backend=self.cfg.backend,
                                                     terms=measured.terms, rates=measured.rates))
        return self.stack

    def reset(self) -> None:
        from harness.scenario.suite import reset_stack

        reset_stack(self.ensure_stack())

    def finish(self, interrupted: bool) -> Path | None:
        if self.run_dir is None:
            return None  # no scenario needed the stack
        from harness.report import write_report
        from harness.report.model import RunReport

        error = f"the stack did not start: {self.start_error}" if self.start_error is not None else None
        dashboards: list[Any] = []
        notes: list[str] = list(self.notes)
        if self.runner is not None and self.runner.opt.terms is not None:
            notes += [f"measured: {line}" for line in self.runner.opt.terms.describe()]
        if self.stack is not None:
            try:
                from harness.scenario.suite import check_run_dashboards

                dashboards = check_run_dashboards(self.stack)
            except Exception as exc:
                notes.append(f"dashboard check failed: {exc}")
            try:
                self.stack.stop()
            except Exception as exc:
                error = f"stopping the stack failed: {exc}"
        self.timeline.close()
        report = RunReport(run_id=self.run_id, kind="pytest", time_scale=self.cfg.time_scale,
                           started_wall=self.clock.wall_start, mono_start=self.clock.mono_start,
                           scenarios=self.results, events=self.timeline.events(),
                           records={r.name: Path(r.records_file) for r in self.results if r.records_file},
                           rule_alerts=sorted(self.catalog.alerts), receivers=sorted(self.catalog.receivers),
                           interrupted=interrupted, error=error, dashboards=dashboards, notes=notes)
        return write_report(report, Path(self.cfg.reports_dir))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a YAML scenario run against the reference stack")
    config.stash[_KEY] = HarnessSession(config)

    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:
        pass


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every collected scenario together, before anything starts."""
    yaml_items = [i for i in items if isinstance(i, ScenarioItem)]
    if not yaml_items:
        return
    from harness.scenario.suite import applicable, validation_context
    from harness.scenario.validate import validate_scenarios

    hs = config.stash[_KEY]
    try:
        catalog = hs.catalog
        if config.getoption("--map"):   # before validation, so that `applicable` sees the pack's names
            from harness.scenario.alertmap import map_items

            hs.notes += map_items(yaml_items, config.getoption("--map"), catalog)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    runnable = []
    for item in yaml_items:
        missing = applicable(item.scenario, catalog)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: the rule files lack {', '.join(missing)}"))
        else:
            runnable.append(item.scenario)
    try:
        validate_scenarios(runnable, validation_context(catalog))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    hs = session.config.stash.get(_KEY, None)
    if hs is None:
        return
    path = hs.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
    if path is not None:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"harness report: {path}")


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from harness.scenario.model import load_scenario

        try:
            scn = load_scenario(self.path)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        item = ScenarioItem.from_parent(self, name=scn.name, scenario=scn)
        item.add_marker(pytest.mark.scenario)
        for tag in scn.tags:
            item.add_marker(getattr(pytest.mark, tag.replace("-", "_")))
        yield item


class ScenarioFailed(Exception):
    pass


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        hs: HarnessSession = self.config.stash[_KEY]
        hs.reset()
        result = hs.runner.run(self.scenario)
        hs.results.append(result)
        if not result.passed:
            raise ScenarioFailed(result)
        if result.unexercised:
            # Nothing was exercised: say so in pytest's own terms (-rs lists it), not as a pass.
            pytest.skip("not exercised on this machine: " + "; ".join(f"{v.subject}: {v.observed}"
                                                                      for v in result.unexercised))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            res = excinfo.value.args[0]
            lines = [f"scenario {res.name} ({res.file})"]
            if res.error:
                lines.append(f"  run error: {res.error}")
            for v in res.verdicts:
                mark = "ok  " if v.ok else ("n/a " if v.status == "unsupported" else "FAIL")
                lat = f" [latency {v.latency:.2f}s, min {v.min_latency:.2f}s]" if v.latency is not None \
                    and v.min_latency is not None else ""
                lines.append(f"  {mark} {v.check:<9} {v.subject}: expected {v.expected}; observed {v.observed}{lat}")
            return "\n".join(lines)
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


# -- fixtures for Python scenarios ----------------------------------------------------------------

@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Any:
    """The running reference stack (started once per session, shared with YAML scenarios)."""
    hs: HarnessSession = request.config.stash[_KEY]
    return hs.ensure_stack()


@pytest.fixture
def faults(stack: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``harness.faults.Faults`` for the stack; every fault is undone after the test, pass or fail."""
    from harness.faults import Faults

    request.config.stash[_KEY].reset()
    f = Faults(stack)
    try:
        yield f
    finally:
        f.undo_all()


@pytest.fixture
def load(stack: Any, tmp_path: Path) -> Iterator[Any]:
    """Start load with ``load(profile)``; returns the handle. Stopped after the test."""
    from harness.load import run_load

    handles: list[Any] = []

    def start(profile: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("records_path", tmp_path / f"load{len(handles)}.records")
        kwargs.setdefault("run_id", stack.run_id)
        h = run_load(stack.urls["api"], profile, clock=stack.clock, **kwargs)
        handles.append(h)
        return h

    try:
        yield start
    finally:
        for h in handles:
            h.stop()


class Alerts:
    """Alert states as recorded on the run's timeline, and a Prometheus client for ad-hoc queries."""

    def __init__(self, stack: Any) -> None:
        from harness.observe.prometheus import PrometheusClient

        self.stack = stack
        self.prometheus = PrometheusClient(stack.urls["prometheus"])

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self.prometheus.alerts() if a.get("state") == "firing"}

    def wait_firing(self, name: str, timeout: float) -> float:
        """Run-clock time the alert was first seen firing; HarnessError after ``timeout`` real seconds."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if name in self.firing():
                return float(self.stack.clock.now())
            time.sleep(0.1)
        raise HarnessError(f"alert {name} did not fire within {timeout:.1f}s",
                           detail=f"firing now: {sorted(self.firing()) or 'none'}")


@pytest.fixture
def alerts(stack: Any) -> Alerts:
    return Alerts(stack)


@pytest.fixture
def slo() -> Any:
    """The pure SLO math module (harness.slo.math)."""
    from harness.slo import math as slo_math

    return slo_math
