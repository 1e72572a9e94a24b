"""The API's metric definitions and the hard-deadline helper: pure, no services."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "api"))

from betting_api.deadline import DeadlineExceeded, pending_cleanups, within
from betting_api.metrics import HTTP_BUCKETS, QUERY_BUCKETS, SLO_THRESHOLDS_S, ApiMetrics


def test_every_slo_threshold_is_a_bucket_bound() -> None:
    for threshold in SLO_THRESHOLDS_S:
        assert threshold in HTTP_BUCKETS
        assert threshold in QUERY_BUCKETS
    assert QUERY_BUCKETS == (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)  # the guide's list, unchanged


def test_exposition_has_the_guides_names_and_labels() -> None:
    metrics = ApiMetrics()
    metrics.http_requests.labels("GET", "/api/active-bets", "200").inc()
    metrics.http_duration.labels("GET", "/api/active-bets").observe(0.004)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    assert families["http_requests"].type == "counter"
    assert families["http_request_duration_seconds"].type == "histogram"
    labels = {name: set(s.labels) for name, f in families.items() for s in f.samples[:1]}
    assert labels["http_requests"] == {"method", "endpoint", "status"}
    assert labels["query_duration_seconds"] == {"query_name", "le"}
    assert labels["cache_requests"] == {"cache_name", "result"}
    assert labels["db_pool_connections"] == {"pool", "state"}
    query_names = {s.labels["query_name"] for s in families["query_duration_seconds"].samples}
    assert query_names == {"query1", "place_bet", "query2", "query3", "query4"}
    le = [s.labels["le"] for s in families["http_request_duration_seconds"].samples if s.name.endswith("_bucket")]
    assert "0.005" in le and "1.0" in le
    bucket_005 = next(s.value for s in families["http_request_duration_seconds"].samples
                      if s.name.endswith("_bucket") and s.labels["le"] == "0.005")
    assert bucket_005 == 1.0


def test_within_returns_result() -> None:
    async def quick() -> int:
        return 7

    assert asyncio.run(within("quick", 1.0, quick)) == 7


def test_within_does_not_wait_for_a_slow_cleanup() -> None:
    """A call whose cancellation itself takes long (psycopg on a dead socket) must not hold the caller."""

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cleanup slower than the deadline
            raise

    async def scenario() -> tuple[float, int]:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"stubborn did not answer within 0\.010s"):
            await within("stubborn", 0.01, stubborn)
        took = time.monotonic() - started
        during = pending_cleanups()
        await asyncio.sleep(0.1)
        return took, during - pending_cleanups()

    took, cleaned = asyncio.run(scenario())
    assert took < 0.04
    assert cleaned == 1  # the cancelled call finished cleaning up in the background and was forgotten


def test_every_routes_server_error_series_exists_at_zero_before_the_first_error() -> None:
    metrics = ApiMetrics()
    metrics.routes([("GET", "/api/active-bets"), ("POST", "/api/bets")])
    samples = [s for f in text_string_to_metric_families(metrics.render().decode()) if f.name == "http_requests"
               for s in f.samples if s.name == "http_requests_total"]
    zero = {(s.labels["method"], s.labels["endpoint"], s.labels["status"]) for s in samples if s.value == 0}
    assert zero == {(m, p, st) for m, p in [("GET", "/api/active-bets"), ("POST", "/api/bets")]
                    for st in ("500", "503")}
