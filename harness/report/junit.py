"""JUnit XML: one testcase per scenario, so CI systems show scenarios as tests.

A scenario whose run broke (``ScenarioResult.error``) or whose expectation could not be evaluated is an
``<error>``; an expectation that did not hold is a ``<failure>`` whose text lists expected and observed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from harness.core.result import ERROR, FAIL, UNSUPPORTED, ScenarioResult, Verdict
from harness.report.model import RunReport


def _verdict_text(v: Verdict) -> str:
    lines = [f"[{v.status}] {v.check} {v.subject}", f"  expected: {v.expected}", f"  observed: {v.observed}"]
    if v.window:
        lines.append(f"  window:   {v.window[0]:.1f}s .. {v.window[1]:.1f}s (run clock)")
    if v.latency is not None:
        minimum = f" (minimum {v.min_latency:.1f}s)" if v.min_latency is not None else ""
        lines.append(f"  latency:  {v.latency:.1f}s{minimum}")
    for key, value in v.evidence.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"  {key}: {text[:2000]}")
    return "\n".join(lines)


def _testcase(suite: ET.Element, kind: str, s: ScenarioResult) -> tuple[int, int, int]:
    case = ET.SubElement(suite, "testcase", {
        "classname": f"harness.{kind}", "name": s.name or "(unnamed)", "file": s.file,
        "time": f"{max(s.ended - s.started, 0.0):.3f}",
    })
    failed = [v for v in s.verdicts if v.status == FAIL]
    errored = [v for v in s.verdicts if v.status == ERROR]
    unsupported = [v for v in s.verdicts if v.status == UNSUPPORTED]
    if unsupported:
        # Not <skipped>: the scenario ran and its other expectations count; say what was not checked.
        ET.SubElement(case, "properties").append(ET.Element("property", {
            "name": "unsupported", "value": ", ".join(f"{v.check} {v.subject}" for v in unsupported)}))
    if s.error is not None or errored:
        message = s.error or f"{len(errored)} expectation(s) could not be evaluated"
        el = ET.SubElement(case, "error", {"message": (message.splitlines() or ["error"])[0]})
        el.text = "\n\n".join([s.error or ""] + [_verdict_text(v) for v in errored]).strip()
    if failed:
        summary = "; ".join(f"{v.check} {v.subject}: expected {v.expected}, observed {v.observed}"
                            for v in failed)
        el = ET.SubElement(case, "failure", {"message": summary[:500], "type": "ExpectationFailed"})
        el.text = "\n\n".join(_verdict_text(v) for v in failed)
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(_verdict_text(v) for v in s.verdicts if v.status not in (FAIL, ERROR)) or None
    return 1, int(bool(failed)), int(s.error is not None or bool(errored))


def render_junit(run: RunReport) -> str:
    suites = ET.Element("testsuites", {"name": f"harness {run.kind} {run.run_id}"})
    suite = ET.SubElement(suites, "testsuite", {"name": f"harness.{run.kind}", "id": run.run_id})
    props = ET.SubElement(suite, "properties")
    for name, value in (("run_id", run.run_id), ("kind", run.kind), ("time_scale", f"{run.time_scale:g}"),
                        ("interrupted", str(run.interrupted).lower())):
        ET.SubElement(props, "property", {"name": name, "value": value})
    tests = failures = errors = 0
    total_time = 0.0
    for s in run.scenarios:
        t, f, e = _testcase(suite, run.kind, s)
        tests, failures, errors = tests + t, failures + f, errors + e
        total_time += max(s.ended - s.started, 0.0)
    if run.error is not None or run.interrupted:
        # The run itself broke: a testcase for it, so CI goes red even when no scenario recorded a failure.
        case = ET.SubElement(suite, "testcase", {"classname": f"harness.{run.kind}", "name": "(run)", "time": "0"})
        message = run.error or "run interrupted before it finished"
        el = ET.SubElement(case, "error", {"message": (message.splitlines() or ["error"])[0]})
        el.text = message
        tests, errors = tests + 1, errors + 1
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{total_time:.3f}")
    for key in ("tests", "failures", "errors", "time"):
        suites.set(key, suite.get(key, "0"))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
