"""Calibrated service faults: the API holds a measured quantity at a requested value (an exact error ratio, a
cache hit ratio, a query's added latency) through its control interface ``/admin/faults/{kind}``
(stack/api/betting_api/control.py). Deterministic inside the service (every Nth request, not a coin flip);
what each achieved, as the API counted it, is in the fault's end event and in ``achieved``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from harness.core.errors import HarnessError
from harness.core.protocols import FaultTarget
from harness.faults.fault import Fault
from harness.faults.target import service_url

HTTP_TIMEOUT_S = 5.0


class ApiControlFault(Fault):
    """POST the fault's parameters to the API's control interface; DELETE at the end returns what it achieved."""

    def __init__(self, target: FaultTarget, *, fault_id: str, session: requests.Session,
                 params: Mapping[str, Any]) -> None:
        super().__init__(target, fault_id=fault_id, target_name="api", params=params)
        self.session = session

    @property
    def control_url(self) -> str:
        return service_url(self._target, "api", f"/admin/faults/{self.kind}", what="API",
                           hint="calibrated faults act inside the sample betting API")

    def _call(self, method: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self.session.request(method, self.control_url, json=None if body is None else dict(body),
                                        timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as exc:
            raise HarnessError(f"the API's control interface is unreachable at {self.control_url}",
                               detail=f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 404:
            raise HarnessError(f"the API has no control interface at {self.control_url} (HTTP 404)",
                               hint="calibrated faults need the sample API of this repository (stack/api), "
                               "or an API that serves /admin/faults/{kind}")
        if resp.status_code >= 300:
            raise HarnessError(f"the API refused {method} {self.control_url}: HTTP {resp.status_code}",
                               detail=f"request: {dict(body or {})}\nreply: {resp.text[:500]}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise HarnessError(f"the API's control interface answered non-JSON to {method}",
                               detail=resp.text[:500]) from exc
        return data if isinstance(data, dict) else {"reply": data}

    def _apply(self) -> Mapping[str, Any]:
        state = self._call("POST", self.params)
        if state.get("multiprocess"):
            self._call("DELETE")
            raise HarnessError("the API runs several worker processes: a control request reaches only one, so "
                               f"{self.kind} would hold its value in that worker alone",
                               hint="run the stack with --api-workers 1 for calibrated faults")
        return {"api_pid": state.get("pid")}

    def _undo(self) -> Mapping[str, Any]:
        reply = self._call("DELETE")
        achieved = reply.get("achieved")
        self.achieved = dict(achieved) if isinstance(achieved, dict) else {}
        return {"achieved": self.achieved}


class ErrorRatioFault(ApiControlFault):
    """The API answers 500 to exactly ``ratio`` of one endpoint's requests, or of all requests."""

    kind = "error_ratio"

    def __init__(self, target: FaultTarget, *, fault_id: str, session: requests.Session, ratio: float,
                 endpoint: str | None = None) -> None:
        params: dict[str, Any] = {"ratio": ratio}
        if endpoint is not None:
            params["endpoint"] = endpoint
        super().__init__(target, fault_id=fault_id, session=session, params=params)


class CacheHitRatioFault(ApiControlFault):
    """At most ``ratio`` of active-bets reads are served from the cache; the others are real misses."""

    kind = "cache_hit_ratio"

    def __init__(self, target: FaultTarget, *, fault_id: str, session: requests.Session, ratio: float) -> None:
        super().__init__(target, fault_id=fault_id, session=session, params={"ratio": ratio})


class QueryLatencyFault(ApiControlFault):
    """``latency_ms`` added to one named query (query1, place_bet, query2..query4) and to nothing else."""

    kind = "query_latency"

    def __init__(self, target: FaultTarget, *, fault_id: str, session: requests.Session, query: str,
                 latency_ms: float) -> None:
        super().__init__(target, fault_id=fault_id, session=session,
                         params={"query": query, "latency_ms": latency_ms})
