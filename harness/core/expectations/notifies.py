"""``notifies``: an alert with these labels reaches each listed receiver (or role), whatever it is called."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core import verdict as V
from harness.core.errors import ValidationError
from harness.core.expectations.base import (
    AFTER,
    LIST,
    MAP,
    WITHIN,
    ExpectKind,
    Field,
    Judge,
    Observed,
    after_problems,
    fault_time,
    notify_bounds,
    receiver_problems,
)
from harness.core.result import Verdict

if TYPE_CHECKING:
    from harness.core.catalog import Catalog
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario


def validate(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    return receiver_problems(e, ctx) + after_problems(scn, e)


def expected(e: Expectation, catalog: Catalog) -> list[str]:
    return catalog.matching(e.params["match"])


def evaluate(judge: Judge, e: Expectation, seen: Observed) -> list[Verdict]:
    catalog, scn = judge.catalog, seen.scenario
    alerts = expected(e, catalog)
    refs = [str(r) for r in e.params.get("receivers", [])] or sorted(catalog.receivers)
    members = catalog.resolve_receivers(refs)
    within, floors = notify_bounds(judge, scn, e, alerts)
    since = fault_time(scn, e, seen.fault_times, 0)
    if "receivers" not in e.params:   # any receiver will do
        return [V.delivered_any(seen.events, "notifies", e.subject, alerts=alerts,
                                receivers=[n for ns in members.values() for n in ns], since=since, within=within,
                                until=seen.end, min_latency=floors)]
    return [V.delivered_any(seen.events, "notifies", f"{e.subject} to {ref}", alerts=alerts,
                            receivers=list(members[ref]), since=since, within=within, until=seen.end,
                            min_latency=floors) for ref in refs]


KIND = ExpectKind(
    name="notifies", subject="label map", subject_value=MAP,
    doc="By meaning, for any pack: after the fault starts, some alert whose labels include these (its static "
        "labels, and its name as `alertname`) and that was not already firing is delivered to each listed "
        "receiver or role within the bound (to any receiver when none is listed). The default bound is the "
        "largest notification bound of the matching alerts.",
    fields=(Field("receivers", LIST, "receivers (or roles) each of which must get it", default="any receiver"),
            WITHIN, AFTER),
    example={"notifies": {"severity": "warning"}, "receivers": ["role:chat"]},
    validate=validate, evaluate=evaluate, expected=expected,
)
