"""Postgres primary and a streaming replica whose link to the primary goes through the `replication` proxy."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness.stack.core.binaries import find_binary
from harness.stack.core.identity import hand_over
from harness.stack.core.process import ManagedProcess, run_oneshot
from harness.stack.core.readiness import AllReady, SqlReady
from harness.stack.services.plan import LocalPlan

DATABASE = "betting"

# Speed over durability: the data is regenerated every run. Written into postgresql.conf (not passed as
# flags) so pg_basebackup copies the same settings to the replica.
SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
shared_buffers = 32MB
max_connections = 100
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_retrieve_retry_interval = 500ms
wal_receiver_status_interval = 1s
log_line_prefix = '%m [%p] '
"""


def dsn(port: int, database: str = DATABASE) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def _pg_process(plan: LocalPlan, name: str, data: Path, port: int, ready: SqlReady | AllReady) -> ManagedProcess:
    return ManagedProcess(
        name, [find_binary("postgres"), "-D", str(data), "-p", str(port)], plan.ctx,
        ready=ready, timeout=plan.timeout, run_as=plan.run_as, port=port,
        stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for every client to leave
        hint="Postgres writes why it stopped in the log above; a data directory from a killed run is "
        "removed by `harness down`",
    )


def start_primary(plan: LocalPlan) -> ManagedProcess:
    data = plan.run_dir / "pg_primary"
    hand_over(data, plan.run_as)
    run_oneshot("initdb", [find_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                           "--no-sync", "-E", "UTF8", "--locale=C"],
                plan.ctx, timeout=plan.timeout, run_as=plan.run_as)
    with (data / "postgresql.conf").open("a") as fh:
        fh.write(SETTINGS)
    port = plan.ports["postgres_primary"]
    proc = plan.register(_pg_process(plan, "postgres_primary", data, port, SqlReady(dsn(port, "postgres"))))
    proc.start()
    create_database(port)
    return proc


def create_database(port: int) -> None:
    import psycopg

    with psycopg.connect(dsn(port, "postgres"), autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f"create database {DATABASE}")


def start_replica(plan: LocalPlan) -> ManagedProcess:
    data = plan.run_dir / "pg_replica"
    hand_over(data, plan.run_as)
    primary = plan.ports["postgres_primary"]
    # The copy itself goes direct (it is setup, not the thing under test); streaming goes via the proxy.
    run_oneshot("pg_basebackup", [find_binary("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary),
                                  "-U", "postgres", "-D", str(data), "-X", "stream", "--checkpoint=fast",
                                  "--no-sync"],
                plan.ctx, timeout=plan.timeout, run_as=plan.run_as)
    link = plan.proxy_ports["replication"]
    with (data / "postgresql.auto.conf").open("a") as fh:
        fh.write(f"primary_conninfo = 'host=127.0.0.1 port={link} user=postgres application_name=replica "
                 "connect_timeout=2'\n")
    signal_file = data / "standby.signal"
    signal_file.touch()
    if plan.run_as is not None:
        for path in (data / "postgresql.auto.conf", signal_file):
            os.chown(path, plan.run_as.uid, plan.run_as.gid)
    port = plan.ports["postgres_replica"]
    ready = AllReady([
        SqlReady(dsn(port, "postgres"), "select pg_is_in_recovery()", expect=True),
        SqlReady(dsn(primary, "postgres"),
                 "select count(*) from pg_stat_replication where application_name = 'replica' "
                 "and state = 'streaming'", expect=1),
    ])
    proc = plan.register(_pg_process(plan, "postgres_replica", data, port, ready))
    proc.start()
    return proc


def load_data(plan: LocalPlan) -> None:
    script = plan.cfg_repo_file("stack/postgres/load_data.py")
    if script is None:
        return
    run_oneshot("load_data", [plan.python, str(script), "--dsn", dsn(plan.ports["postgres_primary"]),
                              "--scale", str(plan.cfg.data_scale)],
                plan.ctx, timeout=max(plan.timeout, 120.0), cwd=script.parents[2],
                hint=f"run it by hand to see the problem: {plan.python} {script} --dsn DSN")
