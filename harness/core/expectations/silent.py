"""``silent``: the alert is not firing at any instant of the window, carried-in state included."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.errors import ValidationError
from harness.core.expectations.base import DURATION, LABELS, ExpectKind, Field, Judge, Observed, alert_problems
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    return alert_problems(e, e.subject, ctx, "silent")


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    real = judge.timing.real
    start = seen.t0 + real(e.params.get("during_from", 0.0))
    stop = seen.t0 + real(e.params["during_to"]) if "during_to" in e.params else seen.end
    names = [e.subject] if e.subject != "*" else sorted(set(judge.catalog.alerts) - seen.expected_to_fire)
    return [judge.silent(seen.events, n, e.params.get("labels"), start, stop, pinned=e.subject != "*")
            for n in names]


KIND = ExpectKind(
    name="silent", subject="alert", names_alert=True, judges_state=True, wildcard=True,
    doc='The alert is not firing at any instant of the window, including a state carried in from before it. '
        '"*" stands for every alert the scenario does not expect to fire. Firing that began on a window too '
        'sparse to resolve the threshold is reported as not judged.',
    fields=(LABELS,
            Field("during_from", DURATION, "start of the window, after the scenario's start", default="0s"),
            Field("during_to", DURATION, "end of the window, after the scenario's start",
                  default="the scenario's end")),
    example={"silent": ["PostgreSQLDown", "ReplicationLagHigh"], "during_from": "5m"},
    validate=validate, evaluate=evaluate,
)
