"""``error_budget``: a budget recording rule starts where the history puts it and consumes what ground truth says."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.errors import ValidationError
from harness.core.expectations.base import SHARE, ExpectKind, Field, Judge, Observed, share, suggest
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


FIELDS = (Field("objective", SHARE, "the SLO's objective (0.999 or 99.9%)", required=True),
          Field("consumed", SHARE, "the share of the budget the scenario consumes, from ground truth",
                required=True),
          Field("start", SHARE, "the remaining budget the history sets"),
          Field("tolerance", SHARE, "allowed difference, in shares of the budget", default=0.01))


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    errors: list[ValidationError] = []
    if scn.history is None:
        errors.append(e.where.error("error_budget", "needs the scenario's `history:` (the budget's window before "
                                    "the run)", hint="e.g. history: {window: 30d, good_ratio: 0.9998}"))
    if ctx.records and e.subject not in ctx.records:
        errors.append(e.where.error("error_budget", f"recording rule {e.subject!r} is not in the loaded rule packs",
                                    hint=suggest(e.subject, ctx.records)))
    for f in FIELDS:
        if f.name not in e.params:
            if f.required:
                errors.append(e.where.error(f"error_budget.{f.name}", "missing",
                                            hint="e.g. objective: 0.999, consumed: 3%, tolerance: 1%"))
            continue
        try:
            share(e.params[f.name], e.at(f.name), f"error_budget.{f.name}")
        except ValidationError as exc:
            errors.append(exc)
    return errors


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    return judge.budget_verdicts(seen.scenario, e, seen.records_path, seen.t0, seen.end)


KIND = ExpectKind(
    name="error_budget", subject="recording rule",
    doc="A recording rule of the remaining error budget: at the start it holds the level the scenario's "
        "`history:` sets, it follows ground truth (history plus every request the API counted), and the scenario "
        "consumes the stated share of the budget.",
    fields=FIELDS,
    example={"error_budget": "slo:api:error_budget:remaining", "objective": 0.999, "start": "21%",
             "consumed": "2.85%", "tolerance": "1%"},
    validate=validate, evaluate=evaluate,
)
