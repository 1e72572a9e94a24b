"""postgres_exporter (primary, replica), redis_exporter and node_exporter. The Postgres and Redis exporters
reach their targets through proxies, so a network fault is visible to them as it is to the API."""

from __future__ import annotations

import logging
import os
import shlex
import shutil

from harness.faults.service import DATA_VOLUME, DATA_VOLUME_DEVICE
from harness.stack.core.binaries import find_binary
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan
from harness.stack.services.postgres import DATABASE

log = logging.getLogger("harness.stack")

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


# The betting guide's DiskSpaceLow watches the filesystem mounted at /var/lib/postgresql. The stack gives
# node_exporter one of its own: a small tmpfs mounted there in a private mount (and PID) namespace, so
# node_exporter's /proc/1/mounts lists it and the host's /var/lib/postgresql is never touched. The
# fill_disk fault writes into it through /proc/<pid>/root. It needs root (CAP_SYS_ADMIN) and unshare.
DATA_VOLUME_MB = 64


def data_volume_unavailable() -> str | None:
    """Why node_exporter cannot get its own data volume here, or None when it can."""
    if os.geteuid() != 0:
        return "a private mount namespace needs root (CAP_SYS_ADMIN); run the harness as root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if not os.path.isdir(DATA_VOLUME):
        return f"{DATA_VOLUME} does not exist to mount over (it comes with the postgresql package)"
    return None


def node_exporter_argv(binary: str, port: int, *, volume: bool) -> list[str]:
    exporter = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    if not volume:
        return exporter
    # sh stays PID 1 of the namespace (which ignores SIGTERM) and the exporter runs as its child, so a
    # group SIGTERM stops it and SIGSTOP freezes it; the tmpfs goes away with the namespace.
    script = (f"mount -t tmpfs -o size={DATA_VOLUME_MB}m {DATA_VOLUME_DEVICE} {DATA_VOLUME} || exit 1; "
              f"{shlex.join(exporter)} & wait $!")
    return [str(shutil.which("unshare")), "--mount", "--propagation", "private", "--pid", "--fork",
            "--mount-proc", "--kill-child", "sh", "-c", script]


def start_node_exporter(plan: LocalPlan) -> ManagedProcess:
    port = plan.ports["node_exporter"]
    why_not = data_volume_unavailable()
    if why_not:
        log.info("node_exporter without its own %s volume (DiskSpaceLow cannot be exercised): %s",
                 DATA_VOLUME, why_not)
    argv = node_exporter_argv(find_binary("prometheus-node-exporter"), port, volume=why_not is None)
    proc = plan.register(ManagedProcess("node_exporter", argv, plan.ctx, port=port, timeout=plan.timeout,
                                        ready=HttpReady(plan.url("node_exporter", "/metrics"))))
    proc.start()
    return proc
