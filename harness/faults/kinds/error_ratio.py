"""``error_ratio``: the API answers 500 to an exact share of requests (harness.faults.calibrated)."""

from harness.faults.calibrated import ErrorRatioFault
from harness.faults.kinds.schema import API_ROUTES, SERVICE, FaultKind, Param, choice, fraction

KIND = FaultKind(
    name="error_ratio", group=SERVICE, service="api", one_at_a_time=True,
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
