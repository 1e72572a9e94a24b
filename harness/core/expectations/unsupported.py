"""``unsupported``: the alert cannot be exercised on this stack; the reason is reported, never a pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.errors import ValidationError
from harness.core.expectations.base import TEXT, ExpectKind, Field, Judge, Observed, alert_problems
from harness.core.result import UNSUPPORTED, Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    problems = alert_problems(e, e.subject, ctx, "unsupported")
    if not e.params.get("reason"):
        problems.append(e.where.error("unsupported.reason", "say why this alert cannot be exercised here"))
    return problems


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    return [Verdict("unsupported", e.subject, UNSUPPORTED, "exercised", str(e.params["reason"]))]


KIND = ExpectKind(
    name="unsupported", subject="alert", names_alert=True,
    doc="The alert cannot be exercised on this stack. The report lists the alert as unsupported with the reason "
        "(a skip under pytest). A scenario whose every expectation is unsupported is not run: it would judge "
        "nothing.",
    fields=(Field("reason", TEXT, "why, with the measurement that shows it", required=True),),
    example={"unsupported": "BackupFailed", "reason": "the stack has no backup job"},
    validate=validate, evaluate=evaluate,
)
