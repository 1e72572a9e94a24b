"""The sample betting API and the backup job (contract B), started when their scripts exist."""

from __future__ import annotations

from harness.core.durations import format_duration
from harness.stack.core.process import ManagedProcess
from harness.stack.core.readiness import HttpReady
from harness.stack.services.plan import LocalPlan
from harness.stack.services.postgres import dsn

API_SCRIPT = "stack/api/serve.py"
BACKUP_SCRIPT = "stack/backup/backup_job.py"
DAILY_S = 86400.0


def start_api(plan: LocalPlan) -> ManagedProcess:
    script = plan.cfg_repo_file(API_SCRIPT)
    assert script is not None
    port = plan.ports["api"]
    env = {
        "BETTING_PRIMARY_DSN": dsn(plan.proxy_ports["pg_primary"]),
        "BETTING_REPLICA_DSN": dsn(plan.proxy_ports["pg_replica"]),
        "BETTING_REDIS_URL": f"redis://127.0.0.1:{plan.proxy_ports['redis']}/0",
    }
    if plan.cfg.api_workers > 1:
        multiproc = plan.run_dir / "api-metrics"
        multiproc.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    argv = [plan.python, str(script), "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(plan.cfg.api_workers)]
    proc = plan.register(ManagedProcess("api", argv, plan.ctx, env=env, cwd=script.parents[2], port=port,
                                        timeout=plan.timeout, ready=HttpReady(plan.url("api", "/healthz"))))
    proc.start()
    return proc


def start_backup(plan: LocalPlan) -> ManagedProcess:
    script = plan.cfg_repo_file(BACKUP_SCRIPT)
    assert script is not None
    port = plan.ports["backup"]
    backups = plan.run_dir / "backups"
    backups.mkdir(exist_ok=True)
    # A daily job in production; the time scale compresses the day like every other duration.
    interval = DAILY_S / plan.time_scale
    argv = [plan.python, str(script), "--dsn", dsn(plan.ports["postgres_primary"]), "--dir", str(backups),
            "--interval", f"{interval:g}", "--host", "127.0.0.1", "--port", str(port)]
    proc = plan.register(ManagedProcess("backup", argv, plan.ctx, cwd=script.parents[2], port=port,
                                        timeout=plan.timeout, ready=HttpReady(plan.url("backup", "/healthz")),
                                        hint=f"the job runs every {format_duration(interval)} (a day at this "
                                        "time scale)"))
    proc.start()
    return proc
