"""The betting API's failure behaviour with real dependencies: Redis killed, primary partitioned or
restarted, replica partitioned. Bounded latency during the fault, recovery without restarting the API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from api_services import Services, SwitchableProxy, get_json, metric_value, request_json, running_services

pytestmark = pytest.mark.integration

DB_TIMEOUT_S = 0.5
# Scheduling slack on a busy 2-core machine: the bound under test is the timeout, not this.
SLACK_S = 0.4


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with running_services(replica=True, redis=True, scale=0.1) as svc:
        yield svc


@pytest.fixture(scope="module")
def open_market(services: Services) -> int:
    import psycopg

    with psycopg.connect(services.primary.dsn()) as conn:
        row = conn.execute("SELECT min(id) FROM markets WHERE status = 'open'").fetchone()
    assert row is not None
    return int(row[0])


def _bet(api: str, market: int, user: int = 3) -> tuple[int, object, float]:
    started = time.monotonic()
    status, body = request_json("POST", api + "/api/bets",
                                json.dumps({"user_id": user, "market_id": market, "stake": 1, "odds": 2}).encode())
    return status, body, time.monotonic() - started


def _until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_redis_killed_serves_from_postgres_and_recovers(services: Services) -> None:
    api, _ = services.start_api(extra_env={"BETTING_DB_TIMEOUT_S": str(DB_TIMEOUT_S)})
    assert get_json(api + "/api/active-bets")[0] == 200
    services.stop_redis()
    _, before = get_json(api + "/metrics")
    statuses = []
    for _ in range(10):
        started = time.monotonic()
        status, body = get_json(api + "/api/active-bets")
        statuses.append(status)
        assert time.monotonic() - started < 0.25 + DB_TIMEOUT_S + SLACK_S
        assert isinstance(body, dict) and len(body["bets"]) == 50
    assert statuses == [200] * 10
    _, during = get_json(api + "/metrics")
    assert isinstance(before, str) and isinstance(during, str)
    assert metric_value(during, "cache_fallback_total") > metric_value(before, "cache_fallback_total")
    assert metric_value(during, "http_requests_total", method="GET", endpoint="/api/active-bets", status="500") == 0
    ready = get_json(api + "/readyz")
    assert ready[0] == 200 and isinstance(ready[1], dict) and ready[1]["checks"]["redis"] is False

    services.start_redis()  # same port: the API's client reconnects on its own

    def hits() -> bool:
        get_json(api + "/api/active-bets")
        _, text = get_json(api + "/metrics")
        assert isinstance(text, str)
        return metric_value(text, "cache_requests_total", cache_name="active_bets", result="hit") > \
            metric_value(during, "cache_requests_total", cache_name="active_bets", result="hit")

    assert _until(hits, 10), "cache hits did not resume after Redis came back"


def test_primary_partitioned_bets_503_within_timeout_then_recover(services: Services, open_market: int) -> None:
    proxy = SwitchableProxy(services.primary.port)
    try:
        api, _ = services.start_api(primary_dsn=f"postgresql://postgres@127.0.0.1:{proxy.port}/betting",
                                    extra_env={"BETTING_DB_TIMEOUT_S": str(DB_TIMEOUT_S)})
        assert _bet(api, open_market)[0] == 201
        proxy.stall()
        for _ in range(4):
            status, body, took = _bet(api, open_market)
            assert status == 503, body
            assert isinstance(body, dict) and body["dependency"] == "primary"
            assert took < DB_TIMEOUT_S + SLACK_S, f"503 took {took:.2f}s, timeout is {DB_TIMEOUT_S}s"
        # Reads are on the replica and unaffected by the primary's partition.
        assert get_json(api + "/api/users/5/bets")[0] == 200
        _, text = get_json(api + "/metrics")
        assert isinstance(text, str)
        assert metric_value(text, "bet_transactions_total", outcome="failure") >= 4
        assert metric_value(text, "http_requests_total", method="POST", endpoint="/api/bets", status="503") >= 4
        assert get_json(api + "/readyz")[0] == 503
        proxy.resume()
        assert _until(lambda: _bet(api, open_market)[0] == 201, 10), "bet placement did not recover"
    finally:
        proxy.close()


def test_primary_restarted_pool_reconnects(services: Services, open_market: int) -> None:
    api, _ = services.start_api(extra_env={"BETTING_DB_TIMEOUT_S": str(DB_TIMEOUT_S)})
    assert _bet(api, open_market)[0] == 201
    services.primary.stop()
    try:
        status, _, took = _bet(api, open_market)
        assert status == 503
        assert took < DB_TIMEOUT_S + SLACK_S
    finally:
        services.primary.start()
    # Every pooled connection died with the server; the pool's check replaces them without a restart.
    assert _until(lambda: _bet(api, open_market)[0] == 201, 10), "bet placement did not recover after restart"
    statuses = [_bet(api, open_market, user=4)[0] for _ in range(5)]
    assert statuses == [201] * 5


def test_replica_partitioned_reads_fall_back_to_primary(services: Services) -> None:
    assert services.replica is not None
    proxy = SwitchableProxy(services.replica.port)
    try:
        api, _ = services.start_api(replica_dsn=f"postgresql://postgres@127.0.0.1:{proxy.port}/betting",
                                    extra_env={"BETTING_DB_TIMEOUT_S": str(DB_TIMEOUT_S)})
        assert get_json(api + "/api/users/5/bets")[0] == 200
        proxy.stall()
        took = []
        for _ in range(5):
            started = time.monotonic()
            status, body = get_json(api + "/api/users/5/bets")
            took.append(time.monotonic() - started)
            assert status == 200, body
        # At most one replica timeout plus one primary call per request (documented bound: 2 x timeout).
        assert max(took) < 2 * DB_TIMEOUT_S + SLACK_S
        _, text = get_json(api + "/metrics")
        assert isinstance(text, str)
        fallbacks = metric_value(text, "replica_fallback_total")
        assert fallbacks >= 5
        proxy.resume()
        time.sleep(1.2)  # past the replica breaker window

        def replica_used_again() -> bool:
            get_json(api + "/api/reports/daily-volume")
            _, now = get_json(api + "/metrics")
            get_json(api + "/api/reports/daily-volume")
            _, later = get_json(api + "/metrics")
            assert isinstance(now, str) and isinstance(later, str)
            return metric_value(later, "replica_fallback_total") == metric_value(now, "replica_fallback_total")

        assert _until(replica_used_again, 10), "reads kept falling back after the replica returned"
    finally:
        proxy.close()
