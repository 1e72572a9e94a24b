"""``notified``: the alert's notification reaches these receivers (or roles) within the bound, and not others."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    AFTER,
    LIST,
    NOTIFY,
    WITHIN,
    ExpectKind,
    Field,
    Judge,
    Observed,
    after_problems,
    alert_problems,
    fault_time,
    receiver_problems,
)
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    return alert_problems(e, e.subject, ctx, "notified") + receiver_problems(e, ctx) + after_problems(scn, e)


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    receivers = [str(r) for r in e.params.get("receivers", [])]
    not_receivers = [str(r) for r in e.params.get("not_receivers", [])]
    catalog = judge.catalog
    return V.notified(seen.events, e.subject, receivers=receivers, not_receivers=not_receivers,
                      since=fault_time(seen.scenario, e, seen.fault_times, 0), within=judge.within(seen.scenario, e),
                      until=seen.end,
                      min_latency=judge.timing.min_notify(catalog.rule(e.subject), catalog.group_wait_s),
                      members=catalog.resolve_receivers(receivers + not_receivers))


KIND = ExpectKind(
    name="notified", subject="alert", names_alert=True, judges_state=True, expects_firing=True, bound=NOTIFY,
    doc="The alert's notification reaches every listed receiver within the bound and none of `not_receivers` "
        "for the rest of the scenario. A receiver is a name of the Alertmanager config or a role "
        "(role:pager, role:chat, role:email, role:webhook).",
    fields=(Field("receivers", LIST, "receivers (or roles) that must be notified", default="[]"),
            Field("not_receivers", LIST, "receivers (or roles) that must not be notified", default="[]"),
            WITHIN, AFTER),
    example={"notified": "PostgreSQLDown", "receivers": ["role:pager"], "not_receivers": ["slack-warnings"]},
    validate=validate, evaluate=evaluate,
)
