"""``fires``: the alert fires within its bound after a fault starts, and not before the fault could show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    AFTER,
    FIRE,
    LABELS,
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
    return alert_problems(e, e.subject, ctx, "fires") + after_problems(scn, e)


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    rule = judge.catalog.rule(e.subject)
    return [V.fires_within(seen.events, e.subject, since=fault_time(seen.scenario, e, seen.fault_times, 0),
                           within=judge.within(seen.scenario, e), labels=e.params.get("labels"),
                           min_latency=judge.timing.min_fire(rule))]


KIND = ExpectKind(
    name="fires", subject="alert", names_alert=True, judges_state=True, expects_firing=True, bound=FIRE,
    doc="The alert fires within the bound after the fault starts. Firing before the earliest instant the fault "
        "could show fails, and so does an alert already firing when the fault began.",
    fields=(WITHIN, AFTER, LABELS),
    example={"fires": "RedisDown", "within": "2m"},
    validate=validate, evaluate=evaluate,
)
