"""The reference stack's topology: the names of its services and proxies, the sample API's routes and named
queries, and where the notification sinks listen (contract C). Scenarios, fault kinds, rule adaptation and
stack backends all speak these names."""

from __future__ import annotations

from dataclasses import dataclass, field

# The reference stack's names (contract C); a backend may offer a subset, checked when the stack is known.
PROXIES = ("pg_primary", "pg_replica", "redis", "replication",
           "exporter_pg_primary", "exporter_pg_replica", "exporter_redis")
SERVICES = ("postgres_primary", "postgres_replica", "redis", "prometheus", "alertmanager", "api", "toxiproxy",
            "postgres_exporter_primary", "postgres_exporter_replica", "redis_exporter", "node_exporter",
            "backup", "grafana")
# The sample API's route templates and named queries (stack/api/betting_api), which calibrated faults select.
API_ROUTES = ("/api/active-bets", "/api/bets", "/api/users/{id}/bets", "/api/markets/{id}/exposure",
              "/api/reports/daily-volume", "/api/meta")
API_QUERIES = ("query1", "place_bet", "query2", "query3", "query4")


# Where the run's notification sinks listen (harness.observe.sinks); Alertmanager's receivers are pointed there.
@dataclass
class SinkUrls:
    http_base: str
    smtp_host: str
    smtp_port: int
    # recipient address (lower-case) -> receiver names; shared with the running SMTP sink.
    email_receivers: dict[str, list[str]] = field(default_factory=dict)
