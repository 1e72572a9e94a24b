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

from harness.core.catalog import AlertRule, Catalog, expand_records
from harness.core.errors import HarnessError
from harness.core.promql import PromQLSyntaxError, read
from harness.core.result import FAIL, ScenarioResult
from harness.rules.exported import exported_by

_AGGREGATIONS = frozenset({"sum", "avg", "max", "min", "count"})
# Names of a maximum that is 0 where no limit is configured (Redis's maxmemory): a naming convention.
_UNLIMITED_MAX = re.compile(r"memory_max|maxmemory|_max_bytes$")
# A ratio recording rule, by the ``level:metric:operations`` naming convention.
_RATIO_RECORD = re.compile(r"[a-z_]*:[a-z_:]*ratio")


def lint_rule(rule: AlertRule, is_exported: Callable[[str], bool] | None = None,
              records: Mapping[str, str] | None = None) -> list[str]:
    """Suspected problems in a rule's expression (and the recording rules it reads), most specific first,
    from their parsed trees."""
    try:
        r = read(expand_records(rule.expr, records or {}))
    except PromQLSyntaxError as exc:
        return [f"the expression is not valid PromQL ({exc}), so Prometheus refuses the rule file"]
    causes: list[str] = []
    if is_exported is not None:
        for name in r.metrics:
            if not is_exported(name):
                causes.append(f"metric `{name}` is not exported by the stack's exporters or the API, so the "
                              "expression returns no data and the alert can never fire")
    aggregated = any(op in _AGGREGATIONS for op in r.aggregations)
    divides = any(b.op == "/" for b in r.binaries)
    matched = any(b.matching for b in r.binaries)
    rates = [s for s in r.selectors if s.call in ("rate", "irate") and s.range_s is not None]
    if divides and len(rates) >= 2 and not aggregated and not matched:
        num, den = rates[0], rates[1]
        if num.metric == den.metric and num.matchers and not den.matchers:
            label = num.matchers[0].name
            causes.append(f"ratio of `{num.metric}` without aggregation: the numerator selects on label `{label}`, "
                          f"which the denominator keeps, so one-to-one matching divides each series by itself "
                          f"(the ratio is 1 wherever the numerator has data) instead of by the total")
    elif divides and not aggregated and not rates and not matched:
        ms = r.metrics
        if len(ms) >= 2 and ms[0] != ms[1]:
            causes.append(f"`{ms[0]}` / `{ms[1]}` without on()/ignoring(): the two sides carry different labels, "
                          "so vector matching finds no pairs and the expression returns nothing")
    for b in r.binaries:
        limit = b.rhs.metric
        if b.op == "/" and limit and _UNLIMITED_MAX.search(limit) and not any(
                g.op == ">" and g.lhs.metric == limit and g.rhs.number == 0 for g in r.binaries):
            causes.append(f"divides by `{limit}`, which is 0 where no limit is configured (Redis's default): the "
                          "ratio is then +Inf and the threshold holds with no memory pressure at all; alert only "
                          f"where `{limit} > 0`")
            break
    up = [m for m in r.metrics if m in ("pg_up", "redis_up")]
    up_guard = any(s.metric == "up" and s.matchers for s in r.selectors) or any(
        b.op == "==" and b.lhs.metric == "up" for b in r.binaries)
    if up and not up_guard:
        causes.append(f"relies on `{up[0]}` alone, which has no sample at all when the exporter cannot be "
                      "scraped (exporter down, or its scrape timing out while the database is unreachable); "
                      "`up{job=...} == 0` covers that case")
    matchers = [m for s in r.selectors for m in s.matchers]
    if any((m.name, m.op, m.value) == ("status", "=", "200") for m in matchers):
        causes.append('success is counted as status="200" only: 201 Created (bet placement) and other 2xx '
                      "are counted as failures")
    if any((m.name, m.op, m.value) == ("state", "=", "active") for m in matchers) and (
            "connections" in rule.name.lower() or any("connections" in m for m in r.metrics)):
        causes.append('counts only state="active" connections: idle connections that hold slots are missed')
    if any(s.call == "avg_over_time" and _RATIO_RECORD.match(s.metric) for s in r.selectors):
        causes.append("averages a ratio recording rule over a long window: the ratio is NaN (0/0) whenever there is "
                      "no traffic, and a single NaN sample makes avg_over_time NaN for the whole window, so after any "
                      "idle period the error budget is blind (neither alert can fire) until the NaN leaves the window")
    if "time" in r.functions:
        causes.append("compares against time(): its threshold is in wall-clock seconds and is not compressed")
    if "histogram_quantile" in r.functions and any("query_duration_seconds" in m for m in r.metrics) \
            and "query_name" not in r.labels:
        causes.append("one latency threshold for every query_name: the bet-placement and report queries have "
                      "other SLOs (50 ms, 10 ms), so the 5 ms threshold fires for them under healthy load")
    return causes


def exported_metric(catalog: Catalog) -> Callable[[str], bool]:
    """Is a metric exported by the stack (its exporters, the API, the backup job) or recorded by a rule?"""
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
            if v.check == "pages":   # by meaning: the pager receivers' own problems
                causes = [c for r in catalog.receivers_by_role.get("pager", ()) for c in receiver_causes(catalog, r)]
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
    try:
        functions = read(expr).functions if expr.strip() else ()
    except PromQLSyntaxError:
        functions = ()
    if "histogram_quantile" in functions:
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
