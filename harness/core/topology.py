"""The reference stack's topology: the names of its services and proxies, the sample API's routes and named
queries (contract C). Scenarios, fault kinds and stack backends all speak these names."""

from __future__ import annotations

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
