"""summary.json: the machine-readable run summary, and reading a report directory back into a RunReport.

Paths inside a report directory are stored relative to it, so a report can be moved or archived and
still be rebuilt (``harness report --rebuild``) from summary.json and events.jsonl alone.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.matrix import Matrix
from harness.core.timeline import Event
from harness.report.model import PanelCheck, RuleCoverage, RunReport, scenario_from_dict

SUMMARY_FILE = "summary.json"
EVENTS_FILE = "events.jsonl"
SCHEMA = 1


def _clean(value: Any) -> Any:
    """JSON has no NaN/Inf; write them as null rather than produce a file strict parsers reject."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def iso(unix: float | None) -> str:
    if unix is None:
        return ""
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_summary(run: RunReport, coverage: RuleCoverage | None, records: dict[str, str],
                  scenario_files: dict[str, str]) -> dict[str, Any]:
    """``records`` and ``scenario_files`` map scenario names to paths relative to the report directory."""
    return _clean({
        "schema": SCHEMA,
        "run_id": run.run_id,
        "kind": run.kind,
        "time_scale": run.time_scale,
        "started_wall": run.started_wall,
        "started": iso(run.started_wall),
        "ended_wall": run.ended_wall,
        "mono_start": run.mono_start,
        "interrupted": run.interrupted,
        "error": run.error,
        "ok": run.ok,
        "totals": {"scenarios": len(run.scenarios), "passed": run.passed, "failed": run.failed,
                   "verdicts": sum(len(s.verdicts) for s in run.scenarios),
                   "verdicts_failed": sum(1 for s in run.scenarios for v in s.verdicts if v.status == "fail"),
                   "dashboard_panels_without_data": sum(1 for p in run.dashboards if not p.ok)},
        "scenarios": [s.to_dict() for s in run.scenarios],
        "coverage": coverage.to_dict() if coverage is not None else None,
        "rule_alerts": list(run.rule_alerts),
        "receivers": list(run.receivers),
        "findings": list(run.findings),
        "dashboards": [p.to_dict() for p in run.dashboards],
        "failure_modes": run.failure_modes.to_dict() if run.failure_modes is not None else None,
        "records": records,
        "scenario_files": scenario_files,
        "notes": list(run.notes),
        "mutation": run.mutation,
    })


def load_run_report(run_dir: Path) -> RunReport:
    """Read a report directory back (summary.json + events.jsonl); record paths resolve inside it."""
    path = run_dir / SUMMARY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HarnessError(f"{path} does not exist", hint="is this a report directory? `harness report latest`") \
            from exc
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}",
                           hint="the run may have been killed while writing it; rerun the scenarios") from exc
    events: list[Event] = []
    events_path = run_dir / EVENTS_FILE
    if events_path.exists():
        for line in events_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    events.append(Event.from_json(line))
                except (ValueError, KeyError):
                    continue  # a torn last line from an interrupted run
    coverage = raw.get("coverage")
    return RunReport(
        run_id=str(raw.get("run_id") or run_dir.name),
        kind=str(raw.get("kind") or "verify"),
        time_scale=float(raw.get("time_scale") or 1.0),
        started_wall=float(raw.get("started_wall") or 0.0),
        scenarios=[scenario_from_dict(s) for s in raw.get("scenarios") or ()],
        events=events,
        records={name: run_dir / rel for name, rel in (raw.get("records") or {}).items()},
        mono_start=raw.get("mono_start"),
        rule_alerts=list(raw.get("rule_alerts") or ()),
        receivers=list(raw.get("receivers") or ()),
        coverage=RuleCoverage.from_dict(coverage) if coverage else None,
        findings=list(raw.get("findings") or ()),
        dashboards=[PanelCheck.from_dict(p) for p in raw.get("dashboards") or ()],
        failure_modes=Matrix.from_dict(raw["failure_modes"]) if raw.get("failure_modes") else None,
        ended_wall=raw.get("ended_wall"),
        interrupted=bool(raw.get("interrupted")),
        error=raw.get("error"),
        notes=list(raw.get("notes") or ()),
        mutation=raw.get("mutation"),
    )
