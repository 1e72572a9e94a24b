"""Service-level faults: paused WAL replay, held Postgres connections, a full Redis, a cache-miss storm,
a failing backup job. Each talks to the service directly (never through a proxy, so a network fault on the
same path cannot stop the harness from injecting or undoing it).

Database and Redis connections come from injectable factories, so the logic is tested with fakes.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import requests

from harness.core.errors import HarnessError
from harness.core.protocols import FaultTarget
from harness.faults.fault import Fault
from harness.faults.target import service_url

log = logging.getLogger(__name__)

# node_exporter's own data volume (see harness.stack.services.exporters): the mount DiskSpaceLow watches.
DATA_VOLUME = "/var/lib/postgresql"
DATA_VOLUME_DEVICE = "harness-pgdata"
HOLD_APP_NAME = "harness-fault-hold"
ADMIN_APP_NAME = "harness-fault-admin"
FILL_KEY_PREFIX = "harness:fault:fill:"
HTTP_TIMEOUT_S = 5.0


class SqlConnection(Protocol):
    @property
    def backend_pid(self) -> int: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def send(self, sql: str) -> None:
        """Start a query without waiting for its result (the connection stays busy: state 'active')."""

    def cancel(self) -> None: ...

    def close(self) -> None: ...


SqlConnect = Callable[[str, str], SqlConnection]   # (dsn, application_name)
RedisConnect = Callable[[str], Any]                # url -> a redis.Redis-like client


class _PsycopgConnection:
    def __init__(self, dsn: str, application_name: str) -> None:
        import psycopg

        self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=application_name)

    @property
    def backend_pid(self) -> int:
        return int(self._conn.info.backend_pid)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []

    def send(self, sql: str) -> None:
        # The low-level libpq handle sends the query and returns at once: holding N busy connections needs
        # no thread per connection.
        self._conn.pgconn.send_query(sql.encode())
        self._conn.pgconn.flush()

    def cancel(self) -> None:
        self._conn.cancel()

    def close(self) -> None:
        self._conn.close()


def psycopg_connect(dsn: str, application_name: str) -> SqlConnection:
    return _PsycopgConnection(dsn, application_name)


def redis_connect(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _service_error(what: str, exc: Exception, hint: str = "") -> HarnessError:
    return HarnessError(what, detail=f"{type(exc).__name__}: {exc}", hint=hint)


class PauseWalReplayFault(Fault):
    """``pg_wal_replay_pause()`` on the replica: replication lag grows while the primary keeps writing.

    ``wal_mb`` > 0 also writes about that much WAL on the primary once replay is paused, so the lag in bytes
    is known rather than left to the load's write rate. It is written as 1 MB logical-decoding messages:
    plain WAL records (no table, nothing to clean up, any wal_level), which take a fraction of a second,
    where bulk inserts of the same volume took seconds on a busy 2-core machine and outlasted the fault.
    """

    kind = "pause_wal_replay"

    def __init__(self, target: FaultTarget, *, fault_id: str, wal_mb: int = 0,
                 connect: SqlConnect = psycopg_connect) -> None:
        super().__init__(target, fault_id=fault_id, target_name="postgres_replica",
                         params={"wal_mb": wal_mb} if wal_mb else {})
        self._connect = connect
        self._wal_mb = wal_mb

    def _write_wal(self) -> Mapping[str, Any]:
        conn = self._connect(self._target.postgres_dsn("primary"), ADMIN_APP_NAME)
        try:
            before = conn.query("SELECT pg_current_wal_lsn()::text")[0][0]
            conn.query("SELECT count(pg_logical_emit_message(false, 'harness-fault', repeat('x', 1048576))) "
                       "FROM generate_series(1, %s)", [int(self._wal_mb)])
            written = conn.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", [before])[0][0]
            return {"wal_written_bytes": int(written)}
        finally:
            conn.close()

    def _run(self, sql: str, *, must_be_replica: bool) -> Mapping[str, Any]:
        conn = self._connect(self._target.postgres_dsn("replica"), ADMIN_APP_NAME)
        try:
            in_recovery = bool(conn.query("SELECT pg_is_in_recovery()")[0][0])
            if not in_recovery:
                if must_be_replica:
                    raise HarnessError("postgres_replica is not in recovery: there is no WAL replay to pause",
                                       hint="was the replica promoted?")
                return {"in_recovery": False}
            conn.query(sql)
            lsn = conn.query("SELECT pg_last_wal_replay_lsn()::text")[0][0]
            return {"replay_lsn": lsn}
        finally:
            conn.close()

    def _apply(self) -> Mapping[str, Any]:
        info = dict(self._run("SELECT pg_wal_replay_pause()", must_be_replica=True))
        if self._wal_mb:
            info.update(self._write_wal())
            self.achieved = {"wal_written_bytes": info["wal_written_bytes"]}
        return info

    def _undo(self) -> Mapping[str, Any]:
        # Not in recovery any more (promoted) means nothing is paused: that is not an undo failure.
        return self._run("SELECT pg_wal_replay_resume()", must_be_replica=False)


class HoldConnectionsFault(Fault):
    """Open connections on the primary until ``fraction`` of max_connections is in use; held to the end.

    ``state="active"`` keeps each one running ``pg_sleep`` (what a stuck query looks like in
    pg_stat_activity); ``"idle"`` leaves them idle (what a leaking pool looks like).
    """

    kind = "hold_connections"
    SLEEP_S = 86400

    def __init__(self, target: FaultTarget, *, fault_id: str, fraction: float, state: str = "idle",
                 connect: SqlConnect = psycopg_connect) -> None:
        super().__init__(target, fault_id=fault_id, target_name="postgres_primary",
                         params={"fraction": fraction, "state": state})
        self.fraction = fraction
        self.hold_state = state
        self._connect = connect
        self.held: list[SqlConnection] = []

    def _apply(self) -> Mapping[str, Any]:
        dsn = self._target.postgres_dsn("primary")
        admin = self._connect(dsn, ADMIN_APP_NAME)
        try:
            max_conn = int(admin.query("SHOW max_connections")[0][0])
            in_use = int(admin.query(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0][0])
        finally:
            admin.close()
        goal = math.ceil(self.fraction * max_conn)
        need = goal - (in_use - 1)  # the admin connection counted above is gone now
        refused = ""
        for _ in range(max(need, 0)):
            try:
                conn = self._connect(dsn, HOLD_APP_NAME)
            except Exception as exc:
                if "too many" in str(exc).lower() or "remaining connection slots" in str(exc).lower():
                    refused = str(exc).strip()  # the server is full: that is the effect we wanted
                    break
                raise
            self.held.append(conn)
            if self.hold_state == "active":
                conn.send(f"SELECT pg_sleep({self.SLEEP_S})")
        # The admin connection counted in in_use is closed; the held ones joined the rest.
        self.achieved = {"connections": in_use - 1 + len(self.held), "max_connections": max_conn,
                         "fraction": (in_use - 1 + len(self.held)) / max_conn}
        return {"max_connections": max_conn, "in_use_before": in_use, "goal": goal, "held": len(self.held),
                **({"refused": refused} if refused else {})}

    def _undo(self) -> Mapping[str, Any]:
        pids = []
        first_error: Exception | None = None
        for conn in self.held:
            try:
                pids.append(conn.backend_pid)
                if self.hold_state == "active":
                    conn.cancel()
                conn.close()
            except Exception as exc:
                first_error = first_error or exc
        released = len(self.held)
        self.held = []
        if pids:
            self._terminate_leftovers(pids)
        if first_error is not None:
            raise _service_error("could not close every held connection", first_error)
        return {"released": released}

    def _terminate_leftovers(self, pids: list[int]) -> None:
        # A closed client socket does not end a backend stuck in pg_sleep until it next writes; make sure.
        try:
            admin = self._connect(self._target.postgres_dsn("primary"), ADMIN_APP_NAME)
        except Exception as exc:
            log.warning("hold_connections: could not check for leftover backends: %s", exc)
            return
        try:
            admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        finally:
            admin.close()


class FillRedisFault(Fault):
    """Write filler keys until ``used_memory / maxmemory >= fraction``; delete them at the end."""

    kind = "fill_redis"
    MAX_STALLED_ROUNDS = 20

    def __init__(self, target: FaultTarget, *, fault_id: str, fraction: float, value_bytes: int = 65536,
                 connect: RedisConnect = redis_connect) -> None:
        super().__init__(target, fault_id=fault_id, target_name="redis",
                         params={"fraction": fraction, "value_bytes": value_bytes})
        self.fraction = fraction
        self.value_bytes = value_bytes
        self._connect = connect
        self.prefix = FILL_KEY_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", fault_id) + ":"
        self.written = 0

    def _memory(self, client: Any) -> tuple[int, int, str]:
        info = client.info("memory")
        return int(info["used_memory"]), int(info["maxmemory"]), str(info.get("maxmemory_policy", ""))

    def _apply(self) -> Mapping[str, Any]:
        client = self._connect(self._target.redis_url())
        try:
            used, maxmem, policy = self._memory(client)
            if maxmem <= 0:
                raise HarnessError("Redis has no maxmemory limit, so there is no fraction to fill to",
                                   detail=f"used_memory={used}", hint="start Redis with --maxmemory")
            goal = self.fraction * maxmem
            value = os.urandom(self.value_bytes)
            stalled = 0
            while used < goal:
                batch = max(1, min(256, int((goal - used) // (self.value_bytes + 128))))
                pipe = client.pipeline(transaction=False)
                for i in range(self.written, self.written + batch):
                    pipe.set(f"{self.prefix}{i}", value)
                try:
                    pipe.execute()
                except Exception as exc:
                    if "OOM" not in str(exc):
                        raise
                    used, _, _ = self._memory(client)
                    if used >= goal:
                        break
                    raise HarnessError(f"Redis refused writes at {used / maxmem:.1%} of maxmemory "
                                       f"(policy {policy}) before reaching {self.fraction:.0%}",
                                       detail=str(exc), hint="use a lower fraction") from exc
                self.written += batch
                now_used, _, _ = self._memory(client)
                stalled = stalled + 1 if now_used <= used else 0
                used = now_used
                if stalled >= self.MAX_STALLED_ROUNDS:
                    raise HarnessError(f"Redis memory stopped growing at {used / maxmem:.1%} of maxmemory "
                                       f"(policy {policy}); cannot reach {self.fraction:.0%}",
                                       hint="an allkeys-* eviction policy evicts the filler; use a lower fraction")
            self.achieved = {"used_memory": used, "maxmemory": maxmem, "fraction": used / maxmem}
            return {"maxmemory": maxmem, "used_memory": used, "ratio": used / maxmem, "keys": self.written,
                    "policy": policy}
        finally:
            client.close()

    def _undo(self) -> Mapping[str, Any]:
        if self.written == 0:
            return {"deleted": 0}
        client = self._connect(self._target.redis_url())
        try:
            deleted = 0
            for start in range(0, self.written, 500):
                keys = [f"{self.prefix}{i}" for i in range(start, min(start + 500, self.written))]
                deleted += int(client.delete(*keys))
            self.written = 0
            used, maxmem, _ = self._memory(client)
            return {"deleted": deleted, "used_memory": used, "ratio": used / maxmem if maxmem else None}
        finally:
            client.close()


class CacheMissStormFault(Fault):
    """A thread flushing the cache every ``interval_s``: every read misses and falls through to Postgres.

    With no ``pattern`` it FLUSHDBs the API's Redis database; with one it deletes the matching keys.
    """

    kind = "cache_miss_storm"

    def __init__(self, target: FaultTarget, *, fault_id: str, interval_s: float = 0.05,
                 pattern: str | None = None, connect: RedisConnect = redis_connect) -> None:
        params: dict[str, Any] = {"interval_s": interval_s}
        if pattern is not None:
            params["pattern"] = pattern
        super().__init__(target, fault_id=fault_id, target_name="redis", params=params)
        self.interval_s = interval_s
        self.pattern = pattern
        self._connect = connect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self.flushes = 0
        self.errors = 0
        self.last_error = ""

    def _flush_once(self) -> None:
        if self.pattern is None:
            self._client.flushdb()
        else:
            keys = list(self._client.scan_iter(match=self.pattern, count=1000))
            if keys:
                self._client.delete(*keys)
        self.flushes += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._flush_once()
            except Exception as exc:  # keep storming through a Redis outage; the count says what happened
                self.errors += 1
                self.last_error = str(exc)

    def _apply(self) -> Mapping[str, Any]:
        self._client = self._connect(self._target.redis_url())
        self._flush_once()  # the storm starts now, not one interval later
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"fault-{self.id}", daemon=True)
        self._thread.start()
        return {}

    def _undo(self) -> Mapping[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None
        out: dict[str, Any] = {"flushes": self.flushes, "errors": self.errors}
        if self.last_error:
            out["last_error"] = self.last_error
        return out


class BackupFailingFault(Fault):
    """POST /control on the backup job so its runs fail (optionally backdating the last success)."""

    kind = "backup_failing"
    IDLE_TIMEOUT_S = 60.0

    def __init__(self, target: FaultTarget, *, fault_id: str, session: requests.Session,
                 last_success_age_seconds: float | None = None) -> None:
        params = {} if last_success_age_seconds is None else {"last_success_age_seconds": last_success_age_seconds}
        super().__init__(target, fault_id=fault_id, target_name="backup", params=params)
        self.session = session
        self.age = last_success_age_seconds
        self._was_failing = False
        self._last_success: float | None = None

    @property
    def control_url(self) -> str:
        return service_url(self._target, "backup", "/control", what="backup job")

    def _post(self, body: Mapping[str, Any]) -> Any:
        try:
            resp = self.session.post(self.control_url, json=dict(body), timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as exc:
            raise _service_error(f"backup job unreachable at {self.control_url}", exc) from exc
        if resp.status_code >= 300:
            raise HarnessError(f"backup job refused POST /control: HTTP {resp.status_code}",
                               detail=f"request: {dict(body)}\nreply: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def _apply(self) -> Mapping[str, Any]:
        try:
            before = self.session.get(self.control_url, timeout=HTTP_TIMEOUT_S)
            state = before.json() if before.ok else {}
            self._was_failing = bool(state.get("fail", False)) if isinstance(state, dict) else False
            last = state.get("last_success_timestamp") if isinstance(state, dict) else None
            self._last_success = float(last) if isinstance(last, int | float) else None
        except (requests.RequestException, ValueError):
            self._was_failing = False
        state = self._post({"fail": True})
        if self.age is not None:
            # A backup already running when "fail" was set still succeeds and would overwrite the backdated
            # last success: let it finish first.
            self._wait_idle()
            state = self._post({"last_success_age_seconds": self.age})
        return {"control": state}

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.IDLE_TIMEOUT_S
        while time.monotonic() < deadline:
            resp = self.session.get(self.control_url, timeout=HTTP_TIMEOUT_S)
            state = resp.json() if resp.ok and resp.content else {}
            if not (isinstance(state, dict) and state.get("running")):
                return
            time.sleep(0.05)
        raise HarnessError(f"the backup job was still running a backup after {self.IDLE_TIMEOUT_S:.0f}s",
                           hint="the last success could not be backdated; is a backup stuck?")

    def _undo(self) -> Mapping[str, Any]:
        # A backdated last success is put back as it was, so the next scenario does not start with a
        # backup 26 hours old (the job's next good run may be hours of production time away).
        state = self._post({"fail": self._was_failing})
        if self.age is not None and self._last_success is not None:
            state = self._post({"last_success_age_seconds": max(0.0, time.time() - self._last_success)})
        return {"control": state}


class FillDiskFault(Fault):
    """Fill node_exporter's data volume until ``used / size >= fraction``; the filler file is removed at the end.

    The volume is the tmpfs the local stack mounts at /var/lib/postgresql in node_exporter's private mount
    namespace; it is reached through ``/proc/<pid>/root``, so nothing on the host's filesystems changes.
    """

    kind = "fill_disk"
    CHUNK = 1 << 20

    def __init__(self, target: FaultTarget, *, fault_id: str, fraction: float) -> None:
        super().__init__(target, fault_id=fault_id, target_name="node_exporter", params={"fraction": fraction})
        self.fraction = fraction
        self.filler: str | None = None

    def _volume(self) -> str:
        pid = self._target.process("node_exporter").pid
        if pid is None:
            raise HarnessError("node_exporter is not running: there is no data volume to fill")
        try:
            with open(f"/proc/{pid}/mounts") as fh:
                mounts = [line.split()[:2] for line in fh]
        except OSError as exc:
            raise _service_error("cannot read node_exporter's mounts", exc) from exc
        if [DATA_VOLUME_DEVICE, DATA_VOLUME] not in mounts:
            raise HarnessError(f"node_exporter has no {DATA_VOLUME} volume of its own to fill",
                               detail=f"looked in /proc/{pid}/mounts for {DATA_VOLUME_DEVICE} on {DATA_VOLUME}",
                               hint="the local stack mounts one only when it runs as root with unshare "
                               "available (see `harness up` log: 'node_exporter without its own volume')")
        return f"/proc/{pid}/root{DATA_VOLUME}"

    def _apply(self) -> Mapping[str, Any]:
        root = self._volume()
        st = os.statvfs(root)
        size = st.f_blocks * st.f_frsize
        need = max(0, int(self.fraction * size) - (size - st.f_bavail * st.f_frsize))
        self.filler = os.path.join(root, "harness-fill-" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.id))
        zeros = bytes(self.CHUNK)
        with open(self.filler, "wb") as fh:
            left = need
            while left > 0:
                left -= fh.write(zeros[:min(left, self.CHUNK)])
        st = os.statvfs(root)
        used = 1 - st.f_bavail / st.f_blocks if st.f_blocks else None
        self.achieved = {"used_fraction": used}
        return {"size_bytes": size, "written_bytes": need, "used_fraction": used}

    def _undo(self) -> Mapping[str, Any]:
        if self.filler is None:
            return {}
        try:
            os.unlink(self.filler)
        except FileNotFoundError:
            pass  # the namespace (and its tmpfs) went away with node_exporter
        self.filler = None
        return {"removed": True}


class RedisConfigFault(Fault):
    """``CONFIG SET parameter value`` on Redis (a misconfigured deployment, e.g. no maxmemory limit); the
    original value is set back at the end."""

    kind = "redis_config"

    def __init__(self, target: FaultTarget, *, fault_id: str, parameter: str, value: str,
                 connect: RedisConnect = redis_connect) -> None:
        super().__init__(target, fault_id=fault_id, target_name="redis",
                         params={"parameter": parameter, "value": value})
        self.parameter = parameter
        self.value = value
        self._connect = connect
        self.original: str | None = None

    def _apply(self) -> Mapping[str, Any]:
        client = self._connect(self._target.redis_url())
        try:
            current = client.config_get(self.parameter)
            if self.parameter not in current:
                raise HarnessError(f"Redis has no configuration parameter {self.parameter!r}",
                                   hint="see `CONFIG GET *` for the names (e.g. maxmemory)")
            self.original = str(current[self.parameter])
            client.config_set(self.parameter, self.value)
            return {"original": self.original, "value": self.value}
        finally:
            client.close()

    def _undo(self) -> Mapping[str, Any]:
        if self.original is None:
            return {}
        client = self._connect(self._target.redis_url())
        try:
            client.config_set(self.parameter, self.original)
            restored, self.original = self.original, None
            return {"restored": restored}
        finally:
            client.close()
