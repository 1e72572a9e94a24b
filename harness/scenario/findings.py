"""Audit findings: each failed expectation on a published rule pack, with its evidence and the likely
cause in the rule, from a static reading of the rule's PromQL. Deterministic: the same failures give
the same findings, in the same order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.rules.metrics import metric_names
from harness.scenario.catalog import AlertRule, Catalog, expand_records
from harness.scenario.result import FAIL, ScenarioResult

_RATE_SEL = re.compile(r"rate\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?\s*\[")


def lint_rule(rule: AlertRule, is_exported: Callable[[str], bool] | None = None,
              records: Mapping[str, str] | None = None) -> list[str]:
    """Suspected problems in a rule's expression (and the recording rules it reads), most specific first."""
    expr = expand_records(rule.expr, records or {})
    causes: list[str] = []
    if is_exported is not None:
        for name in dict.fromkeys(metric_names(expr)):
            if not is_exported(name):
                causes.append(f"metric `{name}` is not exported by the stack's exporters or the API, so the "
                              "expression returns no data and the alert can never fire")
    aggregated = re.search(r"\b(sum|avg|max|min|count)\b\s*(by|without)?\s*\(", expr) is not None
    sels = _RATE_SEL.findall(expr)
    if "/" in expr and len(sels) >= 2 and not aggregated and "on(" not in expr.replace(" ", "") \
            and "ignoring(" not in expr.replace(" ", ""):
        (num, _, num_m), (den, _, den_m) = sels[0], sels[1]
        if num == den and num_m and not den_m:
            label = num_m.split("=")[0].strip()
            causes.append(f"ratio of `{num}` without aggregation: the numerator selects on label `{label}`, "
                          f"which the denominator keeps, so one-to-one matching divides each series by itself "
                          f"(the ratio is 1 wherever the numerator has data) instead of by the total")
    elif "/" in expr and not aggregated and not sels and "on(" not in expr.replace(" ", "") \
            and "ignoring(" not in expr.replace(" ", ""):
        ms = list(dict.fromkeys(metric_names(expr)))
        if len(ms) >= 2 and ms[0] != ms[1]:
            causes.append(f"`{ms[0]}` / `{ms[1]}` without on()/ignoring(): the two sides carry different labels, "
                          "so vector matching finds no pairs and the expression returns nothing")
    for den in re.findall(r"/\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
        if re.search(r"memory_max|maxmemory|_max_bytes$", den) and not re.search(
                rf"{re.escape(den)}\s*(\{{[^}}]*\}})?\s*>\s*0(?![.\d])", expr):
            causes.append(f"divides by `{den}`, which is 0 where no limit is configured (Redis's default): the "
                          "ratio is then +Inf and the threshold holds with no memory pressure at all; alert only "
                          f"where `{den} > 0`")
            break
    for m in re.finditer(r"\b(pg_up|redis_up)\b", expr):
        if not re.search(r"\bup\s*(\{|==)", expr):
            causes.append(f"relies on `{m.group(1)}` alone, which has no sample at all when the exporter cannot be "
                          "scraped (exporter down, or its scrape timing out while the database is unreachable); "
                          "`up{job=...} == 0` covers that case")
            break
    if re.search(r'status\s*=\s*"200"', expr):
        causes.append('success is counted as status="200" only: 201 Created (bet placement) and other 2xx '
                      "are counted as failures")
    if re.search(r'state\s*=\s*"active"', expr) and "connections" in (rule.name.lower() + expr):
        causes.append('counts only state="active" connections: idle connections that hold slots are missed')
    if "avg_over_time" in expr and re.search(r"avg_over_time\(\s*[a-z_]*:[a-z_:]*ratio", expr):
        causes.append("averages a ratio recording rule over a long window: the ratio is NaN (0/0) whenever there is "
                      "no traffic, and a single NaN sample makes avg_over_time NaN for the whole window, so after any "
                      "idle period the error budget is blind (neither alert can fire) until the NaN leaves the window")
    if "time()" in expr:
        causes.append("compares against time(): its threshold is in wall-clock seconds and is not compressed")
    if "histogram_quantile" in expr and "query_duration_seconds" in expr and "query_name" not in expr:
        causes.append("one latency threshold for every query_name: the bet-placement and report queries have "
                      "other SLOs (50 ms, 10 ms), so the 5 ms threshold fires for them under healthy load")
    return causes


def exported_metric(catalog: Catalog) -> Callable[[str], bool]:
    """Is a metric exported by the stack (its exporters, the API, the backup job) or recorded by a rule?"""
    from harness.rules.exported import exported_by

    return lambda name: exported_by(name, set(catalog.records)) is not None


def audit_findings(catalog: Catalog, results: list[ScenarioResult],
                   is_exported: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
    findings = []
    for res in results:
        if res.error:
            findings.append({"scenario": res.name, "expectation": "the scenario runs", "happened": res.error,
                             "likely_cause": "the run itself failed (see the scenario's evidence)", "alert": ""})
        for v in res.verdicts:
            if v.status != FAIL:
                continue
            alert = v.subject if v.subject in catalog.alerts else ""
            if not alert and v.check in ("notified", "not_notified"):
                alert = str(v.expected.split(" ", 1)[0])
            rule = catalog.alerts.get(alert)
            causes = receiver_causes(catalog, v.subject) if v.check == "notified" else []
            if v.check == "record":
                causes = record_causes(catalog.record_exprs.get(v.subject, ""))
            causes += lint_rule(rule, is_exported, catalog.record_exprs) if rule is not None and not causes else []
            if v.check == "silent":
                # It fired, so a cause that says the expression cannot return anything is not this one.
                causes = [c for c in causes if "returns nothing" not in c and "can never fire" not in c]
            confirmation = res.confirmation
            sensitive = confirmation is not None and confirmation.get("error") is None \
                and f"{v.check} {v.subject}" not in confirmation.get("failed", [])
            extra: dict[str, Any] = {}
            if confirmation is not None:
                extra["confirmed_at_scale"] = confirmation.get("time_scale")
            if sensitive and confirmation is not None:
                # Never a defect of the rule: both results are shown, and it is kept out of the finding keys.
                extra["compression_sensitive"] = True
                causes = [f"did not reproduce at time scale {confirmation['time_scale']:g} (failed at "
                          f"{res.time_scale:g}): a result of compression, not of the rule"]
            findings.append({**extra,
                "scenario": res.name, "alert": alert, "check": v.check, "subject": v.subject,
                "expectation": v.expected, "happened": v.observed,
                "likely_cause": "; ".join(causes) if causes else "no static problem found in the rule; see the "
                                                                 "evidence",
                "rule_file": rule.file if rule else "", "expr": rule.expr.strip() if rule else "",
            })
    return findings


def record_causes(expr: str) -> list[str]:
    """Problems in an SLI recording rule's expression (one that disagreed with ground truth)."""
    causes = []
    if "histogram_quantile" in expr:
        causes.append("computes a latency quantile (seconds), not a share of requests; and without sum by (le) "
                      "one per series, so the SLI is several numbers, none of them the share of requests under the "
                      "threshold (that share is the threshold's bucket over the count: "
                      "sum(rate(..._bucket{le=\"0.5\"}[5m])) / sum(rate(..._count[5m])))")
    return causes


def receiver_causes(catalog: Catalog, receiver: str) -> list[str]:
    """Problems in the Alertmanager config of one receiver (when an alert fired but never reached it)."""
    for recv in catalog.receiver_configs:
        if recv.get("name") != receiver:
            continue
        for pd in recv.get("pagerduty_configs") or []:
            if "service_key" in pd and "routing_key" not in pd:
                return [f"receiver {receiver} uses `service_key`, which makes Alertmanager send Events API v1 to "
                        "PagerDuty's fixed v1 address: the configured v2 `pagerduty_url` is never used "
                        "(use `routing_key` for Events API v2)"]
    return []


def finding_keys(findings: list[dict[str, Any]]) -> list[str]:
    """A stable identity per finding (scenario, check, alert and receiver), to compare audits across runs."""
    keys = []
    for f in findings:
        if f.get("compression_sensitive"):
            continue
        subject = f.get("subject", "")
        tail = f" -> {subject}" if subject and subject != f.get("alert") else ""
        what = " ".join(p for p in (f.get("check", "run"), f.get("alert", "")) if p)
        keys.append(f"{f['scenario']}: {what}{tail}".strip())
    return sorted(keys)


@dataclass(frozen=True)
class ExpectedFindings:
    """What an audit of the published packs must find: exactly these finding keys, every one of which
    reproduces (a failure that does not reproduce at a low scale is compression-sensitive, not a finding)."""

    findings: tuple[str, ...]

    @staticmethod
    def parse(raw: Any, source: str) -> ExpectedFindings:
        if isinstance(raw, list):
            return ExpectedFindings(tuple(str(k) for k in raw))
        if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list):
            raise HarnessError(f"{source}: expected a JSON list of finding keys, or {{\"findings\": [...]}}",
                               hint="regenerate it with `harness audit --write-expected FILE`")
        if raw.get("timing_dependent"):
            raise HarnessError(f"{source}: `timing_dependent` findings are no longer accepted: a verdict that "
                               "changes between runs of the same code is a bug to fix, not an expectation",
                               hint="remove the key; regenerate with `harness audit --write-expected FILE`")
        return ExpectedFindings(tuple(str(k) for k in raw["findings"]))

    def compare(self, got: list[str]) -> tuple[list[str], list[str]]:
        """(missing, new): required findings not found, and findings not required."""
        found = set(got)
        return sorted(set(self.findings) - found), sorted(found - set(self.findings))

    def updated(self, got: list[str]) -> dict[str, Any]:
        return {"findings": sorted(got)}

    def for_scenarios(self, names: Collection[str]) -> ExpectedFindings:
        """Only the entries of these scenarios (for a run of part of the suite)."""
        return ExpectedFindings(tuple(k for k in self.findings if k.split(":", 1)[0] in names))


def load_expected_findings(path: Path) -> ExpectedFindings:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read the expected findings {path}: {exc}",
                           hint="regenerate it with `harness audit --write-expected FILE`") from None
    return ExpectedFindings.parse(raw, str(path))
