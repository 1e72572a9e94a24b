"""The API's Prometheus metrics, named and labelled exactly as the seed guide's rules expect.

Buckets: every SLO threshold in the seeds (5 ms, 10 ms, 50 ms, 500 ms, 1 s) is a bucket bound, so
histogram_quantile() and "fraction of requests under X" are exact at those thresholds instead of
interpolated. query_duration_seconds keeps the guide's own bucket list, which already has them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

QUERY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SLO_THRESHOLDS_S = (0.005, 0.01, 0.05, 0.5, 1.0)
QUERY_NAMES = ("query1", "place_bet", "query2", "query3", "query4")
SERVER_ERRORS = ("500", "503")      # what the API answers when it fails (injected or internal; a dependency)


class ApiMetrics:
    """All metrics on one registry, so tests can build a fresh set per app."""

    def __init__(self, registry: CollectorRegistry | None = None, multiproc_dir: str | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.multiproc_dir = multiproc_dir
        r = self.registry
        self.http_requests = Counter("http_requests_total", "Total HTTP requests",
                                     ["method", "endpoint", "status"], registry=r)
        self.http_duration = Histogram("http_request_duration_seconds", "HTTP request latency",
                                       ["method", "endpoint"], buckets=HTTP_BUCKETS, registry=r)
        self.query_duration = Histogram("query_duration_seconds", "Query execution time", ["query_name"],
                                        buckets=QUERY_BUCKETS, registry=r)
        self.cache_requests = Counter("cache_requests_total", "Total cache requests", ["cache_name", "result"],
                                      registry=r)
        self.cache_fallback = Counter("cache_fallback_total",
                                      "Requests served from Postgres because the cache was unavailable", registry=r)
        self.bet_transactions = Counter("bet_transactions_total",
                                        "Bet placement transactions by outcome (business rejections excluded)",
                                        ["outcome"], registry=r)
        self.replica_fallback = Counter("replica_fallback_total",
                                        "Reporting queries sent to the primary because the replica was unavailable",
                                        registry=r)
        # Each worker owns its pools, so across workers the live values add up.
        self.pool_connections = Gauge("db_pool_connections", "Connections in the API's Postgres pools",
                                      ["pool", "state"], registry=r, multiprocess_mode="livesum")
        # Pre-create the label sets the rules select on, so a series exists (at 0) before the first event;
        # rate() over a series that appears mid-window misses the first increment.
        for q in QUERY_NAMES:
            self.query_duration.labels(q)
        for result in ("hit", "miss"):
            self.cache_requests.labels("active_bets", result)
        for outcome in ("success", "failure"):
            self.bet_transactions.labels(outcome)
        for pool in ("primary", "replica"):
            for state in ("in_use", "idle", "max"):
                self.pool_connections.labels(pool, state)

    def routes(self, routes: Iterable[tuple[str, str]]) -> None:
        """Pre-create the 5xx series of every (method, route): an error ratio must count the first error too,
        and rate() loses the first increment of a series that appears mid-window (under time compression, a
        handful of lost errors is minutes of production time)."""
        for method, path in routes:
            for status in SERVER_ERRORS:
                self.http_requests.labels(method, path, status)

    def render(self) -> bytes:
        if self.multiproc_dir:
            # Every worker writes its own files; a fresh registry merges them at scrape time.
            merged = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(merged, path=self.multiproc_dir)
            return generate_latest(merged)
        return generate_latest(self.registry)
