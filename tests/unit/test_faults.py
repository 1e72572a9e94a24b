"""Faults against fakes: lifecycle, timeline, schedules, undo_all, and each fault's calls. No services."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.core.timeline import FAULT_END, FAULT_START, MARK, Timeline
from harness.faults import Fault, FaultError, Faults, FaultSpecError

# ---------------------------------------------------------------------------------------------- fakes


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def advance(self, dt: float) -> None:
        with self._lock:
            self.t += dt


@dataclass
class FakeProcess:
    name: str
    pid: int | None = 4242
    running: bool = True
    calls: list[str] = field(default_factory=list)
    fail_start: bool = False

    def signal(self, sig: int) -> None:
        self.calls.append(f"signal:{sig}")

    def stop(self, timeout: float = 10.0) -> None:
        self.calls.append(f"stop:{timeout}")
        self.running = False

    def kill(self) -> None:
        self.calls.append("kill")
        self.running = False

    def start(self) -> None:
        self.calls.append("start")
        if self.fail_start:
            raise HarnessError(f"{self.name} did not become ready")
        self.running = True
        self.pid = (self.pid or 0) + 1


class FakeResponse:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status_code = status
        self.content = b"" if body is None else json.dumps(body).encode()
        self.text = self.content.decode()
        self.ok = status < 400

    def json(self) -> Any:
        return json.loads(self.content)


class FakeToxiproxy:
    """A requests.Session stand-in serving the few Toxiproxy routes faults use, from memory."""

    def __init__(self, proxies: list[str]) -> None:
        self.headers: dict[str, str] = {}
        self.proxies = {n: {"name": n, "listen": "127.0.0.1:1", "upstream": "127.0.0.1:2", "enabled": True,
                            "toxics": []} for n in proxies}
        self.calls: list[tuple[str, str, Any]] = []
        self.backup_control: dict[str, Any] = {"fail": False}

    def request(self, method: str, url: str, json: Any = None, timeout: float | None = None) -> FakeResponse:
        assert timeout is not None, "every call must carry a timeout"
        path = url.split("://", 1)[1].split("/", 1)[1]
        self.calls.append((method, "/" + path, json))
        parts = path.split("/")
        if parts[0] == "control":
            if method == "POST":
                self.backup_control.update(json)
            return FakeResponse(200, self.backup_control)
        if parts == ["proxies"] and method == "GET":
            return FakeResponse(200, self.proxies)
        proxy = self.proxies.get(parts[1]) if len(parts) > 1 else None
        if proxy is None:
            return FakeResponse(404, {"error": "proxy not found", "status": 404})
        if len(parts) == 2:
            if method == "GET":
                return FakeResponse(200, proxy)
            if method in ("PATCH", "POST"):
                proxy.update({k: v for k, v in json.items() if k == "enabled"})
                return FakeResponse(200, proxy)
        toxics = proxy["toxics"]
        if len(parts) == 3 and method == "POST":
            if any(t["name"] == json["name"] for t in toxics):
                return FakeResponse(409, {"error": "toxic already exists", "status": 409})
            if json["type"] not in ("latency", "timeout", "bandwidth", "noop", "limit_data"):
                return FakeResponse(400, {"error": "invalid toxic type", "status": 400})
            toxics.append(dict(json))
            return FakeResponse(200, json)
        if len(parts) == 4:
            found = [t for t in toxics if t["name"] == parts[3]]
            if not found:
                return FakeResponse(404, {"error": "toxic not found", "status": 404})
            if method == "DELETE":
                toxics.remove(found[0])
                return FakeResponse(204)
            if method == "PATCH":
                found[0]["attributes"].update(json.get("attributes", {}))
                return FakeResponse(200, found[0])
        return FakeResponse(405)

    def get(self, url: str, timeout: float | None = None) -> FakeResponse:
        return self.request("GET", url, timeout=timeout)

    def post(self, url: str, json: Any = None, timeout: float | None = None) -> FakeResponse:
        return self.request("POST", url, json=json, timeout=timeout)


class FakeStack:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.timeline = Timeline()
        self.urls = {"toxiproxy": "http://tp:8474", "backup": "http://backup:9"}
        self.proxies = {n: ("127.0.0.1:1", "127.0.0.1:2") for n in ("pg_primary", "redis", "replication")}
        self.services = {n: object() for n in ("api", "postgres_primary", "redis")}
        self.procs: dict[str, FakeProcess] = {}

    def process(self, name: str) -> FakeProcess:
        if name not in self.services:
            raise HarnessError(f"unknown service {name!r}")
        return self.procs.setdefault(name, FakeProcess(name))

    def postgres_dsn(self, role: str, via_proxy: bool = False) -> str:
        return f"postgresql://{role}{'-proxy' if via_proxy else ''}"

    def redis_url(self, via_proxy: bool = False) -> str:
        return "redis://direct" if not via_proxy else "redis://proxy"


class FakeSql:
    """Shared state of a fake Postgres server; ``connect`` is the injected factory."""

    def __init__(self, max_connections: int = 20, in_use: int = 3, in_recovery: bool = True) -> None:
        self.max_connections = max_connections
        self.in_use = in_use
        self.in_recovery = in_recovery
        self.open: list[FakeSqlConn] = []
        self.statements: list[str] = []
        self.paused = False
        self.next_pid = 1000
        self.slots = max_connections  # lower it to mimic other clients taking slots meanwhile

    def connect(self, dsn: str, app: str) -> FakeSqlConn:
        if len(self.open) + self.in_use >= self.slots:
            raise RuntimeError("FATAL: sorry, too many clients already")
        self.next_pid += 1
        conn = FakeSqlConn(self, dsn, app, self.next_pid)
        self.open.append(conn)
        return conn


class FakeSqlConn:
    def __init__(self, server: FakeSql, dsn: str, app: str, pid: int) -> None:
        self.server, self.dsn, self.app, self.backend_pid = server, dsn, app, pid
        self.sent: list[str] = []
        self.cancelled = False

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        s = self.server
        s.statements.append(sql)
        if sql == "SHOW max_connections":
            return [(str(s.max_connections),)]
        if "count(*) FROM pg_stat_activity" in sql:
            return [(s.in_use + len(s.open),)]
        if sql == "SELECT pg_is_in_recovery()":
            return [(s.in_recovery,)]
        if sql == "SELECT pg_wal_replay_pause()":
            s.paused = True
        if sql == "SELECT pg_wal_replay_resume()":
            s.paused = False
        if "pg_last_wal_replay_lsn" in sql:
            return [("0/3000148",)]
        return []

    def send(self, sql: str) -> None:
        self.sent.append(sql)

    def cancel(self) -> None:
        self.cancelled = True

    def close(self) -> None:
        if self in self.server.open:
            self.server.open.remove(self)


class FakeRedis:
    """Memory grows by value size per key; maxmemory fixed."""

    def __init__(self, maxmemory: int = 1_000_000, used: int = 100_000, policy: str = "noeviction") -> None:
        self.data: dict[str, bytes] = {}
        self.base_used, self.maxmemory, self.policy = used, maxmemory, policy
        self.flushes = 0
        self.closed = 0
        self.fail_flush = False
        self.failed_flushes = 0

    def __call__(self, url: str) -> FakeRedis:
        assert url == "redis://direct", "service faults must bypass the proxy"
        return self

    def info(self, section: str) -> dict[str, Any]:
        used = self.base_used + sum(len(v) + 50 for v in self.data.values())
        return {"used_memory": used, "maxmemory": self.maxmemory, "maxmemory_policy": self.policy}

    def pipeline(self, transaction: bool = True) -> Any:
        server = self

        class Pipe:
            def __init__(self) -> None:
                self.ops: list[tuple[str, bytes]] = []

            def set(self, k: str, v: bytes) -> None:
                self.ops.append((k, v))

            def execute(self) -> None:
                for k, v in self.ops:
                    server.data[k] = v
        return Pipe()

    def delete(self, *keys: str) -> int:
        return sum(1 for k in keys if self.data.pop(k, None) is not None)

    def config_get(self, parameter: str) -> dict[str, str]:
        return {"maxmemory": str(self.maxmemory)} if parameter == "maxmemory" else {}

    def config_set(self, parameter: str, value: str) -> None:
        assert parameter == "maxmemory"
        self.maxmemory = int(value)

    def flushdb(self) -> None:
        if self.fail_flush:
            self.failed_flushes += 1
            raise ConnectionError("redis down")
        self.flushes += 1
        self.data.clear()

    def scan_iter(self, match: str, count: int) -> list[str]:
        prefix = match.rstrip("*")
        return [k for k in self.data if k.startswith(prefix)]

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def stack() -> FakeStack:
    return FakeStack()


@pytest.fixture
def http(stack: FakeStack) -> FakeToxiproxy:
    return FakeToxiproxy(list(stack.proxies))


@pytest.fixture
def signals() -> list[tuple[str, int]]:
    return []


@pytest.fixture
def faults(stack, http, signals) -> Faults:
    return Faults(stack, session=http, sql_connect=FakeSql().connect, redis_connect=FakeRedis(),
                  signal_group=lambda handle, sig: signals.append((handle.name, sig)))


def wait_for(cond, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.002)


# ------------------------------------------------------------------------------ lifecycle and timeline


class Recorder(Fault):
    kind = "recorder"

    def __init__(self, stack, *, fail_apply=False, fail_undo=False, apply_s=0.0) -> None:
        super().__init__(stack, fault_id="rec", target_name="api", params={"x": 1})
        self.fail_apply, self.fail_undo, self.apply_s = fail_apply, fail_undo, apply_s
        self.applied = self.undone = 0

    def _apply(self):
        self._target.clock.advance(self.apply_s)
        self.applied += 1
        if self.fail_apply:
            raise RuntimeError("boom on apply")
        return {"extra": "yes"}

    def _undo(self):
        self.undone += 1
        if self.fail_undo:
            raise RuntimeError("boom on undo")
        return {"after": 2}


def test_start_and_stop_are_recorded_on_the_run_clock(stack):
    f = Recorder(stack, apply_s=1.5)
    f.start()
    stack.clock.advance(10)
    f.stop()
    start, end = stack.timeline.events(FAULT_START)[0], stack.timeline.events(FAULT_END)[0]
    assert (start.t, start.name) == (100.0, "rec")
    assert start.data["kind"] == "recorder" and start.data["target"] == "api" and start.data["params"] == {"x": 1}
    assert start.data["applied_t"] == 101.5 and start.data["extra"] == "yes"
    assert end.t == 111.5 and end.data["after"] == 2 and end.data["kind"] == "recorder"


def test_stop_is_idempotent_and_faults_are_one_shot(stack):
    f = Recorder(stack)
    f.start()
    f.start()  # already active: no second apply
    f.stop()
    f.stop()
    assert (f.applied, f.undone) == (1, 1)
    assert len(stack.timeline.events(FAULT_END)) == 1
    with pytest.raises(FaultError, match="already run"):
        f.start()


def test_stopping_a_never_started_fault_records_nothing(stack):
    f = Recorder(stack)
    f.stop()
    assert f.undone == 0 and len(stack.timeline) == 0


def test_failed_start_undoes_partial_effects_and_says_which_fault(stack):
    f = Recorder(stack, fail_apply=True)
    with pytest.raises(FaultError, match=r"'rec' .*could not start") as err:
        f.start()
    assert "boom on apply" in str(err.value)
    assert f.undone == 1
    assert stack.timeline.events(FAULT_START) == []
    assert "boom on apply" in stack.timeline.events(MARK)[0].data["error"]


def test_failed_undo_is_recorded_and_raised(stack):
    f = Recorder(stack, fail_undo=True)
    f.start()
    with pytest.raises(FaultError, match="could not be undone"):
        f.stop()
    assert stack.timeline.events(FAULT_END)[0].data["error"] == "boom on undo"
    f.stop()  # idempotent even after a failed undo


def test_context_manager_undoes_on_success_and_on_failure(stack):
    with Recorder(stack) as f:
        assert f.active
    assert f.undone == 1
    g = Recorder(stack)
    with pytest.raises(ValueError), g:
        raise ValueError("scenario failed")
    assert g.undone == 1


def test_context_manager_keeps_the_first_error_when_undo_also_fails(stack):
    f = Recorder(stack, fail_undo=True)
    with pytest.raises(ValueError, match="scenario failed") as err, f:
        raise ValueError("scenario failed")
    assert any("boom on undo" in note for note in err.value.__notes__)


# -------------------------------------------------------------------------------------------- schedules


def test_schedule_starts_at_offset_and_stops_after_duration(stack):
    f = Recorder(stack)
    sched = f.schedule(start=5, duration=10)
    time.sleep(0.01)
    assert f.state == "pending"
    stack.clock.advance(5)
    wait_for(lambda: f.active)
    stack.clock.advance(9.9)
    time.sleep(0.01)
    assert f.active
    stack.clock.advance(0.1)
    sched.join(2)
    assert f.state == "ended"
    assert (stack.timeline.events(FAULT_START)[0].t, stack.timeline.events(FAULT_END)[0].t) == (105.0, 115.0)


def test_schedule_offset_is_relative_to_a_given_origin(stack):
    f = Recorder(stack)
    sched = f.schedule(start=5, duration=1, origin=95.0)  # already due
    wait_for(lambda: stack.timeline.events(FAULT_START))  # the state changes just before the event is recorded
    assert stack.timeline.events(FAULT_START)[0].t == 100.0
    sched.cancel()


def test_cancel_before_start_never_applies(stack):
    f = Recorder(stack)
    sched = f.schedule(start=60, duration=10)
    sched.cancel()
    assert sched.done and f.applied == 0 and f.state == "ended" and len(stack.timeline) == 0


def test_cancel_during_the_fault_undoes_it_now(stack):
    f = Recorder(stack)
    sched = f.schedule(start=0, duration=None)
    wait_for(lambda: f.active)
    stack.clock.advance(3)
    sched.cancel()
    assert f.undone == 1 and stack.timeline.events(FAULT_END)[0].t == 103.0


def test_a_scheduled_fault_that_fails_keeps_the_error_for_join(stack):
    f = Recorder(stack, fail_apply=True)
    sched = f.schedule(start=0, duration=1)
    with pytest.raises(FaultError, match="boom on apply"):
        sched.join(2)


def test_negative_offsets_are_refused(stack):
    with pytest.raises(FaultError, match="negative"):
        Recorder(stack).schedule(start=-1)


# -------------------------------------------------------------------------------------------- undo_all


def test_undo_all_undoes_everything_newest_first_and_is_idempotent(faults, stack, http):
    a = faults.toxic("pg_primary", "latency", latency=100).start()
    b = faults.proxy_down("redis").start()
    later = faults.schedule(faults.crash("api"), start=600)
    faults.undo_all()
    assert not a.active and not b.active and later.done and stack.procs.get("api") is None
    ends = [e.name for e in stack.timeline.events(FAULT_END)]
    assert ends == [b.id, a.id]
    faults.undo_all()
    assert len(stack.timeline.events(FAULT_END)) == 2
    assert http.proxies["pg_primary"]["toxics"] == [] and http.proxies["redis"]["enabled"] is True


def test_undo_all_tries_every_fault_and_raises_the_first_error_with_the_rest(faults, stack):
    stack.process("api").fail_start = True
    stack.process("redis").fail_start = True
    faults.crash("redis").start()
    tox = faults.toxic("pg_primary", "latency", latency=1).start()
    faults.crash("api").start()
    with pytest.raises(FaultError) as err:
        faults.undo_all()
    assert "crash:api" in str(err.value)
    assert any("crash:redis" in n for n in err.value.__notes__)
    assert not tox.active  # undone although an older and a newer fault failed
    faults.undo_all()  # nothing left, nothing raised


def test_faults_context_manager_keeps_the_scenario_error_first(faults, stack):
    stack.process("api").fail_start = True
    with pytest.raises(ValueError) as err, faults:
        faults.crash("api").start()
        raise ValueError("assertion in scenario")
    assert any("crash:api" in n for n in err.value.__notes__)


def test_undo_all_reports_errors_from_scheduled_faults(faults, http):
    a = faults.schedule(faults.toxic("pg_primary", "latency", latency=1, name="dup"), 0, None)
    b = faults.schedule(faults.toxic("pg_primary", "latency", latency=1, name="dup"), 0, None)
    wait_for(lambda: (a.error is None) != (b.error is None))  # either thread may post first
    errors = faults.undo_all(raise_errors=False)
    assert len(errors) == 1 and "409" in str(errors[0])
    assert http.proxies["pg_primary"]["toxics"] == []


def test_ids_are_unique_and_explicit_ids_cannot_repeat(faults):
    a, b = faults.crash("api"), faults.crash("api")
    assert (a.id, b.id) == ("crash:api", "crash:api#2")
    faults.freeze("api", fault_id="f1")
    with pytest.raises(FaultError, match="f1"):
        faults.freeze("api", fault_id="f1")


# -------------------------------------------------------------------------------------------- network


def test_toxic_is_added_with_all_fields_and_removed(faults, http, stack):
    f = faults.toxic("pg_primary", "latency", latency=250, jitter=10, stream="upstream", toxicity=0.5)
    with f:
        (toxic,) = http.proxies["pg_primary"]["toxics"]
        assert toxic == {"name": f.toxic_name, "type": "latency", "stream": "upstream", "toxicity": 0.5,
                         "attributes": {"latency": 250, "jitter": 10}}
    assert http.proxies["pg_primary"]["toxics"] == []
    start = stack.timeline.events(FAULT_START)[0]
    assert start.data["target"] == "pg_primary"
    assert start.data["params"] == {"type": "latency", "stream": "upstream", "toxicity": 0.5, "latency": 250,
                                    "jitter": 10}


def test_two_toxics_of_one_type_can_share_a_proxy(faults, http):
    faults.toxic("redis", "latency", latency=1).start()
    faults.toxic("redis", "latency", latency=2).start()
    assert len(http.proxies["redis"]["toxics"]) == 2


def test_toxic_update_patches_the_live_toxic(faults, http, stack):
    f = faults.toxic("pg_primary", "latency", latency=100).start()
    f.update(latency=500)
    assert http.proxies["pg_primary"]["toxics"][0]["attributes"]["latency"] == 500
    assert ("PATCH", f"/proxies/pg_primary/toxics/{f.toxic_name}", {"attributes": {"latency": 500}}) in http.calls
    assert stack.timeline.events(MARK)[0].data["action"] == "toxic_update"


def test_a_toxic_removed_behind_our_back_is_not_an_undo_error(faults, http):
    f = faults.toxic("pg_primary", "latency", latency=100).start()
    http.proxies["pg_primary"]["toxics"].clear()  # e.g. someone POSTed /reset
    f.stop()
    assert f.state == "ended"


def test_toxiproxy_errors_carry_status_and_reply(faults, http):
    http.proxies["pg_primary"]["toxics"].append({"name": "taken", "type": "noop", "attributes": {}})
    with pytest.raises(FaultError) as err:
        faults.toxic("pg_primary", "latency", latency=1, name="taken").start()
    assert "HTTP 409" in str(err.value) and "toxic already exists" in str(err.value)


def test_proxy_down_disables_then_reenables(faults, http):
    with faults.proxy_down("replication"):
        assert http.proxies["replication"]["enabled"] is False
    assert http.proxies["replication"]["enabled"] is True


def test_proxy_down_leaves_an_already_disabled_proxy_disabled(faults, http):
    http.proxies["redis"]["enabled"] = False
    with faults.proxy_down("redis"):
        pass
    assert http.proxies["redis"]["enabled"] is False


def test_unknown_proxy_is_refused_before_any_call(faults, http):
    with pytest.raises(FaultSpecError, match="target: unknown proxy 'pg_replica'"):
        faults.toxic("pg_replica", "latency", latency=1)
    with pytest.raises(FaultSpecError, match="unknown proxy"):
        faults.proxy_down("nope")
    assert http.calls == []


def test_http_session_gets_a_non_browser_user_agent(faults, http):
    assert not http.headers["User-Agent"].startswith("Mozilla/")


# -------------------------------------------------------------------------------------------- process


def test_crash_kills_the_group_and_restarts_at_the_end(faults, stack, signals):
    with faults.crash("api"):
        assert signals == [("api", signal.SIGKILL)]
        assert stack.procs["api"].running is False
    assert stack.procs["api"].calls == ["kill", "start"]
    assert stack.timeline.events(FAULT_END)[0].data["restarted"] is True


def test_crash_of_a_stopped_service_is_an_error(faults, stack):
    stack.process("api").running = False
    with pytest.raises(FaultError, match="not running"):
        faults.crash("api").start()


def test_freeze_stops_and_continues_the_group(faults, signals):
    with faults.freeze("postgres_primary"):
        assert signals == [("postgres_primary", signal.SIGSTOP)]
    assert signals[-1] == ("postgres_primary", signal.SIGCONT)


def test_stop_is_graceful_and_started_again(faults, stack):
    with faults.stop("redis", timeout=3):
        assert stack.procs["redis"].running is False
    assert stack.procs["redis"].calls == ["stop:3.0", "start"]


def test_restart_is_instant(faults, stack):
    f = faults.restart("api").start()
    assert not f.active and stack.procs["api"].calls == ["stop:10.0", "start"]
    assert len(stack.timeline.events(FAULT_END)) == 1
    f.stop()
    assert len(stack.timeline.events(FAULT_END)) == 1


def test_unknown_service_is_refused(faults):
    with pytest.raises(FaultSpecError, match="unknown service 'apii'") as err:
        faults.crash("apii")
    assert "api" in str(err.value)


def test_real_group_signaller_refuses_a_handle_without_pid():
    from harness.faults.process import signal_process_group

    with pytest.raises(HarnessError, match="no pid"):
        signal_process_group(FakeProcess("x", pid=None), signal.SIGCONT)


# -------------------------------------------------------------------------------------------- service


def make(stack, http, sql=None, redis=None) -> Faults:
    return Faults(stack, session=http, sql_connect=(sql or FakeSql()).connect, redis_connect=redis or FakeRedis())


def test_pause_wal_replay_pauses_and_resumes_on_the_direct_replica_dsn(stack, http):
    sql = FakeSql()
    with make(stack, http, sql=sql).pause_wal_replay():
        assert sql.paused
        assert all(c.dsn == "postgresql://replica" for c in sql.open) or not sql.open
    assert not sql.paused and sql.open == []
    assert stack.timeline.events(FAULT_START)[0].data["target"] == "postgres_replica"


def test_pause_wal_replay_refuses_a_primary(stack, http):
    with pytest.raises(FaultError, match="not in recovery"):
        make(stack, http, sql=FakeSql(in_recovery=False)).pause_wal_replay().start()


def test_hold_connections_fills_to_the_fraction_and_releases(stack, http):
    sql = FakeSql(max_connections=20, in_use=3)
    with make(stack, http, sql=sql).hold_connections(0.75) as f:
        assert sql.in_use + len(sql.open) == 15
        assert all(c.app == "harness-fault-hold" and not c.sent for c in sql.open)
    assert sql.open == []
    start = stack.timeline.events(FAULT_START)[0].data
    assert (start["max_connections"], start["goal"], start["held"]) == (20, 15, 12)
    # What was reached: the 3 other clients (the count of 4 included the admin connection) and 12 held, of 20.
    assert f.achieved == {"connections": 15, "max_connections": 20, "fraction": 0.75}
    assert f.held == []
    assert any("pg_terminate_backend" in s for s in sql.statements)


def test_hold_connections_active_runs_pg_sleep_and_cancels(stack, http):
    sql = FakeSql(max_connections=10, in_use=0)
    with make(stack, http, sql=sql).hold_connections(0.5, state="active"):
        held = list(sql.open)
        assert len(held) == 5 and all(c.sent == ["SELECT pg_sleep(86400)"] for c in held)
    assert all(c.cancelled for c in held)


def test_hold_connections_treats_a_full_server_as_reached(stack, http):
    sql = FakeSql(max_connections=10, in_use=2)
    sql.slots = 7  # the API's pool grew while we were filling
    with make(stack, http, sql=sql).hold_connections(1.0):
        assert len(sql.open) == 5
    assert "too many clients" in stack.timeline.events(FAULT_START)[0].data["refused"]


def test_fill_redis_reaches_the_fraction_and_deletes_its_keys(stack, http):
    r = FakeRedis(maxmemory=2_000_000, used=100_000)
    with make(stack, http, redis=r).fill_redis(0.8, value_bytes=10_000) as f:
        ratio = r.info("memory")["used_memory"] / r.maxmemory
        assert 0.8 <= ratio < 0.82
        assert all(k.startswith("harness:fault:fill:fill_redis:redis") or k.startswith("harness:fault:fill:")
                   for k in r.data)
    assert r.data == {} and f.written == 0
    assert stack.timeline.events(FAULT_START)[0].data["ratio"] >= 0.8
    assert f.achieved["fraction"] == stack.timeline.events(FAULT_START)[0].data["ratio"]
    assert stack.timeline.events(FAULT_END)[0].data["deleted"] > 0


def test_redis_config_sets_a_misconfiguration_and_restores_the_original(stack, http):
    r = FakeRedis(maxmemory=64 * 2**20)
    with make(stack, http, redis=r).redis_config("maxmemory", "0") as fault:
        assert r.maxmemory == 0
        assert stack.timeline.events(FAULT_START)[0].data["original"] == str(64 * 2**20)
    assert r.maxmemory == 64 * 2**20 and fault.original is None
    with pytest.raises(HarnessError, match="no configuration parameter 'maxmemry'"):
        make(stack, http, redis=r).redis_config("maxmemry", "0").start()


def test_fill_redis_without_maxmemory_says_what_to_do(stack, http):
    with pytest.raises(FaultError, match="no maxmemory") as err:
        make(stack, http, redis=FakeRedis(maxmemory=0)).fill_redis(0.5).start()
    assert "Hint" in str(err.value)


def test_fill_redis_gives_up_when_eviction_keeps_memory_flat(stack, http):
    r = FakeRedis(maxmemory=1_000_000, used=900_000, policy="allkeys-lru")
    r.pipeline = lambda transaction=True: type("P", (), {"set": lambda *a: None, "execute": lambda *a: None})()
    with pytest.raises(FaultError, match="stopped growing"):
        make(stack, http, redis=r).fill_redis(0.95).start()


def test_cache_miss_storm_flushes_at_once_and_keeps_flushing(stack, http):
    r = FakeRedis()
    with make(stack, http, redis=r).cache_miss_storm(interval_s=0.001):
        assert r.flushes >= 1
        wait_for(lambda: r.flushes >= 5)
    n = r.flushes
    time.sleep(0.01)
    assert r.flushes == n  # the thread is gone
    assert stack.timeline.events(FAULT_END)[0].data["flushes"] == n


def test_cache_miss_storm_with_a_pattern_deletes_only_matching_keys(stack, http):
    r = FakeRedis()
    r.data = {"cache:a": b"1", "cache:b": b"2", "session:x": b"3"}
    with make(stack, http, redis=r).cache_miss_storm(interval_s=0.5, pattern="cache:*"):
        assert set(r.data) == {"session:x"}
    assert r.flushes == 0


def test_cache_miss_storm_survives_a_redis_outage(stack, http):
    r = FakeRedis()
    with make(stack, http, redis=r).cache_miss_storm(interval_s=0.001):
        r.fail_flush = True
        wait_for(lambda: r.failed_flushes >= 1)  # not a fixed sleep: the storm thread may be held off
        r.fail_flush = False
    end = stack.timeline.events(FAULT_END)[0].data
    assert end["errors"] >= 1 and "redis down" in end["last_error"]


def test_backup_failing_posts_control_and_restores(stack, http):
    with make(stack, http).backup_failing(last_success_age_seconds=90000):
        assert http.backup_control == {"fail": True, "last_success_age_seconds": 90000}
    assert http.backup_control["fail"] is False
    posts = [c for c in http.calls if c[0] == "POST"]
    assert posts == [("POST", "/control", {"fail": True}), ("POST", "/control", {"last_success_age_seconds": 90000}),
                     ("POST", "/control", {"fail": False})]


def test_backup_failing_waits_for_a_running_backup_before_backdating(stack, http):
    http.backup_control["running"] = True
    request = http.request

    def finishes_on_third_look(method, url, json=None, timeout=None):  # by count of polls, not by a timer
        r = request(method, url, json=json, timeout=timeout)
        if method == "GET" and sum(c[0] == "GET" for c in http.calls) == 3:
            http.backup_control["running"] = False
        return r

    http.request = finishes_on_third_look
    with make(stack, http).backup_failing(last_success_age_seconds=60):
        assert http.backup_control["last_success_age_seconds"] == 60
    gets = [c for c in http.calls if c[0] == "GET"]
    assert len(gets) >= 3  # the state before, then polling until the run finished


def test_backup_failing_without_a_backup_job(stack, http):
    del stack.urls["backup"]
    with pytest.raises(FaultError, match="no backup job"):
        make(stack, http).backup_failing().start()


# -------------------------------------------------------------------------------------------- from_spec


@pytest.mark.parametrize("kind,target,params,cls,expected_target", [
    ("toxic", "redis", {"type": "timeout", "timeout": 0}, "ToxicFault", "redis"),
    ("proxy_down", "replication", {}, "ProxyDownFault", "replication"),
    ("crash", "api", {}, "CrashFault", "api"),
    ("freeze", "redis", {}, "FreezeFault", "redis"),
    ("stop", "api", {"timeout": 2}, "StopFault", "api"),
    ("restart", "api", {}, "RestartFault", "api"),
    ("pause_wal_replay", None, {}, "PauseWalReplayFault", "postgres_replica"),
    ("hold_connections", None, {"fraction": 0.9}, "HoldConnectionsFault", "postgres_primary"),
    ("fill_redis", "redis", {"fraction": 0.9}, "FillRedisFault", "redis"),
    ("cache_miss_storm", None, {}, "CacheMissStormFault", "redis"),
    ("backup_failing", None, {"last_success_age_seconds": 60}, "BackupFailingFault", "backup"),
    ("error_ratio", None, {"ratio": 0.02, "endpoint": "/api/bets"}, "ErrorRatioFault", "api"),
    ("cache_hit_ratio", "api", {"ratio": 0.6}, "CacheHitRatioFault", "api"),
    ("query_latency", None, {"query": "query1", "latency_ms": 10}, "QueryLatencyFault", "api"),
])
def test_from_spec_builds_every_kind(faults, kind, target, params, cls, expected_target):
    f = faults.from_spec(kind, target, params)
    assert type(f).__name__ == cls and f.kind == kind and f.target_name == expected_target
    assert f.state == "pending"


def test_from_spec_passes_toxic_attributes_through(faults, http):
    f = faults.from_spec("toxic", "pg_primary", {"type": "bandwidth", "rate": 10, "stream": "upstream"},
                         fault_id="slow")
    f.start()
    (toxic,) = http.proxies["pg_primary"]["toxics"]
    assert (f.id, toxic["type"], toxic["stream"], toxic["attributes"]) == ("slow", "bandwidth", "upstream",
                                                                           {"rate": 10})


@pytest.mark.parametrize("kind,target,params,field", [
    ("melt", "api", {}, "kind"),
    ("crash", "grafana", {}, "target"),  # a real service name, but not in this stack
    ("toxic", "exporter_redis", {"type": "noop"}, "target"),
    ("fill_redis", None, {"fraction": "half"}, "params.fraction"),
])
def test_from_spec_validates_against_the_stack(faults, kind, target, params, field, http):
    with pytest.raises(FaultSpecError) as err:
        faults.from_spec(kind, target, params)
    assert err.value.field == field
    assert http.calls == [] and faults.faults == []
