"""``pages``: someone is paged (true) or nobody is (false), whatever the alerts and receivers are called.

A page is a delivery the receiver's API accepts, to a receiver whose integration is a pager (PagerDuty,
Opsgenie, ...: harness.core.roles). The alerts that can page are those the routing tree sends to one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    AFTER,
    WITHIN,
    ExpectKind,
    Judge,
    Observed,
    after_problems,
    fault_time,
    notify_bounds,
)
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.catalog import Catalog
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario

ROLE = "pager"


def pagers(catalog: Catalog) -> tuple[list[str], list[str]]:
    """(paging receivers, alerts the routing tree sends to one of them)."""
    receivers = list(catalog.receivers_by_role.get(ROLE, ()))
    alerts = [a for a in sorted(catalog.alerts) if set(catalog.routed_to(a)) & set(receivers)]
    return receivers, alerts


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    if e.subject not in ("true", "false"):
        return [e.where.error("pages", f"must be true or false, got {e.subject!r}")]
    problems = []
    if ctx.receivers and not ctx.receiver_roles.get(ROLE):
        problems.append(e.where.error("pages", "no receiver of the Alertmanager config is a pager (PagerDuty, "
                                      "Opsgenie, ...)", hint="receivers by role: " + (", ".join(
                                          f"{r}: {', '.join(n)}" for r, n in sorted(ctx.receiver_roles.items()))
                                          or "(none)")))
    if e.subject == "true":
        problems += after_problems(scn, e)
    return problems


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    receivers, alerts = pagers(judge.catalog)
    subject = f"role:{ROLE}"
    if e.subject == "false":
        return [V.delivered_none(seen.events, "pages", subject, alerts=alerts, receivers=receivers,
                                 start=seen.t0, end=seen.end, unjudged=unjudged(judge, seen, alerts, receivers))]
    scn = seen.scenario
    within, floors = notify_bounds(judge, scn, e, alerts)
    return [V.delivered_any(seen.events, "pages", subject, alerts=alerts, receivers=receivers,
                            since=fault_time(scn, e, seen.fault_times, 0), within=within, until=seen.end,
                            min_latency=floors)]


def unjudged(judge: Judge, seen: Observed, alerts: list[str], receivers: list[str]) -> dict[str, str]:
    """Alerts that paged (or fired, routed to a pager) in the window only on windows too sparse to resolve their
    thresholds, with why: judged like ``silent`` judges them, not failed on a single slow call."""
    delivered = {a for _, a in V.deliveries(seen.events, receivers, start=seen.t0, end=seen.end)}
    out: dict[str, str] = {}
    for a in sorted((set(alerts) | delivered) & set(judge.catalog.alerts)):
        firing = [iv for iv in V.alert_intervals(seen.events, a) if iv.overlaps(seen.t0, seen.end)]
        if not firing:
            continue
        sparse = judge.sparse_firing(seen.events, a, None, seen.t0, seen.end)
        if all(any(all(iv.labels.get(k) == v for k, v in group.items()) for group, _ in sparse) for iv in firing):
            out[a] = "; ".join(why for _, why in sparse)
    return out


def expected(e: Expectation, catalog: Catalog) -> list[str]:
    return pagers(catalog)[1] if e.subject == "true" else []


KIND = ExpectKind(
    name="pages", subject="true or false",
    doc="By meaning, for any pack: `true`: after the fault starts, some alert that was not already firing is "
        "delivered to a paging receiver (one whose integration is PagerDuty, Opsgenie, ...) within the bound; "
        "`false`: during the whole scenario nothing is delivered to a paging receiver and no alert the routing "
        "tree sends there is firing. The default bound is the largest notification bound of the alerts that "
        "route to a pager.",
    fields=(WITHIN, AFTER),
    example={"pages": True, "within": "3m"},
    validate=validate, evaluate=evaluate, expected=expected,
)
