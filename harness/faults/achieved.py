"""What a calibrated fault achieved according to ground truth: the raw request records of its window. Pure.

The API's own count (returned when the fault ends) says what the service did; the records say what the
users saw, including requests that never reached it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.faults.kinds.registry import KINDS
from harness.load.records import RequestRecords


def error_share(rec: RequestRecords) -> dict[str, Any]:
    """Requests, 5xx answers and their share (requests without an answer are counted apart)."""
    answered = rec.status > 0
    n = int(answered.sum())
    errors = int((answered & (rec.status >= 500)).sum())
    return {"requests": n, "errors_5xx": errors, "ratio": errors / n if n else None,
            "no_response": int((~answered).sum())}


def latency_of(rec: RequestRecords, endpoint: str) -> dict[str, Any]:
    """One endpoint's answered requests and their service-time percentiles."""
    sub = rec.for_endpoints([endpoint])
    lat = np.asarray(sub.service_time[sub.status > 0])
    if not len(lat):
        return {"endpoint": endpoint, "requests": 0}
    return {"endpoint": endpoint, "requests": len(lat), "p50_ms": float(np.percentile(lat, 50) * 1000),
            "p95_ms": float(np.percentile(lat, 95) * 1000)}


def from_records(kind: str, params: Mapping[str, Any], rec: RequestRecords) -> dict[str, Any]:
    """Ground-truth level of a fault over the requests that ended inside its window, as its kind reads them
    (empty when the records cannot tell, e.g. a cache hit is invisible to the client)."""
    entry = KINDS.get(kind)
    if entry is None or entry.ground_truth is None:
        return {}
    return entry.ground_truth(params, rec)
