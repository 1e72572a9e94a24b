"""Throwaway Postgres (primary + streaming replica) and Redis for the API's integration tests.

Each service runs from the OS binaries on a free loopback port inside a temp dir, as the unprivileged
`harness` user when we are root (Postgres refuses root), in its own process group, and is stopped by
that group's id. Used by tests/integration/test_api*.py and bench/api.py.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_USER = "harness"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_service_user() -> str | None:
    """Name of the user Postgres runs as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVICE_USER], check=True)
    return SERVICE_USER


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _spawn(name: str, argv: list[str], log: Path, user: str | None, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> Proc:
    out = log.open("ab")
    popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, user=user,
                             env=env, cwd=cwd)
    out.close()
    return Proc(name, popen, log)


def _wait(what: str, proc: Proc, ready: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.popen.returncode}; last log lines:\n{proc.tail()}")
        try:
            if ready():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s; last log lines:\n{proc.tail()}")


def _pg_ready(dsn: str) -> bool:
    with psycopg.connect(dsn, connect_timeout=2) as conn:
        conn.execute("SELECT 1")
    return True


@dataclass
class Postgres:
    """One postgres server process. `dsn(db)` gives a superuser libpq URL."""

    data: Path
    port: int
    user: str | None
    proc: Proc | None = None

    def dsn(self, db: str = "betting") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        argv = [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data}",
                # Throwaway data: durability settings only cost time here.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=100", "-c", "shared_buffers=64MB"]
        self.proc = _spawn(f"postgres:{self.port}", argv, self.data.parent / f"pg-{self.port}.log", self.user)
        _wait(f"postgres on port {self.port}", self.proc, lambda: _pg_ready(self.dsn("postgres")), 30)

    def stop(self) -> None:
        # SIGINT is Postgres' "fast" shutdown: abort transactions, disconnect clients, exit.
        if self.proc is not None:
            self.proc.stop(signal.SIGINT)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.stop(signal.SIGKILL)


@dataclass
class Services:
    root: Path
    primary: Postgres
    replica: Postgres | None
    redis_port: int
    redis: Proc | None = None
    apis: list[Proc] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start_redis(self) -> None:
        argv = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.root)]
        self.redis = _spawn("redis", argv, self.root / "redis.log", None)

        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        _wait("redis", self.redis, ping, 10)

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.stop(signal.SIGKILL)

    def start_api(self, port: int | None = None, *, primary_dsn: str | None = None, replica_dsn: str | None = None,
                  redis_url: str | None = None, workers: int = 1, extra_env: dict[str, str] | None = None,
                  ready_timeout: float = 20.0) -> tuple[str, Proc]:
        """Start the API with the contract's command line and env; returns (base URL, process)."""
        port = port or free_port()
        env = dict(os.environ)
        env.update({
            "BETTING_PRIMARY_DSN": primary_dsn or self.primary.dsn(),
            "BETTING_REPLICA_DSN": replica_dsn or (self.replica or self.primary).dsn(),
            "BETTING_REDIS_URL": redis_url or self.redis_url,
        })
        if workers > 1:
            mp = self.root / f"prom-{port}"
            mp.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(mp)
        env.update(extra_env or {})
        argv = [sys.executable, "stack/api/serve.py", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers)]
        proc = _spawn(f"api:{port}", argv, self.root / f"api-{port}.log", None, env=env, cwd=REPO_ROOT)
        self.apis.append(proc)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                return bool(resp.status == 200)

        _wait("betting API", proc, healthy, ready_timeout)
        return url, proc

    def load_data(self, scale: float = 0.2) -> str:
        out = subprocess.run([sys.executable, "stack/postgres/load_data.py", "--dsn", self.primary.dsn(),
                              "--scale", str(scale)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"load_data failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def wait_replica_caught_up(self, timeout: float = 10.0) -> None:
        if self.replica is None:
            return
        # The insert position, not pg_current_wal_lsn() (the write position): with synchronous_commit=off a
        # commit has returned before its record is written, and a replica caught up to the write position may
        # not have it yet (a CI run's daily volume missed the bet placed just before).
        with psycopg.connect(self.primary.dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.dsn(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
                if done and done[0]:
                    return
                time.sleep(0.05)
        raise RuntimeError(f"replica did not replay up to {target} within {timeout}s")


@contextlib.contextmanager
def running_services(*, replica: bool = True, redis: bool = True, scale: float = 0.2) -> Iterator[Services]:
    """Start primary (+ replica) + Redis, create database `betting`, load data; stop all on exit."""
    user = _ensure_service_user()
    root = Path(tempfile.mkdtemp(prefix="api-services-"))
    _chown_tree(root, user)
    primary = Postgres(root / "primary", free_port(), user)
    services = Services(root, primary, None, free_port())
    try:
        subprocess.run([str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, user=user, cwd=root)
        primary.start()
        with psycopg.connect(primary.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE betting")
        if replica:
            rep = Postgres(root / "replica", free_port(), user)
            subprocess.run([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                            "postgres", "-D", str(rep.data), "-R", "-X", "stream", "--no-sync", "-c", "fast"],
                           check=True, capture_output=True, user=user, cwd=root)
            services.replica = rep
            rep.start()
        if redis:
            services.start_redis()
        services.load_data(scale)
        services.wait_replica_caught_up()
        yield services
    finally:
        for api in services.apis:
            api.stop()
        services.stop_redis()
        if services.replica is not None:
            services.replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def get_json(url: str, timeout: float = 5.0) -> tuple[int, object]:
    """GET url; returns (status, decoded JSON body or raw text)."""
    return request_json("GET", url, None, timeout)


def request_json(method: str, url: str, body: bytes | None, timeout: float = 5.0) -> tuple[int, object]:
    import json
    import urllib.error

    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw = err.read()
        status = err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class SwitchableProxy:
    """A TCP forwarder on a free loopback port whose traffic the test can stall or resume.

    "forward": relays bytes both ways. "stall": keeps every socket open but moves no bytes, and new
    clients complete the TCP handshake but never hear from the server: the network partition a
    timeout must catch (a refused connection would fail fast and prove nothing about timeouts).
    """

    def __init__(self, upstream_port: int) -> None:
        import threading

        self.upstream_port = upstream_port
        self.port = free_port()
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    def close(self) -> None:
        import contextlib as _cl

        self._closed.set()
        self._forwarding.set()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                with _cl.suppress(OSError):
                    s.close()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._sockets.append(s)

    def _accept(self) -> None:
        import threading

        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        import threading

        self._forwarding.wait()
        if self._closed.is_set():
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()
            return
        self._track(upstream)
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        import select

        try:
            while not self._closed.is_set():
                self._forwarding.wait()
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready:
                    continue
                if not self._forwarding.is_set():
                    continue  # stalled between select and recv: leave the bytes in the kernel
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse an exposition into {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric_value(text: str, name: str, **labels: str) -> float:
    return metric_samples(text).get((name, tuple(sorted(labels.items()))), 0.0)
