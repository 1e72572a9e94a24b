"""postgres_exporter (primary, replica), redis_exporter and node_exporter. The Postgres and Redis exporters
reach their targets through proxies, so a network fault is visible to them as it is to the API."""

from __future__ import annotations

from harness.stack.core.binaries import find_binary
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan
from harness.stack.services.postgres import DATABASE

# The stock exporter, with no extra queries: a rule pack that needs a metric only a custom query would
# produce (the betting seed's pg_replication_lag_bytes) is reported by the audit, not papered over here.


def start_postgres_exporter(plan: LocalPlan, role: str) -> ManagedProcess:
    name = f"postgres_exporter_{role}"
    port = plan.ports[name]
    upstream = plan.proxy_ports[f"exporter_pg_{role}"]
    env = {"DATA_SOURCE_NAME": f"postgresql://postgres@127.0.0.1:{upstream}/{DATABASE}?sslmode=disable"}
    argv = [find_binary("prometheus-postgres-exporter"), f"--web.listen-address=127.0.0.1:{port}"]
    proc = plan.register(ManagedProcess(name, argv, plan.ctx, env=env, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url(name, "/metrics"))))
    proc.start()
    return proc


def start_redis_exporter(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["redis_exporter"]
    argv = [find_binary("prometheus-redis-exporter"),
            f"-redis.addr=redis://127.0.0.1:{plan.proxy_ports['exporter_redis']}",
            f"-web.listen-address=127.0.0.1:{port}"]
    proc = plan.register(ManagedProcess("redis_exporter", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("redis_exporter", "/metrics"))))
    proc.start()
    return proc


def start_node_exporter(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["node_exporter"]
    argv = [find_binary("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}"]
    proc = plan.register(ManagedProcess("node_exporter", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("node_exporter", "/metrics"))))
    proc.start()
    return proc
