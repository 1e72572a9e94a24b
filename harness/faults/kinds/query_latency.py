"""``query_latency``: latency added to one named query inside the API (harness.faults.calibrated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.core.topology import API_QUERIES
from harness.faults.calibrated import QueryLatencyFault
from harness.faults.kinds.schema import SERVICE, FaultKind, Param, choice

if TYPE_CHECKING:
    from harness.load.records import RequestRecords

# The endpoint each named query serves (stack/api/README.md); Query 1 runs only on a cache miss.
QUERY_ENDPOINTS = {"query1": "GET /api/active-bets", "place_bet": "POST /api/bets",
                   "query2": "GET /api/users/{id}/bets", "query3": "GET /api/markets/{id}/exposure",
                   "query4": "GET /api/reports/daily-volume"}


def _below_db_deadline(v: Any) -> str | None:
    # The API bounds every database call by its 1 s deadline (BETTING_DB_TIMEOUT_S): more is a 503, not latency.
    return None if 0 < v < 1000 else f"must be in (0, 1000) ms (the API's database deadline is 1 s), got {v!r}"


def ground_truth(params: Mapping[str, Any], rec: RequestRecords) -> dict[str, Any]:
    """Ground truth sees the endpoint, not the query: its latency during the fault, for the report."""
    from harness.faults.achieved import latency_of  # numpy, only when a report needs it

    endpoint = QUERY_ENDPOINTS.get(str(params.get("query")))
    return {} if endpoint is None else latency_of(rec, endpoint)


KIND = FaultKind(
    name="query_latency", group=SERVICE, service="api", one_at_a_time=True, ground_truth=ground_truth,
    doc="add latency_ms to one named query, and to nothing else",
    params={
        "query": Param(str, required=True, check=choice(API_QUERIES), doc="the query to slow down"),
        "latency_ms": Param(float, required=True, check=_below_db_deadline, doc="milliseconds added to each call"),
    },
    build=lambda faults, target, params, fault_id: QueryLatencyFault(
        faults.stack, fault_id=fault_id, session=faults.session, **params),
    example={"kind": "query_latency", "start": "2m", "duration": "10m",
             "params": {"query": "query2", "latency_ms": 40}},
)
