"""The run lifecycle with a fake stack and runner (no services): the stack starts once, stops on every path, the
report is written on every path (success, failure, Ctrl-C, SIGTERM, a bug, a stack that cannot start), and the
SIGTERM handler that was there before the run is back after it."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.config import resolve_config
from harness.core.catalog import Catalog
from harness.core.errors import HarnessError
from harness.core.result import PASS, ScenarioResult, Verdict
from harness.scenario import run as scenario_run
from harness.scenario.run import Run

RULES = [Path("rules.yml")]
AM = Path("am.yml")


@dataclass
class FakeStack:
    clock: Any
    timeline: Any
    calls: list[str]
    urls: dict[str, str] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.calls.append("stop")


class FakeRunner:
    def __init__(self, stack: FakeStack, catalog: Any, options: Any) -> None:
        self.stack = stack

    def runs_alone(self, scn: Any) -> bool:
        return False

    def run(self, scn: Any) -> ScenarioResult:
        if isinstance(scn.action, BaseException):
            raise scn.action
        if scn.action == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        self.stack.calls.append(f"run {scn.name}")
        return ScenarioResult(name=scn.name, file=f"{scn.name}.yaml", started=0.0, ended=1.0, time_scale=10,
                              verdicts=[Verdict("fires", "X", PASS, "fires", "fired")])


@dataclass
class Scn:
    name: str
    action: Any = None


CATALOG = Catalog(alerts={}, receivers=[])


def before_the_run(signum, frame):
    raise AssertionError("the handler from before the run must not run during it")


@pytest.fixture
def world(monkeypatch, tmp_path):
    calls: list[str] = []
    start_error: list[BaseException] = []

    def start_stack(cfg, *, rules, alertmanager_config, clock, timeline):
        calls.append("start")
        if start_error:
            raise start_error[0]
        return FakeStack(clock, timeline, calls)

    monkeypatch.setattr(scenario_run, "start_stack", start_stack)
    monkeypatch.setattr(scenario_run, "ScenarioRunner", FakeRunner)
    monkeypatch.setattr(scenario_run, "check_run_dashboards", lambda stack: [])
    monkeypatch.setattr(scenario_run, "measured_terms", lambda *a: scenario_run.Measured())
    monkeypatch.setattr(scenario_run, "load_catalog", lambda *a: CATALOG)
    before = signal.signal(signal.SIGTERM, before_the_run)
    yield {"calls": calls, "start_error": start_error, "cfg": resolve_config({"reports_dir": str(tmp_path)})}
    signal.signal(signal.SIGTERM, before)


def summary(run: Run) -> dict[str, Any]:
    assert run.out.report_path is not None and run.out.report_path.is_file()
    return json.loads((run.out.report_path.parent / "summary.json").read_text())


def run_with(world, *scenarios: Scn, **kw: Any) -> Run:
    with Run(world["cfg"], kind="verify", rule_files=RULES, alertmanager_config=AM, **kw) as run:
        assert signal.getsignal(signal.SIGTERM) is not before_the_run
        for scn in scenarios:
            run.session().run(scn, CATALOG)  # type: ignore[arg-type]
    return run


def test_success_starts_the_stack_once_stops_it_and_writes_the_report(world):
    seen: list[str] = []
    run = run_with(world, Scn("a"), Scn("b"), on_result=lambda r: seen.append(r.name), notes=["a note"])
    assert world["calls"] == ["start", "run a", "run b", "stop"]
    assert run.out.ok and seen == ["a", "b"]
    doc = summary(run)
    assert doc["ok"] is True and doc["interrupted"] is False and doc["error"] is None
    assert "a note" in run.out.report_path.read_text()
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_a_harness_error_ends_the_run_with_the_error_in_the_report(world):
    run = run_with(world, Scn("a"), Scn("b", HarnessError("toxiproxy refused the fault")), Scn("c"))
    assert world["calls"] == ["start", "run a", "stop"]
    assert run.out.error == "toxiproxy refused the fault" and not run.out.ok
    assert summary(run)["error"] == "toxiproxy refused the fault"
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_ctrl_c_ends_the_run_interrupted_with_the_results_so_far(world):
    run = run_with(world, Scn("a"), Scn("b", KeyboardInterrupt()), Scn("c"))
    assert world["calls"] == ["start", "run a", "stop"]
    assert run.out.interrupted and [r.name for r in run.out.results] == ["a"]
    assert summary(run)["interrupted"] is True
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_sigterm_takes_the_ctrl_c_path(world):
    run = run_with(world, Scn("a"), Scn("b", "sigterm"), Scn("c"))
    assert world["calls"] == ["start", "run a", "stop"]
    assert run.out.interrupted and summary(run)["interrupted"] is True
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_a_bug_is_raised_after_the_stack_stopped_and_the_report_was_written(world, tmp_path):
    with pytest.raises(ZeroDivisionError):
        run_with(world, Scn("a"), Scn("b", ZeroDivisionError("bug")))
    assert world["calls"] == ["start", "run a", "stop"]
    [summary_file] = [p for p in tmp_path.glob("*/summary.json") if p.parent.name != "latest"]
    assert json.loads(summary_file.read_text())["error"] == "ZeroDivisionError: bug"
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_a_stack_that_cannot_start_is_not_started_again_and_the_report_says_so(world):
    world["start_error"].append(HarnessError("no Docker engine is reachable"))
    run = Run(world["cfg"], kind="pytest", rule_files=RULES, alertmanager_config=AM).open()
    for _ in range(2):  # the plugin asks once per scenario
        with pytest.raises(HarnessError, match="no Docker engine"):
            run.session()
    out = run.close()
    assert world["calls"] == ["start"]
    assert out.error == "the stack did not start: no Docker engine is reachable"
    assert summary(run)["error"] == out.error
    assert signal.getsignal(signal.SIGTERM) is before_the_run


def test_open_and_close_without_with_as_the_pytest_plugin_does(world):
    run = Run(world["cfg"], kind="pytest", rule_files=RULES, alertmanager_config=AM).open()
    run.session().run(Scn("a"), CATALOG)  # type: ignore[arg-type]
    assert signal.getsignal(signal.SIGTERM) is not before_the_run
    out = run.close(interrupted=True)
    assert run.close() is out  # idempotent: the stack is stopped and the report written once
    assert world["calls"] == ["start", "run a", "stop"]
    assert out.interrupted and summary(run)["interrupted"] is True
    assert signal.getsignal(signal.SIGTERM) is before_the_run
    with pytest.raises(HarnessError, match="closed"):
        run.session()


def test_finish_completes_the_report_on_every_path_and_its_failure_is_a_note(world):
    def finish(report):
        report.findings = [{"scenario": "a"}]
        raise ValueError("matrix")

    run = run_with(world, Scn("a"), Scn("b", KeyboardInterrupt()), finish=finish)
    assert run.out.findings == [{"scenario": "a"}]
    assert "completing the report failed: ValueError: matrix" in run.out.report_path.read_text()
