"""Network faults against a real Toxiproxy API (our harness.toxiproxy_server, or a real toxiproxy-server on
PATH) in front of a TCP echo server; effects measured on the wire, and cross-checked with the stock
toxiproxy-python client."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from harness.core.clock import RunClock
from harness.core.timeline import FAULT_END, FAULT_START, Timeline
from harness.faults import Faults

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_argv(port: int) -> list[str]:
    if shutil.which("toxiproxy-server"):
        return ["toxiproxy-server", "-host", "127.0.0.1", "-port", str(port)]
    if importlib.util.find_spec("harness.toxiproxy_server.__main__") is None:
        pytest.skip("harness.toxiproxy_server.__main__ is missing (contract A) and no toxiproxy-server on PATH")
    return [sys.executable, "-m", "harness.toxiproxy_server", "--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    lsock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        lsock.close()


class Target:
    def __init__(self, api_url: str, proxies: dict[str, tuple[str, str]]) -> None:
        self.clock = RunClock()
        self.timeline = Timeline()
        self.urls = {"toxiproxy": api_url}
        self.proxies = proxies

    def process(self, name: str):
        raise NotImplementedError

    def postgres_dsn(self, role: str, via_proxy: bool = False) -> str:
        raise NotImplementedError

    def redis_url(self, via_proxy: bool = False) -> str:
        raise NotImplementedError


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(server_argv(port), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, f"toxiproxy server exited: {proc.stderr.read().decode()[-2000:]}"
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/version", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "toxiproxy server not ready after 15 s"
            time.sleep(0.05)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def target(toxiproxy: str) -> Iterator[Target]:
    with echo_server() as echo_port:
        upstream = f"127.0.0.1:{echo_port}"
        requests.post(toxiproxy + "/reset", timeout=5)
        requests.delete(toxiproxy + "/proxies/pg_primary", timeout=5)
        created = requests.post(toxiproxy + "/proxies", json={"name": "pg_primary", "listen": "127.0.0.1:0",
                                                              "upstream": upstream}, timeout=5)
        assert created.status_code == 201, created.text
        tgt = Target(toxiproxy, {"pg_primary": (created.json()["listen"], upstream)})
        try:
            round_trip(listen_port(tgt))
        except (OSError, AssertionError) as exc:
            pytest.fail(f"the Toxiproxy server at {toxiproxy} does not relay bytes through a proxy with no toxics "
                        f"({type(exc).__name__}: {exc}); fault effects cannot be measured (contract A)")
        yield tgt


def listen_port(target: Target) -> int:
    return int(target.proxies["pg_primary"][0].rsplit(":", 1)[1])


def round_trip(port: int, payload: bytes = b"ping") -> float:
    """Seconds for one connect + echo through the proxy."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk, "connection closed before the echo came back"
            got += chunk
    assert got == payload
    return time.monotonic() - t0


def test_latency_toxic_adds_latency_and_is_removed(target, toxiproxy):
    port = listen_port(target)
    assert round_trip(port) < 0.1
    faults = Faults(target)
    with faults.toxic("pg_primary", "latency", latency=200) as fault:
        assert round_trip(port) >= 0.2
        # The stock client sees the same toxic on the same server.
        from toxiproxy import Toxiproxy
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", int(toxiproxy.rsplit(":", 1)[1]))
        toxics = client.get_proxy("pg_primary").toxics()
        assert toxics[fault.toxic_name].attributes["latency"] == 200
        fault.update(latency=400)
        assert round_trip(port) >= 0.4
    assert round_trip(port) < 0.1
    assert requests.get(toxiproxy + "/proxies/pg_primary/toxics", timeout=5).json() == []
    start, end = target.timeline.events(FAULT_START)[0], target.timeline.events(FAULT_END)[0]
    assert start.data["params"]["latency"] == 200 and end.t > start.t


def test_upstream_timeout_toxic_from_spec_swallows_requests(target):
    port = listen_port(target)
    fault = Faults(target).from_spec("toxic", "pg_primary", {"type": "timeout", "timeout": 0,
                                                             "stream": "upstream"})
    with fault, socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(0.3)
        s.sendall(b"hello")
        with pytest.raises(TimeoutError):
            s.recv(10)
    assert round_trip(port) < 0.1


def test_scheduled_proxy_down_refuses_connections_for_its_duration(target, toxiproxy):
    port = listen_port(target)
    faults = Faults(target)
    sched = faults.schedule(faults.proxy_down("pg_primary"), start=0.1, duration=0.5)

    def refused() -> bool:
        try:
            round_trip(port)
            return False
        except (ConnectionRefusedError, ConnectionResetError, AssertionError):
            return True

    assert not refused()
    deadline = time.monotonic() + 3
    while not refused():
        assert time.monotonic() < deadline, "proxy never went down"
        time.sleep(0.02)
    assert requests.get(toxiproxy + "/proxies/pg_primary", timeout=5).json()["enabled"] is False
    sched.join(5)
    assert round_trip(port) < 0.1  # same port: enable/disable keeps it
    start, end = target.timeline.events(FAULT_START)[0], target.timeline.events(FAULT_END)[0]
    assert end.data["undo_started_t"] - start.t == pytest.approx(0.5, abs=0.1)


def test_undo_all_removes_every_toxic_after_a_failing_scenario(target, toxiproxy):
    faults = Faults(target)
    with pytest.raises(RuntimeError), faults:
        faults.toxic("pg_primary", "latency", latency=50).start()
        faults.toxic("pg_primary", "bandwidth", rate=10, stream="upstream").start()
        faults.proxy_down("pg_primary").start()
        raise RuntimeError("scenario failed")
    proxy = requests.get(toxiproxy + "/proxies/pg_primary", timeout=5).json()
    assert proxy["enabled"] is True and proxy["toxics"] == []
    assert round_trip(listen_port(target)) < 0.1
