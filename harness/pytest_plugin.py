"""pytest plugin: a thin layer over the harness library (registered through the pytest11 entry point).

- Options: --backend, --rules, --alertmanager-config, --time-scale; resolved with the environment and
  pyproject through ``harness.config`` like every command's flags.
- YAML files in a ``scenarios`` directory are collected as test items; all of them are validated together
  at the end of collection, so a bad file stops the run in under a second, before any service starts. The
  scenarios that need the machine to themselves are run last (``alone_last``).
- Fixtures: ``stack`` (session scope, shared with YAML items; between scenarios every toxic and fault is
  removed, services restored and alerts resolved), ``faults``, ``load``, ``alerts``, ``slo``.
- The session's stack, report and SIGTERM handling are one ``harness.scenario.run.Run``: the report
  (reports/<run-id>/) is written at session end, on failure and on interrupt (Ctrl-C, SIGTERM) too.

Nothing heavy is imported until a fixture or scenario item needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError

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
    """The session's one ``Run`` (harness.scenario.run): created, and its stack started, when the first scenario or
    fixture needs it; closed at session end (stack stopped, report written, SIGTERM handler restored)."""

    def __init__(self, config: pytest.Config) -> None:
        from types import SimpleNamespace

        from harness.config import resolve_flags

        self.cfg = resolve_flags(SimpleNamespace(**{name: config.getoption(f"--{name.replace('_', '-')}")
                                                    for name in ("backend", "time_scale", "rules",
                                                                 "alertmanager_config")}))
        self._catalog: Any = None
        self.run: Any = None
        self.notes: list[str] = []   # for the report: the alert map applied

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from harness.scenario.suite import load_packs

            self._catalog = load_packs(self.cfg.rule_files, self.cfg.alertmanager_path)[1]
        return self._catalog

    def session(self) -> Any:
        """The started stack as a ``Session`` (one failed start fails every later call with the same error)."""
        if self.run is None:
            from harness.scenario.run import Run

            self.run = Run(self.cfg, kind="pytest", rule_files=self.cfg.rule_files,
                           alertmanager_config=self.cfg.alertmanager_path, rule_alerts=sorted(self.catalog.alerts),
                           receivers=sorted(self.catalog.receivers), notes=self.notes).open()
        return self.run.session()

    def ensure_stack(self) -> Any:
        return self.session().stack

    def reset(self) -> None:
        from harness.scenario.run import reset_stack

        reset_stack(self.ensure_stack())

    def finish(self, interrupted: bool) -> Path | None:
        if self.run is None:
            return None  # no scenario needed the stack
        return self.run.close(interrupted=interrupted).report_path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a YAML scenario run against the reference stack")
    config.stash[_KEY] = HarnessSession(config)


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
    alone_last(items, catalog)


def alone_last(items: list[pytest.Item], catalog: Any) -> None:
    """Move the scenarios that run alone (harness.host.quiet) after every other item, in place, each group in
    its own order. While one of them runs, every other runner (an xdist worker, an audit beside the suite)
    waits: taken last, they are one block at the end, when the others are done, rather than a wait in the
    middle of the run for each of them."""
    from harness.scenario.runner import runs_alone

    def alone(item: pytest.Item) -> bool:
        return isinstance(item, ScenarioItem) and not item.get_closest_marker("skip") \
            and runs_alone(item.scenario, catalog)

    items.sort(key=alone)   # stable: False (the others) first


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
        from harness.core.model import load_scenario

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
        result = hs.session().run(self.scenario, hs.catalog)
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
                lines += [f"         value {line}" for line in ([] if v.ok else v.value_lines())]
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
