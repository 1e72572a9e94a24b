"""``harness report [RUN_DIR|RUN_ID|latest] [--open] [--rebuild]``: locate (or re-render) a run's report."""

from __future__ import annotations

import argparse
import json
import webbrowser
from pathlib import Path

from harness.config import resolve_config
from harness.core.errors import HarnessError
from harness.report.summary import SUMMARY_FILE
from harness.report.writer import INDEX_FILE, rebuild_index


def resolve_run_dir(which: str, reports_dir: Path) -> Path:
    """A path to a report directory, a run id under reports_dir, or "latest"."""
    candidate = Path(which)
    for path in (candidate, reports_dir / which):
        if (path / SUMMARY_FILE).exists() or (path / INDEX_FILE).exists():
            return path
    runs = sorted(p.name for p in reports_dir.glob("*/") if not p.is_symlink() and (p / SUMMARY_FILE).exists()) \
        if reports_dir.is_dir() else []
    listed = ", ".join(runs[-5:]) if runs else "none"
    raise HarnessError(f"no report found for {which!r}",
                       detail=f"looked at {candidate} and {reports_dir / which}; recent runs there: {listed}",
                       hint="run `harness verify` or `harness audit` first, or pass a report directory")


def describe(run_dir: Path) -> str:
    lines = [str((run_dir / INDEX_FILE).resolve())]
    try:
        raw = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return "\n".join([*lines, f"(no readable summary.json: {exc})"])
    totals = raw.get("totals") or {}
    state = "interrupted" if raw.get("interrupted") else ("passed" if raw.get("ok") else "failed")
    lines.append(f"{raw.get('kind', '?')} run {raw.get('run_id', run_dir.name)} started {raw.get('started', '?')}: "
                 f"{state}, {totals.get('passed', 0)}/{totals.get('scenarios', 0)} scenarios passed")
    for s in raw.get("scenarios") or []:
        bad = [f"{v.get('check')} {v.get('subject')}" for v in s.get("verdicts") or []
               if v.get("status") in ("fail", "error")]
        mark = "PASS" if s.get("passed") else "FAIL"
        tail = f"  ({s['error'].splitlines()[0]})" if s.get("error") else (f"  ({'; '.join(bad)})" if bad else "")
        lines.append(f"  {mark}  {s.get('name')}{tail}")
    cov = raw.get("coverage") or {}
    if cov:
        lines.append(f"coverage: {len(cov.get('firing') or [])} fired, "
                     f"{len(cov.get('missed') or [])} expected but never fired, {len(cov.get('silent') or [])} silent, "
                     f"{len(cov.get('never') or [])} never exercised")
    modes = raw.get("failure_modes") or {}
    if modes:
        heads = modes.get("headlines") or {}
        violations = (modes.get("criteria") or {}).get("violations") or []
        lines.append(f"failure modes: {len(modes.get('failure_modes') or [])} run, "
                     f"{len(heads.get('no_alert') or [])} with no alert, "
                     f"{len(heads.get('pages_nobody') or [])} paging nobody, "
                     f"{len(heads.get('fire_on_healthy') or [])} alert(s) firing on a healthy stack, "
                     f"{len(heads.get('never_exercised') or [])} alert(s) exercised by nothing")
        lines += [f"  FAIL {v.get('mode')} must {v.get('requirement')}: {v.get('observed')}" for v in violations]
    blank = [p for p in raw.get("dashboards") or [] if p.get("status") != "ok"]
    if blank:
        lines.append(f"dashboard panels without data: {len(blank)}")
        lines += [f"  {p.get('dashboard')} / {p.get('panel')}: {p.get('detail')}" for p in blank]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness report", description=__doc__)
    parser.add_argument("run", nargs="?", default="latest", help="report directory, run id, or 'latest'")
    parser.add_argument("--open", action="store_true", help="open index.html in a browser")
    parser.add_argument("--rebuild", action="store_true", help="re-render index.html from summary.json + events")
    parser.add_argument("--reports-dir", help="where runs write reports (default: the configured reports_dir)")
    args = parser.parse_args(argv)
    reports_dir = Path(args.reports_dir or resolve_config({"reports_dir": args.reports_dir}).reports_dir)
    run_dir = resolve_run_dir(args.run, reports_dir)
    if args.rebuild:
        rebuild_index(run_dir)
    print(describe(run_dir))
    if args.open:
        webbrowser.open((run_dir / INDEX_FILE).resolve().as_uri())
    return 0
