"""``harness coverage``: run the failure-mode catalogue against the given rules and Alertmanager config, with no
expectations by name, and show for each failure mode what fired, who was notified and whether anyone was paged;
for each alert which modes exercised it. Exit 1 when a mode the criteria file says must page (or notify) did not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from harness.config import resolve_flags
from harness.core.catalog import Catalog
from harness.core.durations import format_whole
from harness.core.matrix import Matrix, ModeRow, compute_matrix, mode_row
from harness.core.plan import Plan
from harness.core.result import ScenarioResult
from harness.scenario.criteria import DEFAULT_CRITERIA, Criteria, judge, load_criteria
from harness.scenario.failure_modes import CATALOGUE, FailureModes, load_failure_modes, observing_every_alert
from harness.scenario.run import SuiteResult
from harness.scenario.suite import load_packs, run_plan, validation_context
from harness.scenario.validate import validate_scenarios


def plan_coverage(modes: FailureModes, rule_files: Sequence[str | Path], alertmanager_config: str | Path) -> Plan:
    """Every mode, watching every alert of the rules, validated against them before anything starts."""
    rules, catalog = load_packs(rule_files, alertmanager_config)
    watched = [observing_every_alert(m) for m in modes.modes]
    validate_scenarios(watched, validation_context(catalog))
    return Plan(watched, {}, catalog, rules, Path(alertmanager_config))


def describe_row(row: ModeRow) -> str:
    """One line: what fired, who heard, whether someone was paged."""
    if not row.ran:
        return f"did not run: {row.error}"
    fired = ", ".join(f.alert + ("?" if not f.judged else "") for f in row.firings) or "no alert"
    heard = f"notified {', '.join(row.receivers)}" if row.receivers else "notified nobody"
    paged = f"paged after {format_whole(row.time_to_page_s)}" if row.time_to_page_s is not None else "paged nobody"
    return f"fired {fired}; {heard}; {paged}"


class CoverageRun:
    """The hooks of one coverage run: progress per mode (from the stack's timeline so far), and at the end the
    matrix, judged against the criteria, added to the report. The watch over every alert is no expectation: its
    verdicts leave the results once the matrix has read them."""

    def __init__(self, modes: FailureModes, criteria: Criteria, catalog: Catalog, *, out: TextIO) -> None:
        self.modes = modes
        self.criteria = criteria
        self.catalog = catalog
        self.out = out
        self.stack: Any = None
        self.matrix: Matrix | None = None

    def attach(self, stack: Any, records_dir: Path) -> None:
        self.stack = stack

    def progress(self, res: ScenarioResult) -> None:
        events = self.stack.timeline.events() if self.stack is not None else []
        row = mode_row(self.modes.mode(res.name), res, events, self.catalog)
        print(f"{res.name} (scale {res.time_scale:g}, {res.ended - res.started:.0f}s): {describe_row(row)}",
              file=self.out, flush=True)

    def complete(self, report: Any) -> None:
        matrix = judge(self.criteria, compute_matrix(self.modes.modes, report.scenarios, report.events, self.catalog))
        for res in report.scenarios:
            row = matrix.mode(res.name)
            res.verdicts = []
            if row is not None and row.ran:
                res.notes.append(f"failure mode: {describe_row(row)}")
        report.failure_modes = matrix
        self.matrix = matrix


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness coverage", description="Run the failure-mode catalogue (every fault "
                                "the stack can inject, and a healthy baseline) against your rule files and "
                                "Alertmanager config: for each failure mode, which alerts fired, how fast, at which "
                                "severity, who was notified and whether anyone was paged; for each alert, which "
                                "modes exercised it. Exit 1 when a mode the criteria say must page (or notify) "
                                "did not.")
    p.add_argument("--rules", nargs="+", metavar="FILE", help="rule files (default: as configured; `harness config`)")
    p.add_argument("--alertmanager-config", metavar="FILE", help="Alertmanager config (default: as "
                   "configured)")
    p.add_argument("--criteria", metavar="FILE", help=f"which modes must page or notify (default: "
                   f"{DEFAULT_CRITERIA.relative_to(DEFAULT_CRITERIA.parents[1])})")
    p.add_argument("--catalogue", metavar="FILE", help=f"the failure-mode catalogue (default: "
                   f"{CATALOGUE.relative_to(CATALOGUE.parents[1])})")
    p.add_argument("--modes", nargs="+", metavar="NAME", help="run only these failure modes")
    p.add_argument("--list", action="store_true", help="list the failure modes and exit")
    p.add_argument("--json", action="store_true", help="print the matrix as JSON on stdout (progress on stderr)")
    p.add_argument("--time-scale", type=float, help="compress production durations by at most this factor")
    p.add_argument("--backend", choices=("local", "docker", "external"))
    p.add_argument("--load-workers", type=int, help="run Locust as a master with N local workers")
    return p


def print_modes(modes: FailureModes, criteria: Criteria, out: TextIO) -> None:
    reach = {r.mode: r.describe() for r in criteria.requirements}
    width = max(len(n) for n in modes.names)
    for m in modes.modes:
        faults = "; ".join(f"{f.kind} {f.target or ''}".strip() for f in m.faults) or "no fault"
        must = f"  [must {reach[m.name]}]" if m.name in reach else ""
        print(f"{m.name:<{width}}  {faults}{must}\n{'':<{width}}  {m.description}", file=out)


def render_matrix(matrix: Matrix) -> Any:
    """The matrix for a terminal (rich renderables)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    colour = {"critical": "bold red", "warning": "yellow"}
    table = Table(title="failure modes", show_lines=False, header_style="bold")
    for col in ("failure mode", "scale", "fired (after the fault began)", "notified", "paged"):
        table.add_column(col, overflow="fold")
    for row in matrix.modes:
        fired = Text()
        for f in row.firings:
            sev = f.severities[-1] if f.severities else ""
            fired.append(f.alert, style=colour.get(sev, "cyan"))
            fired.append(f" {format_whole(f.after_s)}{'?' if not f.judged else ''}" + (f" {sev}" if sev else "") + "\n")
        if not row.ran:
            fired = Text(f"did not run: {row.error}", style="red")
        elif not row.firings:
            fired = Text("no alert", style="dim" if row.baseline else "red")
        if row.paged and row.time_to_page_s is not None:
            paged = Text(format_whole(row.time_to_page_s), style="red" if row.baseline else "green")
        else:
            paged = Text("nobody", style="green" if row.baseline or not row.ran else "red")
        name = row.name + (" (healthy)" if row.baseline else "")
        table.add_row(name, f"{row.time_scale:g}", fired, ", ".join(row.receivers) or "nobody", paged)
    h = matrix.headlines
    lines = [
        f"failure modes with no alert ({len(h.no_alert)}): {', '.join(h.no_alert) or 'none'}",
        f"failure modes that page nobody ({len(h.pages_nobody)}): {', '.join(h.pages_nobody) or 'none'}",
        f"alerts firing on a healthy stack ({len(h.fire_on_healthy)}): {', '.join(h.fire_on_healthy) or 'none'}"
        + (f" (only on windows too sparse to judge: {', '.join(h.fire_on_healthy_unjudged)})"
           if h.fire_on_healthy_unjudged else ""),
        f"alerts no failure mode exercised ({len(h.never_exercised)}): {', '.join(h.never_exercised) or 'none'}",
    ]
    if h.healthy_paged:
        lines.append(f"paged on a healthy stack: {', '.join(h.healthy_paged)}")
    if h.not_run:
        lines.append(f"modes that could not run: {', '.join(h.not_run)}")
    exercised = Table(title="alerts", header_style="bold")
    exercised.add_column("alert")
    exercised.add_column("severity")
    exercised.add_column("exercised by", overflow="fold")
    for a in matrix.alerts:
        exercised.add_row(a.name, ", ".join(a.severities), (", ".join(a.exercised_by) or "nothing")
                          + (f" (fires on a healthy stack in {len(a.healthy_in)} mode(s): "
                             f"{', '.join(a.healthy_in)})" if a.fires_on_healthy else ""))
    return Group(table, exercised, Text("\n".join(lines)))


def print_verdict(matrix: Matrix, out: TextIO) -> None:
    for v in matrix.violations:
        print(f"FAIL {v.mode} must {v.requirement}: {v.observed} ({v.file}:{v.line})", file=out)
    if matrix.unjudged:
        print(f"not judged (not in this run): {', '.join(matrix.unjudged)}", file=out)
    if matrix.criteria_file and not matrix.violations:
        print(f"every failure mode in {matrix.criteria_file} that ran reached whom it must", file=out)


def main_coverage(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    catalogue = load_failure_modes(args.catalogue or CATALOGUE)
    criteria = load_criteria(args.criteria or DEFAULT_CRITERIA, catalogue)
    modes = catalogue.select(args.modes) if args.modes else catalogue
    if args.list:
        print_modes(modes, criteria, sys.stdout)
        return 0
    cfg = resolve_flags(args)
    rules = cfg.rule_files
    plan = plan_coverage(modes, rules, cfg.alertmanager_path)
    log = sys.stderr if args.json else sys.stdout
    print(f"harness coverage: {len(modes.modes)} failure mode(s) against {', '.join(Path(r).name for r in rules)} "
          f"and {plan.alertmanager_config.name}, time scale at most {cfg.time_scale:g}", file=log, flush=True)
    run = CoverageRun(modes, criteria, plan.catalog, out=log)
    out = run_plan(plan, cfg, kind="coverage", on_result=run.progress, on_start=run.attach, on_report=run.complete)
    return finish(out, run.matrix, as_json=args.json)


def finish(out: SuiteResult, matrix: Matrix | None, *, as_json: bool) -> int:
    """Print the result; the exit code: 1 when the run failed or a mode did not reach whom it must."""
    problems = [p for p in (out.error and f"error: {out.error}", out.interrupted and "the run was interrupted",
                            matrix is None and "the matrix could not be computed (see the report's notes)") if p]
    if as_json:
        doc = matrix.to_dict() if matrix is not None else {}
        doc.update({"run_id": out.run_id, "report": str(out.report_path) if out.report_path else None,
                    "problems": problems})
        print(json.dumps(doc, indent=2))
    else:
        if matrix is not None:
            from rich.console import Console

            Console().print(render_matrix(matrix))
            print_verdict(matrix, sys.stdout)
        for p in problems:
            print(p)
        if out.report_path:
            print(f"report: {out.report_path}")
    if as_json:
        if matrix is not None:
            print_verdict(matrix, sys.stderr)
        for p in problems:
            print(p, file=sys.stderr)
    return 0 if not problems and matrix is not None and matrix.ok else 1
