"""Latency budgets: per endpoint, the exact pXX from ground truth must be at most a budget."""

from __future__ import annotations

from dataclasses import dataclass

from harness.load.records import RequestRecords
from harness.slo.math import latency_sli, percentile


@dataclass(frozen=True)
class LatencyBudgetResult:
    endpoint: str          # "METHOD /path" or "/path"
    quantile: float        # e.g. 0.95
    budget_s: float
    observed_s: float      # exact nearest-rank percentile; NaN with no requests
    share_within: float    # share of requests <= budget (>= quantile exactly when the budget holds)
    requests: int

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.observed_s <= self.budget_s


def check_latency_budgets(records: RequestRecords, budgets: dict[str, float], quantile: float = 0.95, *,
                          from_intended: bool = True) -> list[LatencyBudgetResult]:
    """``budgets`` maps "/path" or "METHOD /path" to seconds. Latency counts from the intended start
    (open model: queueing in the generator is the server's fault) unless ``from_intended`` is False.
    Requests without a response count too: a timed-out request waited at least that long.
    """
    out = []
    for endpoint, budget in budgets.items():
        rec = records.for_endpoints([endpoint])
        lat = rec.latency if from_intended else rec.service_time
        out.append(LatencyBudgetResult(endpoint, quantile, budget, percentile(lat, quantile),
                                       latency_sli(lat, budget), len(rec)))
    return out


def per_endpoint_percentiles(records: RequestRecords, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
                             ) -> dict[str, dict[float, float]]:
    keys = sorted({f"{m} {e}" for m, e in zip(records.method.tolist(), records.endpoint.tolist(), strict=True)})
    return {k: {q: percentile(records.for_endpoints([k]).latency, q) for q in quantiles} for k in keys}

