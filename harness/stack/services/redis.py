"""Redis with a memory limit, so "cache full" is a fault we can cause."""

from __future__ import annotations

from harness.stack.core.binaries import find_binary
from harness.stack.core.identity import hand_over
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import PredicateReady
from harness.stack.services.plan import LocalPlan

MAXMEMORY = "64mb"


def _ping(port: int) -> str | None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return None if client.ping() else "PING did not answer PONG"
    finally:
        client.close()


def start(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["redis"]
    data = plan.run_dir / "redis"
    hand_over(data, None, 0o755)
    argv = [find_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--maxmemory", MAXMEMORY,
            "--maxmemory-policy", "allkeys-lru", "--save", "", "--appendonly", "no", "--dir", str(data),
            "--daemonize", "no",
            # Keep the environment readable: the process title would overwrite HARNESS_RUN_ID in it.
            "--set-proc-title", "no"]
    proc = plan.register(ManagedProcess("redis", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=PredicateReady(f"Redis PING on 127.0.0.1:{port}",
                                                             lambda: _ping(port))))
    proc.start()
    return proc
