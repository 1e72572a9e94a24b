"""The betting API's throughput and latency per endpoint, with wrk and with the harness's own Locust load.

Starts a throwaway stack (Postgres primary + replica, Redis, default data scale 1.0), the API with the
contract's command line, then for each endpoint runs wrk and harness.load at the same fixed concurrency
(closed loop, no think time) and prints requests/s and p50/p99. Then a light sequential phase measures
the guide's query SLIs from query_duration_seconds (Query 1 with the cache key dropped before each call,
so every call reaches Postgres).

    .venv/bin/python bench/api.py [--concurrency 16] [--seconds 5] [--workers 1] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import api_services  # noqa: E402

ENDPOINTS = ("/api/active-bets", "/api/bets", "/api/users/{id}/bets", "/api/markets/{id}/exposure",
             "/api/reports/daily-volume")
SLOS = (("query1", 0.005), ("place_bet", 0.05), ("query2", 0.01), ("query3", 0.01), ("query4", 0.01))

LUA = {
    "/api/active-bets": 'request = function() return wrk.format("GET", "/api/active-bets") end',
    "/api/bets": """
request = function()
  local body = string.format('{"user_id":%d,"market_id":%d,"stake":1,"odds":2.5}', math.random(1, USERS),
                             OPEN[math.random(1, #OPEN)])
  return wrk.format("POST", "/api/bets", {["Content-Type"] = "application/json"}, body)
end""",
    "/api/users/{id}/bets": """
request = function() return wrk.format("GET", string.format("/api/users/%d/bets", math.random(1, USERS))) end""",
    "/api/markets/{id}/exposure": """
request = function()
  return wrk.format("GET", string.format("/api/markets/%d/exposure", OPEN[math.random(1, #OPEN)]))
end""",
    "/api/reports/daily-volume": 'request = function() return wrk.format("GET", "/api/reports/daily-volume") end',
}

LOCUST_CALL = {
    "/api/active-bets": 'self.client.get("/api/active-bets", name="/api/active-bets")',
    "/api/bets": ('self.client.post("/api/bets", json={"user_id": random.randint(1, USERS), '
                  '"market_id": random.choice(OPEN), "stake": 1, "odds": 2.5}, name="/api/bets")'),
    "/api/users/{id}/bets": ('self.client.get(f"/api/users/{random.randint(1, USERS)}/bets", '
                             'name="/api/users/{id}/bets")'),
    "/api/markets/{id}/exposure": ('self.client.get(f"/api/markets/{random.choice(OPEN)}/exposure", '
                                   'name="/api/markets/{id}/exposure")'),
    "/api/reports/daily-volume": 'self.client.get("/api/reports/daily-volume", name="/api/reports/daily-volume")',
}

LOCUSTFILE = """
import random
from locust import FastHttpUser, constant, task

USERS = {users}
OPEN = {open_ids}

class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def call(self):
        {call}
"""


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(url: str, endpoint: str, meta: dict[str, object], concurrency: int, seconds: float, workdir: Path
            ) -> dict[str, float]:
    script = workdir / "bench.lua"
    open_ids = ",".join(str(i) for i in meta["open_market_ids"])  # type: ignore[attr-defined]
    script.write_text(f"math.randomseed(4)\nUSERS = {meta['users']}\nOPEN = {{{open_ids}}}\n{LUA[endpoint]}\n")
    out = subprocess.run([shutil.which("wrk") or "/usr/bin/wrk", "-t1", f"-c{concurrency}", f"-d{int(seconds)}s",
                          "--latency", "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
            "p99_ms": _ms(p99.group(1)) if p99 else float("nan"), "requests": float(total.group(1)) if total else 0,
            "errors": float(bad.group(1)) if bad else 0.0}


def run_locust(url: str, endpoint: str, meta: dict[str, object], concurrency: int, seconds: float, workdir: Path
               ) -> dict[str, float]:
    import numpy as np

    from harness.core.clock import RunClock
    from harness.load import ConstantUsers, run_load
    from harness.load.records import read_records

    lf = workdir / "bench_locustfile.py"
    lf.write_text(LOCUSTFILE.format(users=meta["users"], open_ids=meta["open_market_ids"], call=LOCUST_CALL[endpoint]))
    rec_path = workdir / f"locust-{time.monotonic_ns()}.records"
    run = run_load(url, ConstantUsers(users=concurrency, duration_s=seconds, spawn_rate=1000, think_s=(0.0, 0.0)),
                   records_path=rec_path, clock=RunClock(), locustfile=lf, log_path=rec_path.with_suffix(".log"))
    run.wait(timeout=seconds + 60)
    rec = read_records(rec_path)
    if len(rec) == 0:
        return {"rps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"), "requests": 0, "errors": 0}
    # Drop the first second: users are still spawning and connections opening.
    steady = rec.select(rec.start >= rec.start.min() + 1.0)
    span = float(steady.end.max() - steady.start.min())
    lat = steady.service_time * 1000
    ok = (steady.status >= 200) & (steady.status < 300)
    return {"rps": len(steady) / span if span > 0 else 0.0, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "requests": float(len(steady)), "errors": float((~ok).sum())}


def query_slis(services: api_services.Services, url: str, meta: dict[str, object], rounds: int) -> list[str]:
    import redis

    cache = redis.Redis.from_url(services.redis_url)
    _, before = api_services.get_json(url + "/metrics")
    open_ids = meta["open_market_ids"]
    assert isinstance(open_ids, list)
    rng = random.Random(4)
    users = int(meta["users"])  # type: ignore[call-overload]
    for _ in range(rounds):
        cache.delete("active_bets")
        api_services.get_json(url + "/api/active-bets")
        api_services.request_json("POST", url + "/api/bets", json.dumps(
            {"user_id": rng.randint(1, users), "market_id": rng.choice(open_ids), "stake": 1, "odds": 2}).encode())
        api_services.get_json(url + f"/api/users/{rng.randint(1, users)}/bets")
        api_services.get_json(url + f"/api/markets/{rng.choice(open_ids)}/exposure")
        api_services.get_json(url + "/api/reports/daily-volume")
    _, after = api_services.get_json(url + "/metrics")
    assert isinstance(before, str) and isinstance(after, str)
    lines = []
    bounds = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
    for query, slo in SLOS:
        def delta(name: str, query: str = query, **labels: str) -> float:
            return api_services.metric_value(after, name, query_name=query, **labels) - \
                api_services.metric_value(before, name, query_name=query, **labels)

        count = delta("query_duration_seconds_count")
        mean_ms = delta("query_duration_seconds_sum") / count * 1000 if count else float("nan")
        cum = [delta("query_duration_seconds_bucket", le=str(b)) for b in bounds]
        # histogram_quantile's linear interpolation inside the bucket holding the 95th percentile.
        target, p95, lower, prev = 0.95 * count, float("nan"), 0.0, 0.0
        for bound, c in zip(bounds, cum, strict=True):
            if c >= target and count:
                p95 = (lower + (bound - lower) * (target - prev) / (c - prev if c > prev else 1)) * 1000
                break
            lower, prev = bound, c
        under = delta("query_duration_seconds_bucket", le=str(slo)) / count if count else float("nan")
        verdict = "OK" if under >= 0.95 else "VIOLATED"
        lines.append(f"  {query:<10} n={count:>5.0f}  mean {mean_ms:6.2f} ms  p95~{p95:6.2f} ms (bucket-interpolated)  "
                     f"<= {slo * 1000:g} ms: {under:7.2%}  SLO p95 < {slo * 1000:g} ms: {verdict}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=1, help="API worker processes")
    ap.add_argument("--scale", type=float, default=1.0, help="data scale (1.0 is the stack default)")
    ap.add_argument("--rounds", type=int, default=300, help="light-load rounds for the query SLIs")
    args = ap.parse_args()
    try:
        import harness.load  # noqa: F401

        have_locust = True
    except ImportError:
        have_locust = False
    with api_services.running_services(replica=True, redis=True, scale=args.scale) as services, \
            tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        url, _ = services.start_api(workers=args.workers)
        _, meta = api_services.get_json(url + "/api/meta")
        assert isinstance(meta, dict)
        print(f"betting API, {args.workers} worker(s), data scale {args.scale}, concurrency {args.concurrency}, "
              f"{args.seconds:g} s per endpoint per tool, closed loop, no think time; 2-core machine shared by the "
              f"load tool, the API, Postgres x2 and Redis")
        print(f"{'endpoint':<30} {'tool':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8}")
        for endpoint in ENDPOINTS:
            results = {"wrk": run_wrk(url, endpoint, meta, args.concurrency, args.seconds, Path(tmp))}
            if have_locust:
                results["locust"] = run_locust(url, endpoint, meta, args.concurrency, args.seconds, Path(tmp))
            for tool, r in results.items():
                print(f"{endpoint:<30} {tool:<8} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                      f"{r['requests']:9.0f} {r['errors']:8.0f}")
        if not have_locust:
            print("harness.load is not importable here: only wrk figures are shown")
        print(f"\nquery SLIs at light load ({args.rounds} sequential rounds of all five, query_duration_seconds):")
        for line in query_slis(services, url, meta, args.rounds):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
