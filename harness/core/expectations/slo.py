"""``slo``: the SLO's recorded SLI and error budget agree with ground truth computed from the load's records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.errors import ValidationError
from harness.core.expectations.base import TEXT, ExpectKind, Field, Judge, Observed, suggest
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    if ctx.slo_names and "spec" not in e.params and e.subject not in ctx.slo_names:
        return [e.where.error("slo", f"unknown SLO {e.subject!r}", hint=suggest(e.subject, ctx.slo_names))]
    return []


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    return judge.slo_verdicts(seen.scenario, e, seen.records_path, seen.t0, seen.end)


KIND = ExpectKind(
    name="slo", subject="SLO name",
    doc="The SLO's SLI, as the packs record it, matches ground truth from the load's records within tolerance, "
        "and so does its error budget.",
    fields=(Field("spec", TEXT, "the SLO spec file", default="stack/slo/betting.yaml"),),
    example={"slo": "api-availability-5xx"},
    validate=validate, evaluate=evaluate,
)
