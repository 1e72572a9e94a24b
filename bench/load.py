"""Load generator throughput on this machine: Locust with recording on and off, against wrk.

One run, one cheap endpoint (GET /ping on a one-worker uvicorn + starlette app started here). For each
setting the highest requests/s over a few concurrency levels is reported, with the ratios.

    .venv/bin/python bench/load.py [--seconds 8] [--users 32,64] [--workers 0] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from harness.core.clock import RunClock
from harness.load import ConstantUsers, run_load
from harness.load.records import read_records

APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def ping(request):
    return PlainTextResponse("pong")

app = Starlette(routes=[Route("/ping", ping)])
"""

LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Ping(FastHttpUser):
    wait_time = constant(0)

    @task
    def ping(self):
        self.client.get("/ping", name="/ping")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    (workdir / "pingapp.py").write_text(APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "pingapp:app", "--app-dir", str(workdir), "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/ping", timeout=0.5).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("uvicorn did not become ready within 15 s")


def locust_rps(url: str, workdir: Path, users: int, seconds: float, record: bool, workers: int) -> float:
    lf = workdir / "ping_locustfile.py"
    lf.write_text(LOCUSTFILE)
    rec_path = workdir / f"run-{users}-{int(record)}-{time.monotonic_ns()}.rec"
    run = run_load(url, ConstantUsers(users=users, duration_s=seconds, spawn_rate=1000),
                   records_path=rec_path if record else None, clock=RunClock(), locustfile=lf, workers=workers,
                   log_path=rec_path.with_suffix(".log"))
    run.wait()
    stats = run.stats.get("locust") or {}
    rps = float(stats.get("rps", 0.0))
    if record:
        n = len(read_records(rec_path))
        if n != stats.get("requests"):
            print(f"  warning: {n} records, Locust counted {stats.get('requests')}")
    return rps


def recording_cost_us(workdir: Path, n: int = 200_000) -> float:
    """CPU cost of recording one request (listener + its share of flushing), measured in-process."""
    from harness.load.recorder import Recorder  # imports gevent, not Locust: no monkey-patching here

    class Resp:
        status_code = 200

    rec = Recorder(workdir / "micro.rec")
    resp = Resp()
    t0 = time.perf_counter()
    for i in range(n):
        rec.on_request(request_type="GET", name="/ping", response_time=1.0, response_length=4, response=resp,
                       context={}, exception=None)
        if i % 5000 == 4999:
            rec.writer.flush()
    rec.close()
    return (time.perf_counter() - t0) / n * 1e6


def wrk_rps(url: str, connections: int, seconds: float) -> float:
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{int(seconds)}s", url + "/ping"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--users", default="32,64")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs per setting")
    args = ap.parse_args()
    levels = [int(u) for u in args.users.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        server, url = start_server(workdir)
        try:
            # Interleaved and repeated: on a shared 2-core machine run-to-run noise exceeds the effect.
            on = dict.fromkeys(levels, 0.0)
            off = dict.fromkeys(levels, 0.0)
            for _ in range(args.repeats):
                for u in levels:
                    off[u] = max(off[u], locust_rps(url, workdir, u, args.seconds, False, args.workers))
                    on[u] = max(on[u], locust_rps(url, workdir, u, args.seconds, True, args.workers))
            wrk = {u: wrk_rps(url, u, args.seconds) for u in levels}
            cost = recording_cost_us(workdir)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
    print(f"endpoint GET /ping (uvicorn, 1 worker), {args.seconds:g} s per run, "
          f"locust workers={args.workers}, concurrency levels {levels}")
    for u in levels:
        print(f"  c={u:4d}  locust+recording {on[u]:8.0f}/s   locust {off[u]:8.0f}/s   wrk {wrk[u]:8.0f}/s")
    best_on, best_off, best_wrk = max(on.values()), max(off.values()), max(wrk.values())
    print(f"highest: locust with recording {best_on:.0f} req/s, without {best_off:.0f} req/s, wrk {best_wrk:.0f} req/s")
    print(f"ratios: recording on/off {best_on / best_off:.3f} (target >= 0.90); "
          f"locust/wrk {best_off / best_wrk:.3f}; locust+recording/wrk {best_on / best_wrk:.3f}")
    implied = 1.0 / (1.0 + cost * 1e-6 * best_off)
    print(f"recording costs {cost:.2f} us of generator CPU per request: at {best_off:.0f} req/s that bounds "
          f"the on/off ratio at {implied:.3f}; differences beyond that are run-to-run noise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
