"""Run a set of scenarios on one stack: validate all first (``plan_run``), then run each plan's scenarios in one
``Run`` (harness.scenario.run), with the stack reset between them and the packs switched by reload.

Used by ``harness verify``, ``audit``, ``drill``, ``demo`` and ``coverage``; ``harness mutate`` and the pytest
plugin use ``Run`` directly.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.config import REPO_ROOT, RULES_DIR, Config
from harness.core.catalog import Catalog, load_catalog
from harness.core.context import ValidationContext
from harness.core.errors import HarnessError
from harness.core.model import Scenario, load_scenario
from harness.core.plan import Plan
from harness.core.result import ScenarioResult
from harness.scenario.run import Run, Session, SuiteResult, reset_stack
from harness.scenario.runner import ScenarioRunner
from harness.scenario.validate import validate_scenarios

log = logging.getLogger("harness.suite")

SCENARIOS_DIR = REPO_ROOT / "scenarios"


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
    # Lazy: the SLO check brings the load's request records; `harness verify --help` needs neither.
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
    return sorted(((named - set(catalog.alerts)) & shipped_alerts()) | records | lacking_tiers(scn, catalog))


def lacking_tiers(scn: Scenario, catalog: Catalog) -> set[str]:
    """Alerts of the loaded packs that a scenario needs with labels none of their rules carries (a page-level
    tier of an alert the pack has only as a ticket), as ``name{label=value}``. Silence asks for no tier."""
    wants: list[tuple[str, Any]] = []
    for e in scn.expectations:
        if e.kind != "silent" and e.subject in catalog.alerts and isinstance(e.params.get("labels"), Mapping):
            wants.append((e.subject, e.params["labels"]))
        if e.kind == "inhibited" and str(e.params.get("by")) in catalog.alerts and \
                isinstance(e.params.get("by_labels"), Mapping):
            wants.append((str(e.params["by"]), e.params["by_labels"]))
    return {f"{name}{{{', '.join(lacked)}}}" for name, labels in wants
            if (lacked := catalog.lacks_series(name, labels))}


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
        from harness.scenario.alertmap import load_map, map_scenarios  # lazy: only with --map

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


def run_plan(plan: Plan, cfg: Config, *, kind: str, on_result: Callable[[ScenarioResult], None] | None = None,
             findings: Callable[[Plan, list[ScenarioResult]], list[dict[str, Any]]] | None = None,
             on_start: Callable[[Any, Path], None] | None = None,
             confirm_scale: float | None = None, on_report: Callable[[Any], None] | None = None) -> SuiteResult:
    return run_plans([plan], cfg, kind=kind, on_result=on_result, findings=findings, on_start=on_start,
                     confirm_scale=confirm_scale, on_report=on_report)


def pack_label(plan: Plan) -> str:
    return f"rules {', '.join(p.name for p in plan.rule_files)}; Alertmanager config {plan.alertmanager_config.name}"


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
    with Run(cfg, kind=kind, rule_files=plans[0].rule_files, alertmanager_config=plans[0].alertmanager_config,
             rule_alerts=sorted({a for pl in plans for a in pl.catalog.alerts}),
             receivers=sorted({r for pl in plans for r in pl.catalog.receivers}),
             on_result=on_result, on_start=on_start, notes=notes, finish=finish) as run:
        body(run.session())
    return run.out


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
