"""Realistic history before a scenario, pure: the API's request counters over the window an SLO reads,
written as OpenMetrics for ``promtool tsdb create-blocks-from openmetrics``, and the counts they hold.

A 30-day error budget that starts from an empty history is a budget of the few thousand requests the run
makes: one error spends it all, and a fast burn "exhausts" it in seconds. In production the window holds
a month of traffic at the service's normal good ratio, so the budget starts at a level and a burn spends
what its share of that month's requests is worth. A scenario states that history::

    history:
      window: 30d          # production time before the scenario (the SLO's window)
      good_ratio: 0.9998   # the normal good ratio (here 20% of a 99.9% budget spent: 80% remains)
      rate: 30             # requests/s over that time; default: the scenario's load rate

and the harness backfills it at the scenario's scale: the window compressed like every window of the rules,
the requests at the rate the load runs in real time, so the history and the run weigh what they weigh in
production. The series carry ``instance="history"`` and ``endpoint="history"``, beside the API's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.core.result import FAIL, PASS, Verdict

METRIC = "http_requests_total"
LABELS = 'job="api",instance="history",endpoint="history",method="GET"'


@dataclass(frozen=True)
class History:
    window_s: float                  # production seconds
    good_ratio: float
    rate: float | None = None        # requests/s; None: the scenario's load rate


@dataclass(frozen=True)
class Backfill:
    """One history, placed on the wall clock at a scale: ``start``..``end`` real (unix) seconds."""

    history: History
    rate: float
    start: float
    end: float
    interval_s: float

    @classmethod
    def plan(cls, history: History, *, load_rate: float, scale: float, end: float, interval_s: float) -> Backfill:
        """``interval_s``: real seconds between samples (as scraped, or coarser while every range window
        over the counter still holds several)."""
        span = history.window_s / scale
        return cls(history, history.rate or load_rate, end - span, end, interval_s)

    def total_at(self, t: float) -> float:
        """Requests the history holds from its start up to unix time ``t``."""
        return self.rate * (min(max(t, self.start), self.end) - self.start)

    def counts(self, t_from: float, t_to: float) -> tuple[float, float]:
        """(requests, bad requests) of the history inside [t_from, t_to]."""
        total = max(0.0, self.total_at(t_to) - self.total_at(t_from))
        return total, total * (1 - self.history.good_ratio)

    def openmetrics(self) -> str:
        n = math.floor((self.end - self.start) / self.interval_s + 1e-9)
        times = [self.start + i * self.interval_s for i in range(n + 1)]
        if times[-1] < self.end:
            times.append(self.end)
        lines = ["# HELP http_requests Requests before the scenario (backfilled history).",
                 "# TYPE http_requests counter"]
        for status, share in (("200", self.history.good_ratio), ("500", 1 - self.history.good_ratio)):
            lines += [f'{METRIC}{{{LABELS},status="{status}"}} {self.total_at(t) * share:.6f} {t:.3f}'
                      for t in times]
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


def budget_remaining(total: float, bad: float, objective: float) -> float:
    """Share of the error budget left: 1 - (bad / total) / (1 - objective); 1 with no request."""
    return 1.0 - (bad / total) / (1.0 - objective) if total > 0 else 1.0


@dataclass(frozen=True)
class BudgetLevels:
    """The budget left at the scenario's start and end: from ground truth (history + every request the load
    made, as the API counts them) and as the recording rule computed it."""

    truth_start: float
    truth_end: float
    rule_start: float | None
    rule_end: float | None


def judge_budget(record: str, levels: BudgetLevels, *, consumed: float, tolerance: float,
                 start: float | None = None) -> list[Verdict]:
    """The scenario spends what it states (ground truth), and the record follows ground truth."""
    truth = levels.truth_start - levels.truth_end
    out = []
    if start is not None:
        ok_start = abs(levels.truth_start - start) <= tolerance
        out.append(Verdict("error_budget", f"{record} start", PASS if ok_start else FAIL,
                           f"{start:.1%} of the budget left at the start (ground truth, +-{tolerance:.1%})",
                           f"{levels.truth_start:.2%}"))
    out.append(Verdict("error_budget", f"{record} consumed", PASS if abs(truth - consumed) <= tolerance else FAIL,
                       f"{consumed:.1%} of the budget consumed (ground truth, +-{tolerance:.1%})",
                       f"{truth:.2%} consumed: {levels.truth_start:.2%} -> {levels.truth_end:.2%} left"))
    if levels.rule_start is None or levels.rule_end is None:
        out.append(Verdict("error_budget", f"{record} follows ground truth", FAIL, "the record follows ground truth",
                           "the record returned nothing at the start or the end of the scenario"))
        return out
    rule = levels.rule_start - levels.rule_end
    ok = abs(levels.rule_end - levels.truth_end) <= tolerance and abs(rule - truth) <= tolerance
    out.append(Verdict("error_budget", f"{record} follows ground truth", PASS if ok else FAIL,
                       f"the record follows ground truth (+-{tolerance:.1%}): {levels.truth_start:.2%} -> "
                       f"{levels.truth_end:.2%} left",
                       f"{levels.rule_start:.2%} -> {levels.rule_end:.2%} left ({rule:.2%} consumed)",
                       evidence={"truth": [levels.truth_start, levels.truth_end],
                                 "record": [levels.rule_start, levels.rule_end]}))
    return out
