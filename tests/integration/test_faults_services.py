"""Service faults against a real Postgres primary + streaming replica, a real Redis, and the backup job's
control endpoint (the real stack/backup/backup_job.py when present, else a tiny stand-in)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import redis

from harness.core.clock import RunClock
from harness.core.timeline import FAULT_END, FAULT_START, Timeline
from harness.faults import Faults
from tests.integration.api_services import (
    PG_BIN,
    REPO_ROOT,
    Postgres,
    Services,
    _chown_tree,
    _ensure_service_user,
    _spawn,
    _wait,
    free_port,
)

pytestmark = pytest.mark.integration

BACKUP_JOB = REPO_ROOT / "stack" / "backup" / "backup_job.py"


class Target:
    """The FaultTarget protocol over the throwaway services."""

    def __init__(self, services: Services, backup_url: str) -> None:
        self.clock = RunClock()
        self.timeline = Timeline()
        self.urls = {"backup": backup_url}
        self.proxies: dict[str, tuple[str, str]] = {}
        self._s = services

    def process(self, name: str) -> PostgresHandle:
        assert name == "postgres_primary"
        return PostgresHandle(self._s.primary)

    def postgres_dsn(self, role: str, via_proxy: bool = False) -> str:
        assert not via_proxy
        pg = self._s.primary if role == "primary" else self._s.replica
        assert pg is not None
        return pg.dsn("postgres")

    def redis_url(self, via_proxy: bool = False) -> str:
        return self._s.redis_url


class PostgresHandle:
    """ProcessControl (contract C) over the throwaway primary."""

    def __init__(self, pg: Postgres) -> None:
        self.pg = pg

    @property
    def pid(self) -> int | None:
        return self.pg.proc.popen.pid if self.pg.proc else None

    @property
    def running(self) -> bool:
        return self.pg.proc is not None and self.pg.proc.popen.poll() is None

    def signal(self, sig: int) -> None:
        assert self.pg.proc is not None
        self.pg.proc.popen.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        self.pg.stop()

    def kill(self) -> None:
        self.pg.kill()

    def start(self) -> None:
        self.pg.start()


class FakeBackupControl(BaseHTTPRequestHandler):
    state = {"fail": False}

    def do_GET(self) -> None:
        self._reply(self.state)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.state.update(body)
        self._reply(self.state)

    def _reply(self, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    user = _ensure_service_user()
    root = Path(tempfile.mkdtemp(prefix="faults-services-"))
    _chown_tree(root, user)
    primary = Postgres(root / "primary", free_port(), user)
    svc = Services(root, primary, None, free_port())
    try:
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, user=user, cwd=root)
        primary.start()
        rep = Postgres(root / "replica", free_port(), user)
        subprocess.run([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                        "postgres", "-D", str(rep.data), "-R", "-X", "stream", "--no-sync"],
                       check=True, capture_output=True, user=user, cwd=root)
        svc.replica = rep
        rep.start()
        svc.start_redis()
        r = redis.Redis.from_url(svc.redis_url)
        r.config_set("maxmemory", 32 * 1024 * 1024)
        r.config_set("maxmemory-policy", "noeviction")
        r.close()
        with psycopg.connect(primary.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE TABLE churn (id serial primary key, pad text)")
        wait_for(lambda: query(rep.dsn("postgres"), "SELECT to_regclass('churn') IS NOT NULL")[0][0])
        yield svc
    finally:
        svc.stop_redis()
        if svc.replica is not None:
            svc.replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def backup_url(services: Services) -> Iterator[str]:
    if BACKUP_JOB.exists():
        # The job only counts a dump holding the betting tables as a success.
        with psycopg.connect(services.primary.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT to_regclass('bets')").fetchone()[0]:
                conn.execute((REPO_ROOT / "stack" / "postgres" / "schema.sql").read_text())
        port = free_port()
        backup_dir = services.root / "backups"
        backup_dir.mkdir(exist_ok=True)
        proc = _spawn("backup", [sys.executable, str(BACKUP_JOB), "--dsn", services.primary.dsn("postgres"),
                                 "--dir", str(backup_dir), "--interval", "0.5", "--host", "127.0.0.1",
                                 "--port", str(port)], services.root / "backup.log", None, cwd=REPO_ROOT)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                return bool(resp.status == 200)

        try:
            _wait("backup job", proc, healthy, 20)
            yield url
        finally:
            proc.stop()
    else:
        FakeBackupControl.state = {"fail": False}
        server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBackupControl)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def target(services: Services) -> Target:
    return Target(services, "http://unused")


def query(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def churn(dsn: str, rows: int = 2000) -> None:
    query(dsn, "INSERT INTO churn (pad) SELECT repeat('x', 200) FROM generate_series(1, %s)", (rows,))


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_pause_wal_replay_makes_lag_grow_and_resume_catches_up(target, services):
    primary, replica = target.postgres_dsn("primary"), target.postgres_dsn("replica")
    lag_sql = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
    with Faults(target).pause_wal_replay():
        assert query(replica, "SELECT pg_is_wal_replay_paused()")[0][0] is True
        before = query(replica, "SELECT count(*) FROM churn")[0][0]
        churn(primary)
        wait_for(lambda: query(replica, lag_sql)[0][0] > 100_000)  # received but not replayed
        assert query(replica, "SELECT count(*) FROM churn")[0][0] == before
    assert query(replica, "SELECT pg_is_wal_replay_paused()")[0][0] is False
    wait_for(lambda: query(replica, lag_sql)[0][0] == 0)
    assert query(replica, "SELECT count(*) FROM churn")[0][0] == query(primary, "SELECT count(*) FROM churn")[0][0]
    assert target.timeline.events(FAULT_START)[0].data["replay_lsn"]


HOLD_COUNT = ("SELECT count(*) FILTER (WHERE application_name = 'harness-fault-hold'), "
              "count(*) FILTER (WHERE application_name = 'harness-fault-hold' AND state = %s), "
              "count(*) FILTER (WHERE backend_type = 'client backend') FROM pg_stat_activity")


@pytest.mark.parametrize("state", ["idle", "active"])
def test_hold_connections_reaches_the_fraction_and_releases(target, state):
    primary = target.postgres_dsn("primary")
    max_conn = int(query(primary, "SHOW max_connections")[0][0])
    with Faults(target).hold_connections(0.6, state=state) as fault:
        held, in_state, clients = query(primary, HOLD_COUNT, (state,))[0]
        assert held == len(fault.held) > 0
        assert in_state == held
        # our own checking connection is one more than the fault aimed for
        assert clients - 1 == pytest.approx(0.6 * max_conn, abs=1)
    wait_for(lambda: query(primary, HOLD_COUNT, (state,))[0][0] == 0)
    assert target.timeline.events(FAULT_END)[0].data["released"] == held


def test_fill_redis_reaches_the_fraction_and_cleans_up(target, services):
    r = redis.Redis.from_url(services.redis_url)
    before = r.info("memory")["used_memory"]
    with Faults(target).fill_redis(0.7):
        mem = r.info("memory")
        ratio = mem["used_memory"] / mem["maxmemory"]
        assert 0.7 <= ratio < 0.75
        assert len(list(r.scan_iter(match="harness:fault:fill:*", count=1000))) > 100
    assert list(r.scan_iter(match="harness:fault:fill:*", count=1000)) == []
    after = r.info("memory")["used_memory"]
    assert after < before + 2 * 1024 * 1024
    start = target.timeline.events(FAULT_START)[0].data
    assert start["ratio"] >= 0.7 and start["maxmemory"] == 32 * 1024 * 1024
    r.close()


def test_cache_miss_storm_keeps_deleting_cache_keys(target, services):
    r = redis.Redis.from_url(services.redis_url)
    r.set("keep:me", "1")
    r.set("cache:a", "1")
    with Faults(target).cache_miss_storm(interval_s=0.02, pattern="cache:*"):
        assert r.get("cache:a") is None  # flushed at once
        for _ in range(5):
            r.set("cache:b", "1")
            wait_for(lambda: r.get("cache:b") is None, timeout=1)
        assert r.get("keep:me") == b"1"
    r.set("cache:c", "1")
    time.sleep(0.1)
    assert r.get("cache:c") == b"1"  # the storm is over
    assert target.timeline.events(FAULT_END)[0].data["flushes"] >= 5
    r.delete("keep:me", "cache:c")
    r.close()


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


def control(url: str) -> dict:
    with urllib.request.urlopen(url + "/control", timeout=5) as resp:
        return dict(json.loads(resp.read()))


def test_backup_failing_makes_backups_fail_and_restores(services, backup_url):
    target = Target(services, backup_url)
    real = BACKUP_JOB.exists()
    with Faults(target).backup_failing(last_success_age_seconds=90000):
        assert control(backup_url)["fail"] is True
        if real:
            failures = metric(backup_url, "backup_failures_total")
            wait_for(lambda: metric(backup_url, "backup_failures_total") > failures)
            assert time.time() - metric(backup_url, "backup_last_success_timestamp") >= 90000
        else:
            assert control(backup_url)["last_success_age_seconds"] == 90000
    assert control(backup_url)["fail"] is False
    if real:
        wait_for(lambda: time.time() - metric(backup_url, "backup_last_success_timestamp") < 60)


def process_tree(pid: int) -> list[int]:
    from harness.host.proctree import descendants

    return [pid, *descendants(pid)]


def proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]


def test_freeze_postgres_stops_every_backend_and_thaws(target):
    primary = target.postgres_dsn("primary")
    handle = target.process("postgres_primary")
    with psycopg.connect(primary, autocommit=True) as conn:
        tree = process_tree(handle.pid)
        assert len(tree) >= 5  # postmaster, checkpointer, walwriter, ..., our backend
        with Faults(target).freeze("postgres_primary"):
            wait_for(lambda: all(proc_state(p) in ("T", None) for p in tree), timeout=5)
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(primary, connect_timeout=1)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the existing backend thawed too
    assert all(proc_state(p) != "T" for p in tree)


def test_crash_postgres_kills_the_tree_and_restarts_it(target):
    primary = target.postgres_dsn("primary")
    handle = target.process("postgres_primary")
    tree = process_tree(handle.pid)
    with Faults(target).crash("postgres_primary"):
        wait_for(lambda: all(proc_state(p) in (None, "Z") for p in tree), timeout=5)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(primary, connect_timeout=1)
    assert query(primary, "SELECT count(*) >= 0 FROM churn")[0][0] is True  # crash recovery done
    assert handle.pid not in tree
