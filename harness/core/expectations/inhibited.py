"""``inhibited``: while the inhibiting alert is active, the alert reaches none of the receivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    LABELS,
    LIST,
    MAP,
    TEXT,
    ExpectKind,
    Field,
    Judge,
    Observed,
    alert_problems,
    missing,
    receiver_problems,
)
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    problems = alert_problems(e, e.subject, ctx, "inhibited") + receiver_problems(e, ctx)
    if "by" not in e.params or not e.params["by"]:
        return problems + missing(e, "by", hint="the alert that inhibits it")
    return problems + alert_problems(e, str(e.params["by"]), ctx, "inhibited.by")


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    members = judge.catalog.resolve_receivers(str(r) for r in e.params.get("receivers", []))
    return [V.inhibited(seen.events, e.subject, by=str(e.params["by"]), start=seen.t0, end=seen.end,
                        receivers=[n for ns in members.values() for n in ns], labels=e.params.get("labels"),
                        by_labels=e.params.get("by_labels"), poll_s=judge.poll_interval())]


KIND = ExpectKind(
    name="inhibited", subject="alert", names_alert=True,
    doc="While `by` is active, the alert reaches none of the receivers: the Alertmanager config's inhibit rules "
        "mute it. A delivery within one poll of the inhibitor's start or end is not counted as a leak.",
    fields=(Field("by", TEXT, "the alert that inhibits it", required=True),
            Field("receivers", LIST, "receivers (or roles) that must not get it while inhibited",
                  default="none: only Alertmanager's suppressed state is checked"),
            LABELS,
            Field("by_labels", MAP, "only the inhibiting alert's series with these labels")),
    example={"inhibited": "ConnectionPoolNearLimit", "labels": {"severity": "warning"},
             "by": "ConnectionPoolNearLimit", "by_labels": {"severity": "critical"}, "receivers": ["slack-warnings"]},
    validate=validate, evaluate=evaluate,
)
