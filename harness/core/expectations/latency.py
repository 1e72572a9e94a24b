"""``latency``: the endpoint's latency percentile, from the load's own records, stays within the budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.durations import parse_duration
from harness.core.errors import ValidationError
from harness.core.expectations.base import DURATION, NUMBER, ExpectKind, Field, Judge, Observed, missing
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    problems = missing(e, "budget", hint="e.g. budget: 50ms")
    pct = e.params.get("percentile", 95)
    if not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 < pct < 100:
        problems.append(e.at("percentile").error("latency.percentile", f"must be in (0, 100), got {pct!r}"))
    return problems


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    lat = judge.latencies(seen.records_path, e.subject, seen.t0, seen.end)
    return [V.latency_budget(lat, e.subject, percentile=float(e.params.get("percentile", 95)),
                             budget=parse_duration(e.params["budget"]))]


KIND = ExpectKind(
    name="latency", subject="endpoint",
    doc="The endpoint's latency percentile over the scenario stays within the budget. Latencies are ground truth: "
        "the load generator's records, measured from each request's intended start.",
    fields=(Field("budget", DURATION, "the largest allowed latency (not time-scaled)", required=True),
            Field("percentile", NUMBER, "which percentile, in (0, 100)", default=95)),
    example={"latency": "/api/active-bets", "percentile": 95, "budget": "50ms"},
    validate=validate, evaluate=evaluate,
)
