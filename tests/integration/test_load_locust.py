"""Real Locust (child process) against a tiny local HTTP server started here."""

import json
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from harness.core.clock import RunClock
from harness.load import ConstantArrivalRate, ConstantUsers, run_load
from harness.load.records import read_records

pytestmark = pytest.mark.integration


class Server:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        self.stall_until = 0.0  # CLOCK_MONOTONIC; requests arriving before it wait until then
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _reply(self, code, body):
                with outer.lock:
                    outer.count += 1
                delay = outer.stall_until - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                data = json.dumps(body).encode()
                self.wfile.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (code, len(data), data))

            def do_GET(self):
                if self.path == "/api/meta":
                    self._reply(200, {"users": 5, "open_market_ids": [1, 2], "closed_market_ids": [9]})
                elif self.path.startswith("/boom"):
                    self._reply(503, {"error": "boom"})
                else:
                    self._reply(200, {"ok": True})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                ok = body.get("market_id") != 9 and isinstance(body.get("user_id"), int) and body.get("stake", 0) < 1e6
                self._reply(201 if ok else 422, {"ok": ok})

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_every_request_is_recorded_with_the_betting_workload(server, tmp_path):
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantUsers(users=4, duration_s=3, think_s=(0.005, 0.02)), records_path=path,
                   clock=RunClock())
    assert run.wait() == 0
    rec = read_records(path)
    assert len(rec) == server.count > 100
    assert (rec.start >= rec.intended).all() and (rec.end >= rec.start).all()
    assert rec.dropped_bytes == 0
    names = set(rec.endpoint)
    assert {"/api/active-bets", "/api/bets", "/api/users/{id}/bets"} <= names
    dash = (rec.endpoint == "/api/active-bets").sum()
    assert dash > 0.4 * len(rec)  # dashboard reads dominate
    bets = rec.for_endpoints(["POST /api/bets"])
    assert set(bets.status) >= {201, 422}  # valid and invalid bets
    assert run.stats["locust"]["requests"] == len(rec)


def test_stopped_run_keeps_its_records(server, tmp_path):
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantUsers(users=3, duration_s=60, think_s=(0.01, 0.02)), records_path=path,
                   clock=RunClock())
    time.sleep(4.0)
    assert run.running
    run.stop()
    assert not run.running
    rec = read_records(path)
    assert len(rec) == server.count > 20


def test_killed_run_loses_at_most_the_last_second(server, tmp_path):
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantArrivalRate(rate_per_s=40, duration_s=60, max_users=5), records_path=path,
                   clock=RunClock())
    time.sleep(4.0)
    os.killpg(run.pid, signal.SIGKILL)
    run.proc.wait()
    sent = server.count
    rec = read_records(path)
    assert sent - 45 <= len(rec) <= sent  # 40 rps: at most ~1 s (plus in-flight) lost


def test_open_model_counts_a_stall_as_latency_from_the_intended_start(server, tmp_path):
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantArrivalRate(rate_per_s=20, duration_s=5, max_users=4), records_path=path,
                   clock=RunClock())
    # Let it settle, then stall the server for 1.5 s: the 4 users block, arrivals keep their schedule.
    deadline = time.monotonic() + 15
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    stall_from = time.monotonic()
    server.stall_until = stall_from + 1.5
    assert run.wait() == 0
    rec = read_records(path)
    paced = rec.select(rec.endpoint != "/api/meta")
    assert len(paced) == 100  # exactly rate x duration
    order = np.sort(paced.intended)
    assert np.allclose(np.diff(order), 0.05, atol=1e-6)
    during = (paced.intended > stall_from + 0.1) & (paced.intended < stall_from + 1.2)
    assert during.sum() >= 15
    # Latency from the intended start reaches the stall's end even for requests the generator only
    # managed to start after it ended.
    assert (paced.end[during] >= server.stall_until - 0.01).all()
    assert (paced.latency[during] >= server.stall_until - paced.intended[during] - 0.01).all()
    queued = during & (paced.start - paced.intended > 0.2)
    assert queued.sum() > 0 and (paced.latency[queued] > paced.service_time[queued]).all()


def test_local_workers_share_one_records_file(server, tmp_path):
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantArrivalRate(rate_per_s=30, duration_s=3, max_users=6), records_path=path,
                   clock=RunClock(), workers=2)
    assert run.wait() == 0
    rec = read_records(path)
    paced = rec.select(rec.endpoint != "/api/meta")
    assert len(paced) == 90 and len(rec) == server.count
    assert np.allclose(np.diff(np.sort(paced.intended)), 1 / 30, atol=0.05)


def test_user_locustfile_is_recorded_through_the_request_event(server, tmp_path):
    lf = tmp_path / "mine.py"
    lf.write_text(
        "from locust import HttpUser, constant, task\n"
        "class Mine(HttpUser):\n"
        "    wait_time = constant(0.02)\n"
        "    @task\n"
        "    def hit(self):\n"
        "        self.client.get('/boom/1', name='/boom/{n}')\n"
    )
    path = tmp_path / "run.rec"
    run = run_load(server.url, ConstantUsers(users=2, duration_s=2), records_path=path, clock=RunClock(),
                   locustfile=lf)
    assert run.wait() == 0
    rec = read_records(path)
    assert len(rec) == server.count > 10
    assert set(rec.endpoint) == {"/boom/{n}"} and set(rec.status) == {503} and set(rec.error) == {""}


def test_refused_connections_are_recorded_as_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "run.rec"
    run = run_load(f"http://127.0.0.1:{port}", ConstantUsers(users=1, duration_s=1.5, think_s=(0.05, 0.1)),
                   records_path=path, clock=RunClock())
    assert run.wait() == 0
    rec = read_records(path)
    assert len(rec) > 3 and set(rec.status) == {0} and set(rec.error) == {"refused"}
