"""The API's calibrated faults with real Postgres and Redis: an exact share of 500s counted by the API's own
metrics, a cache serving the requested share of hits, latency added to one named query and nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api_services import get_json, metric_value, request_json, running_services

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with running_services(replica=True, redis=True, scale=0.1) as svc:
        url, _ = svc.start_api()
        yield url


def _control(api: str, method: str, kind: str, params: dict | None = None) -> dict:
    status, body = request_json(method, f"{api}/admin/faults/{kind}",
                                None if params is None else json.dumps(params).encode())
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def _metrics(api: str) -> str:
    status, text = get_json(api + "/metrics")
    assert status == 200 and isinstance(text, str)
    return text


def test_error_ratio_fails_exactly_every_nth_request_and_the_metrics_count_it(api: str) -> None:
    before = metric_value(_metrics(api), "http_requests_total", method="GET", endpoint="/api/active-bets",
                          status="500")
    _control(api, "POST", "error_ratio", {"ratio": 0.04, "endpoint": "/api/active-bets"})
    statuses = [get_json(api + "/api/active-bets")[0] for _ in range(100)]
    other = [get_json(api + "/api/reports/daily-volume")[0] for _ in range(30)]
    achieved = _control(api, "DELETE", "error_ratio")["achieved"]
    assert [i + 1 for i, s in enumerate(statuses) if s == 500] == [25, 50, 75, 100]
    assert set(statuses) == {200, 500} and set(other) == {200}
    assert achieved == {"requests": 100, "errors": 4, "achieved_ratio": 0.04}
    after = metric_value(_metrics(api), "http_requests_total", method="GET", endpoint="/api/active-bets",
                         status="500")
    assert after - before == 4
    assert get_json(api + "/api/active-bets")[0] == 200  # cleared


def test_cache_hit_ratio_serves_the_requested_share_of_hits(api: str) -> None:
    get_json(api + "/api/active-bets")  # warm the key
    text = _metrics(api)
    hits0 = metric_value(text, "cache_requests_total", cache_name="active_bets", result="hit")
    miss0 = metric_value(text, "cache_requests_total", cache_name="active_bets", result="miss")
    _control(api, "POST", "cache_hit_ratio", {"ratio": 0.6})
    for _ in range(50):
        assert get_json(api + "/api/active-bets")[0] == 200
    achieved = _control(api, "DELETE", "cache_hit_ratio")["achieved"]
    text = _metrics(api)
    hits = metric_value(text, "cache_requests_total", cache_name="active_bets", result="hit") - hits0
    misses = metric_value(text, "cache_requests_total", cache_name="active_bets", result="miss") - miss0
    assert achieved["reads"] == 50 and achieved["forced_misses"] == 20
    assert (hits, misses) == (achieved["hits"], 50 - achieved["hits"])
    # The 5 s TTL may expire once during the 50 reads: a natural miss, which only lowers the share.
    assert 28 <= hits <= 30


def test_query_latency_slows_one_query_and_nothing_else(api: str) -> None:
    _control(api, "POST", "query_latency", {"query": "query4", "latency_ms": 300})
    text0 = _metrics(api)
    for _ in range(10):
        assert get_json(api + "/api/reports/daily-volume")[0] == 200
        assert get_json(api + "/api/users/3/bets")[0] == 200
    achieved = _control(api, "DELETE", "query_latency")["achieved"]
    text = _metrics(api)

    def slow(query: str) -> float:  # observations above 100 ms during the fault
        le = "0.1"
        total = metric_value(text, "query_duration_seconds_count", query_name=query) - \
            metric_value(text0, "query_duration_seconds_count", query_name=query)
        fast = metric_value(text, "query_duration_seconds_bucket", query_name=query, le=le) - \
            metric_value(text0, "query_duration_seconds_bucket", query_name=query, le=le)
        return total - fast

    assert achieved["calls"] == 10 and achieved["min_ms"] >= 300
    assert slow("query4") == 10
    assert slow("query2") == 0
