"""``harness verify``, ``harness audit``, ``harness mutate``, ``harness drill`` and ``harness demo``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from harness.config import AUDIT_DEFAULTS, resolve_flags
from harness.core.errors import HarnessError
from harness.core.plan import Plan
from harness.core.result import ScenarioResult
from harness.core.timeline import ALERT_STATE, FAULT_END, FAULT_START, NOTIFICATION, PHASE
from harness.scenario import tour as tours
from harness.scenario.findings import (
    ExpectedFindings,
    audit_findings,
    exported_metric,
    finding_keys,
    load_expected_findings,
)
from harness.scenario.run import SuiteResult
from harness.scenario.suite import SCENARIOS_DIR, plan_run, run_plan

DEFAULT_SCENARIOS = SCENARIOS_DIR


# Failures under compression are confirmed at this scale (or the scenario's own, if lower).
CONFIRM_SCALE = 10.0


def _parser(prog: str, description: str, *, scenarios: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    if scenarios:
        p.add_argument("scenarios", nargs="*", default=[str(DEFAULT_SCENARIOS)],
                       help="scenario files or directories (default: scenarios/)")
    p.add_argument("--rules", nargs="+", metavar="FILE", help="rule files (default: HARNESS_RULES, then "
                   "[tool.harness] rules, then the reference packs; `harness config` shows which)")
    p.add_argument("--alertmanager-config", metavar="FILE", help="Alertmanager config (default: "
                   "HARNESS_ALERTMANAGER_CONFIG, then [tool.harness], then the reference config)")
    p.add_argument("--map", metavar="FILE", help="an alert and receiver map: the scenarios' reference names in "
                   "your pack's names (`harness map` proposes one)")
    p.add_argument("--time-scale", type=float, help="compress production durations by this factor")
    p.add_argument("--backend", choices=("local", "docker", "external"))
    p.add_argument("--load-workers", type=int, help="run Locust as a master with N local workers")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _status(res: ScenarioResult) -> str:
    return "PASS" if res.passed else ("ERROR" if res.error else "FAIL")


def print_summary(out: SuiteResult, plan: Plan) -> None:
    width = max([len(r.name) for r in out.results] + [8])
    print(f"\n{'scenario':<{width}}  result  checks  detail")
    for r in out.results:
        failed = [v for v in r.verdicts if not v.ok and v.status != "unsupported"]
        unsupported = [v for v in r.verdicts if v.status == "unsupported"]
        detail = r.error or "; ".join(f"{v.check} {v.subject}: {v.observed}" for v in failed[:2])
        if not detail and unsupported:
            detail = "; ".join(f"not exercised: {v.subject}: {v.observed}" for v in unsupported)
        status = "UNSUP" if r.unexercised else _status(r)
        print(f"{r.name:<{width}}  {status:<6}  {sum(v.ok for v in r.verdicts):>2}/{len(r.verdicts):<3}  "
              f"{detail[:160]}")
    for name, missing in plan.not_applicable.items():
        print(f"{name:<{width}}  n/a     -       rule files lack {', '.join(missing)}")
    for note in plan.notes:
        print(f"note: {note}")
    passed = sum(r.passed for r in out.results)
    print(f"\n{passed}/{len(out.results)} scenarios passed"
          + (" (interrupted)" if out.interrupted else "") + (f"; error: {out.error}" if out.error else ""))
    if out.report_path:
        print(f"report: {out.report_path}")


def main_verify(argv: list[str]) -> int:
    p = _parser("harness verify", "Run the scenario suite against your rule files and Alertmanager "
                "config; exit non-zero on any failure.")
    p.add_argument("--confirm", action="store_true", help=f"rerun each failed scenario at time scale <= "
                   f"{CONFIRM_SCALE:g} and report failures that do not reproduce as compression-sensitive")
    args = p.parse_args(argv)
    cfg = resolve_flags(args)
    plan = plan_run(args.scenarios, cfg.rule_files, cfg.alertmanager_path, map_file=args.map)
    out = run_plan(plan, cfg, kind="verify", on_result=_progress,
                   confirm_scale=CONFIRM_SCALE if args.confirm else None)
    print_summary(out, plan)
    return 0 if out.ok else 1


def main_audit(argv: list[str]) -> int:
    p = _parser("harness audit", "Run the suite against the seed guides' rule packs and Alertmanager config "
                "as published and report each finding with its evidence.")
    p.add_argument("--expect", metavar="FILE", help="a JSON list of expected finding keys; exit 1 if the "
                   "findings differ (used by CI to check the audit is stable)")
    p.add_argument("--write-expected", metavar="FILE", help="write this audit's finding keys to FILE (to review "
                   "and commit as the expected findings)")
    p.add_argument("--confirm-scale", type=float, default=CONFIRM_SCALE, metavar="N",
                   help=f"rerun each failed scenario at time scale <= N before its failures become findings "
                   f"(default {CONFIRM_SCALE:g}; 0: do not confirm)")
    args = p.parse_args(argv)
    cfg = resolve_flags(args, AUDIT_DEFAULTS)
    plan = plan_run(args.scenarios, cfg.rule_files, cfg.alertmanager_path, map_file=args.map)
    def findings(pl: Plan, results: list[ScenarioResult]) -> list[dict[str, Any]]:
        return audit_findings(pl.catalog, results, exported_metric(pl.catalog))

    out = run_plan(plan, cfg, kind="audit", on_result=_progress, findings=findings,
                   confirm_scale=args.confirm_scale or None)
    all_found = findings(plan, out.results)
    found = [f for f in all_found if not f.get("compression_sensitive")]
    print_summary(out, plan)
    print(f"\n{len(found)} finding(s):")
    for f in found:
        print(f"- [{f['scenario']}] expected {f['expectation']}; happened: {f['happened']}\n"
              f"    likely cause: {f['likely_cause']}")
    for f in all_found:
        if f.get("compression_sensitive"):
            print(f"- compression-sensitive, not a finding: [{f['scenario']}] {f['expectation']}: "
                  f"{f['happened']} ({f['likely_cause']})")
    if out.interrupted or out.error:
        return 1
    got = finding_keys(found)
    ran = [s.name for s in plan.scenarios]
    if args.write_expected:
        target = Path(args.write_expected)
        # A run of part of the suite replaces only its own scenarios' entries.
        kept = [k for k in (load_expected_findings(target).findings if target.exists() else ())
                if k.split(":", 1)[0] not in ran]
        target.write_text(json.dumps(ExpectedFindings(()).updated(kept + got), indent=2) + "\n")
        print(f"wrote {len(got)} finding key(s) of {len(ran)} scenario(s) to {target}")
    if args.expect:
        # Compared for the scenarios this run ran (all of them, or those named on the command line).
        want = load_expected_findings(Path(args.expect)).for_scenarios(ran)
        missing, new = want.compare(got)
        if missing or new:
            print(f"\naudit findings differ from {args.expect}:\n  missing: {missing}\n  new: {new}",
                  file=sys.stderr)
            return 1
        print(f"\naudit findings match {args.expect} ({len(got)} required, all found, none other)")
    return 0


def main_mutate(argv: list[str]) -> int:
    # Lazy: `harness mutate` only; importing it costs every other scenario command 64 ms (measured).
    from harness.scenario.mutate import (
        plan_mutation,
        render_attempt,
        render_plan,
        render_result,
        render_run,
        run_mutate,
    )

    p = _parser("harness mutate", "Mutation testing of alert rules: run the scenarios that name each alert "
                "against one-edit mutants of its rule (threshold x10 and /10, comparison inverted, `for` x10, a "
                "matcher's value, a misspelt metric, an or/and branch removed, severity changed) and report the "
                "mutation score and, for each surviving mutant, what kind of scenario would kill it. Exit non-zero "
                "if any non-equivalent mutant survives.")
    p.add_argument("--alert", action="append", default=[], metavar="NAME",
                   help="mutate only this alert's rules (repeatable; default: every alert of the rule files)")
    p.add_argument("--trust-original", action="store_true",
                   help="on solo runs (checks a batch cannot judge, such as inhibition), take the original packs to "
                   "pass every scenario (true of the reference packs) instead of running the scenario once on them "
                   "(batched runs compare with the original in the same run)")
    p.add_argument("--plan", action="store_true", help="print the mutants and the plan, run nothing")
    args = p.parse_args(argv)
    cfg = resolve_flags(args)
    plan = plan_mutation(args.scenarios, cfg.rule_files, cfg.alertmanager_path,
                         time_scale=cfg.time_scale, alerts=args.alert, trust_original=args.trust_original,
                         map_file=args.map)
    print(render_plan(plan), flush=True)
    if args.plan:
        for s in plan.schedules:
            m = s.mutant
            order = ", ".join(x.name for x in s.scenarios) or "none"
            print(f"  {m.id} {m.alert} [{m.where}] {m.description} ({m.direction}): {order}")
        return 0
    out, result = run_mutate(plan, cfg, on_attempt=lambda o, a: print(render_attempt(o, a), flush=True),
                             on_run=lambda pack, scn: print(render_run(pack, scn, plan.cost(scn)), flush=True))
    print(render_result(result))
    if out.report_path:
        print(f"report: {out.report_path}")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    return 0 if result.ok and out.error is None and not out.interrupted else 1


def main_demo(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="harness demo", description="A short tour on one stack: a fault on the "
                                "reference packs that fires, routes and resolves; the SLO against ground truth; "
                                "known defects of the published packs, switched to by reload. Exit 0 when the "
                                "tour behaved as expected.")
    p.add_argument("--time-scale", type=float, help="compress production durations by this factor")
    args = p.parse_args(argv)
    cfg = resolve_flags(args)
    tour = tours.plan_tour()
    ignored = [f"{name} ({cfg.sources[name]})" for name in ("rules", "alertmanager_config")
               if cfg.sources[name] != "default"]
    if ignored:
        print(f"harness demo: runs its own packs; not used: {', '.join(ignored)}", flush=True)
    scenarios = len(tours.REFERENCE_TOUR) + len(tours.PUBLISHED_TOUR)
    print(f"harness demo: {scenarios} scenarios on one stack at time scale "
          f"{cfg.time_scale:g} (1 s here is {cfg.time_scale:g} s of production time)", flush=True)
    out = tours.run_tour(tour, cfg, on_result=_progress)
    print("\n" + tours.render_tour(tour, out))
    return 0 if out.ok else 1


def _progress(res: ScenarioResult) -> None:
    print(f"{_status(res):<5} {res.name} ({res.ended - res.started:.1f}s)", flush=True)


def main_drill(argv: list[str]) -> int:
    p = _parser("harness drill", "Run one scenario with a live terminal view (game day).", scenarios=False)
    p.add_argument("scenario", help="the scenario file")
    args = p.parse_args(argv)
    cfg = resolve_flags(args)
    plan = plan_run([args.scenario], cfg.rule_files, cfg.alertmanager_path, only_applicable=False,
                    map_file=args.map)
    if not plan.scenarios:
        raise HarnessError(f"{args.scenario} holds no scenario")
    view = DrillView(Path(cfg.reports_dir))
    out = run_plan(plan, cfg, kind="drill", on_result=lambda r: None, on_start=view.attach)
    view.stop()
    print_summary(out, plan)
    return 0 if out.ok else 1


class DrillView:
    """A live terminal view: phase, requests/s, errors, p95, active faults, alert states, notifications."""

    def __init__(self, reports_dir: Path) -> None:
        self.reports_dir = reports_dir
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, stack: Any, records_dir: Path) -> None:
        self._thread = threading.Thread(target=self._loop, args=(stack, records_dir), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self, stack: Any, records_dir: Path) -> None:
        from rich.console import Console
        from rich.live import Live

        with Live(console=Console(), refresh_per_second=2) as live:
            while not self._stop.wait(0.5):
                live.update(render_drill(stack.timeline.events(), stack.clock.now(), records_dir, stack.clock))


def render_drill(events: list[Any], now: float, records_dir: Path, clock: Any) -> Any:
    import numpy as np
    from rich.table import Table

    phase = next((e.name for e in reversed(events) if e.kind == PHASE), "starting")
    started = {e.name: e for e in events if e.kind == FAULT_START}
    ended = {e.name for e in events if e.kind == FAULT_END}
    active_faults = [f"{n} ({e.data.get('kind')} {e.data.get('target') or ''})"
                     for n, e in started.items() if n not in ended]
    states: dict[str, str] = {}
    for e in events:
        if e.kind == ALERT_STATE:
            states[e.name] = str(e.data.get("state"))
    notes = [e for e in events if e.kind == NOTIFICATION][-5:]
    rps = err = p95 = 0.0
    files = sorted(records_dir.glob("*.records"), key=lambda p: p.stat().st_mtime)
    if files:
        try:
            from harness.load.records import read_records  # lazy: only `harness drill` reads records

            rec = read_records(files[-1])
            t_end = np.asarray(rec.end, dtype=float) - clock.mono_start
            recent = t_end >= now - 5
            n = int(recent.sum())
            if n:
                rps = n / 5
                err = float(((rec.status[recent] >= 500) | (rec.status[recent] == 0)).mean())
                lat = (rec.end - rec.intended)[recent]
                p95 = float(np.percentile(lat, 95)) * 1000
        except Exception:  # a partial record being written: show the last figures next time
            pass
    table = Table(title=f"harness drill — t={now:6.1f}s — phase: {phase}", show_header=False)
    table.add_row("load", f"{rps:.0f} req/s, errors {err:.1%}, p95 {p95:.1f} ms")
    table.add_row("faults", ", ".join(active_faults) or "none")
    table.add_row("alerts", ", ".join(f"{k}={v}" for k, v in sorted(states.items()) if v != "inactive") or "quiet")
    table.add_row("notifications", "\n".join(
        f"{e.t:6.1f}s {e.name}: {e.data.get('status', '')} "
        + ", ".join(str(a.get("alertname", "?")) for a in e.data.get("alerts") or []) for e in notes) or "none")
    return table
