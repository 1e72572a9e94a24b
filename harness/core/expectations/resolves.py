"""``resolves``: the alert resolves within its bound after the fault ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    AFTER,
    LABELS,
    RESOLVE,
    WITHIN,
    ExpectKind,
    Judge,
    Observed,
    after_problems,
    alert_problems,
    fault_time,
)
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    return alert_problems(e, e.subject, ctx, "resolves") + after_problems(scn, e)


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    return [V.resolves_within(seen.events, e.subject, since=fault_time(seen.scenario, e, seen.fault_times, 1),
                              within=judge.within(seen.scenario, e), labels=e.params.get("labels"))]


KIND = ExpectKind(
    name="resolves", subject="alert", names_alert=True, judges_state=True, bound=RESOLVE,
    doc="The alert resolves within the bound after the fault ends (observation continues past the scenario's "
        "end until the bound, and so does the load: with no traffic a ratio or a quantile has no value, and its "
        "alert would resolve though nothing recovered).",
    fields=(WITHIN, AFTER, LABELS),
    example={"resolves": "RedisDown", "within": "5m"},
    validate=validate, evaluate=evaluate,
)
