"""``error_ratio``: the API answers 500 to an exact share of requests (harness.faults.calibrated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.core.topology import API_ROUTES
from harness.faults.calibrated import ErrorRatioFault
from harness.faults.kinds.schema import SERVICE, FaultKind, Param, choice, fraction

if TYPE_CHECKING:
    from harness.load.records import RequestRecords


def ground_truth(params: Mapping[str, Any], rec: RequestRecords) -> dict[str, Any]:
    """The 5xx share of the fault's endpoint (or of every request) as the clients saw it."""
    from harness.faults.achieved import error_share  # numpy, only when a report needs it

    endpoint = params.get("endpoint")
    return error_share(rec.for_endpoints([str(endpoint)]) if endpoint else rec)


KIND = FaultKind(
    name="error_ratio", group=SERVICE, service="api", one_at_a_time=True, ground_truth=ground_truth,
    doc="the API answers 500 to exactly this share of one endpoint's (or all) requests",
    params={
        "ratio": Param(float, required=True, check=fraction, doc="share of requests answered 500 (every Nth)"),
        "endpoint": Param(str, check=choice(API_ROUTES),
                          doc="one route template, e.g. /api/active-bets (default: one counter over all requests)"),
    },
    build=lambda faults, target, params, fault_id: ErrorRatioFault(
        faults.stack, fault_id=fault_id, session=faults.session, **params),
    example={"kind": "error_ratio", "start": "2m", "duration": "10m",
             "params": {"ratio": 0.02, "endpoint": "/api/bets"}},
)
