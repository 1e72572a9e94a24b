"""The ``slo`` expectation: a ground-truth SLI over the scenario's window against its objective, plus the
comparison with what Prometheus computed (raw counters and the pack's recording rules) for the report.

    - slo: api-availability-5xx          # an SLO name from the spec
      spec: stack/slo/betting.yaml       # default
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.config import STACK_DIR
from harness.core.model import Expectation
from harness.core.result import FAIL, PASS, Verdict
from harness.load.records import RequestRecords, read_records
from harness.observe.prometheus import PrometheusClient
from harness.slo import math as slo_math
from harness.slo.compare import compare_window
from harness.slo.spec import SLO, load_slo_spec

DEFAULT_SPEC = STACK_DIR / "slo" / "betting.yaml"
# Recording rules the comparison knows how to hold against ground truth: (SLI kind, threshold, window).
KNOWN_RECORDS: dict[str, tuple[str, float | None, float]] = {
    "slo:api:availability:ratio": ("availability", None, 300.0),
    # PetForce: "Latency SLI (% of requests < 500ms)": the share of requests answered within 0.5 s.
    "slo:api:latency:ratio": ("latency", 0.5, 300.0),
}


def slo_sli(rec: RequestRecords, slo: SLO) -> tuple[float, slo_math.ErrorBudget]:
    """The SLO's SLI over ``rec`` and its error budget (transport errors count as bad)."""
    rec = rec.for_endpoints(list(slo.endpoints))
    if slo.sli == "availability":
        good = slo_math.GOOD_PREDICATES[slo.good](rec.status, rec.error)
    else:
        good = (rec.status > 0) & (rec.latency <= float(slo.threshold_s or 0.0))
    return slo_math.availability(good), slo_math.error_budget(good, slo.objective)


def check_slo(stack: Any, e: Expectation, records_path: Path, t0: float, end: float, *, time_scale: float,
              scrape_interval_s: float, records: frozenset[str] = frozenset()) -> tuple[list[Verdict],
                                                                                        list[dict[str, Any]]]:
    spec_path = Path(e.params.get("spec", DEFAULT_SPEC))
    spec = load_slo_spec(spec_path)
    try:
        slo = spec.get(e.subject)
    except KeyError:
        names = ", ".join(s.name for s in spec.slos)
        return [Verdict("slo", e.subject, FAIL, "an SLO of the spec", f"no SLO {e.subject!r} in {spec_path} "
                        f"(has {names})")], []
    clock = stack.clock
    rec = read_records(records_path).between(clock.mono_start + t0, clock.mono_start + end)
    sli, budget = slo_sli(rec, slo)
    what = f"{slo.sli}" + (f" <= {slo.threshold_s * 1000:g} ms" if slo.threshold_s else f" ({slo.good})")
    expected = f"{what} >= {slo.objective:.4%}"
    if math.isnan(sli):
        verdict = Verdict("slo", slo.name, FAIL, expected, "no requests in the window")
    else:
        tier = slo_math.policy_tier(budget.remaining, spec.policy)
        verdict = Verdict("slo", slo.name, PASS if sli >= slo.objective else FAIL, expected,
                          f"{sli:.4%} over {budget.total} requests ({budget.bad} bad); budget consumed "
                          f"{budget.consumed:.1%}, policy: {tier.name}",
                          window=(t0, end), evidence={"sli": sli, "total": budget.total, "bad": budget.bad})
    rows: list[dict[str, Any]] = [{
        "slo": slo.name, "sli": slo.sli, "objective": slo.objective, "ground_truth": sli,
        "requests": budget.total, "bad": budget.bad, "budget_consumed": budget.consumed,
        "burn_rate": slo_math.burn_rate(budget.bad, budget.total, slo.objective) if budget.total else None,
        "policy_tier": slo_math.policy_tier(budget.remaining, spec.policy).name if budget.total else None,
    }]
    compared = compare_rows(stack, rec, slo, t0, end, time_scale=time_scale, scrape_interval_s=scrape_interval_s,
                            records=records)
    return [verdict, *record_verdicts(compared, t0, end)], rows + compared


def record_verdicts(rows: list[dict[str, Any]], t0: float, end: float) -> list[Verdict]:
    """One verdict per recording rule held against ground truth: within its bound, or a finding."""
    out = []
    for r in rows:
        name = str(r.get("sli", ""))
        if not name.startswith("recording rule "):
            continue
        rule = name.removeprefix("recording rule ")
        expected = f"within ±{r['bound']:.5f} of the ground truth {r['ground_truth']:.5f}"
        observed = f"{r['prometheus']:.5f} (difference {r['difference']:+.5f}; {r.get('note', '')})"
        out.append(Verdict("record", rule, PASS if r["within_bound"] else FAIL, expected, observed,
                           window=(t0, end), evidence={"promql": r.get("query", rule)}))
    return out


def compare_rows(stack: Any, rec: RequestRecords, slo: SLO, t0: float, end: float, *, time_scale: float,
                 scrape_interval_s: float, records: frozenset[str]) -> list[dict[str, Any]]:
    """Ground truth beside Prometheus for the window; the differences and their bounds."""
    rules: dict[str, tuple[str, float | None, float]] = {
        name: (kind, thr, window / time_scale) for name, (kind, thr, window) in KNOWN_RECORDS.items()
        if name in records}
    report = compare_window(rec, PrometheusClient(stack.urls["prometheus"]), stack.clock, t0, end,
                            scrape_interval_s=scrape_interval_s, endpoints=list(slo.endpoints),
                            latency_thresholds_s=[slo.threshold_s] if slo.threshold_s else [],
                            recording_rules=rules)
    out: list[dict[str, Any]] = [{"slo": slo.name, "sli": r.name, "ground_truth": r.truth,
                                  "prometheus": r.prometheus, "difference": r.difference, "bound": r.bound,
                                  "within_bound": r.within, "query": r.query, "note": r.note}
                                 for r in report.rows]
    cs = report.client_server
    if cs is not None:
        out.append({"slo": slo.name, "sli": "client vs server", "client_availability": cs.client_availability,
                    "server_availability": cs.server_availability, "unseen_by_api": cs.unseen_by_server,
                    "transport_errors": cs.transport_errors})
    out += [{"slo": slo.name, "flag": f} for f in report.flags]
    return out
