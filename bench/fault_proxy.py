"""Cost of the Toxiproxy-compatible server with no toxics: added round-trip latency and bulk throughput.

Usage: .venv/bin/python bench/fault_proxy.py [--round-trips 20000] [--bulk-mb 1024]

Starts the server (python -m harness.toxiproxy_server) and a small echo/sink server as child processes on
free loopback ports, then measures the same workloads directly and through one proxy:
  - small request/response round trips (64 B each way, one connection, TCP_NODELAY): p50/p99 in us;
  - a bulk one-way transfer to a sink that acknowledges the byte count: MB/s (MB = 10^6 bytes).
Targets (issue 3): added p50 <= 100 us, bulk through the proxy >= 500 MB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MSG = 64
BULK_CHUNK = 1 << 20


# ---------------------------------------------------------------- helper servers (child process)


def _echo(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _sink(conn: socket.socket) -> None:
    buf = bytearray(4 << 20)
    total = 0
    with conn:
        while n := conn.recv_into(buf):
            total += n
        conn.sendall(total.to_bytes(8, "big"))


def _serve(handler: Callable[[socket.socket], None], sock: socket.socket) -> None:
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def run_helpers() -> None:
    socks = []
    for handler in (_echo, _sink):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        socks.append(sock)
        threading.Thread(target=_serve, args=(handler, sock), daemon=True).start()
    print(json.dumps({"echo": socks[0].getsockname()[1], "sink": socks[1].getsockname()[1]}), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


# ---------------------------------------------------------------- measurements


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(port: int, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read() or b"{}")


def round_trips(direct_port: int, proxy_port: int, n: int) -> tuple[list[float], list[float]]:
    """Alternate direct and proxied round trips so both see the same machine load; times in us."""
    payload = os.urandom(MSG)
    times: tuple[list[float], list[float]] = ([], [])
    socks = [socket.create_connection(("127.0.0.1", p)) for p in (direct_port, proxy_port)]
    try:
        for sock in socks:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(n + n // 10):
            for sock, out in zip(socks, times, strict=True):
                t0 = time.perf_counter_ns()
                sock.sendall(payload)
                got = 0
                while got < MSG:
                    got += len(sock.recv(MSG - got))
                if i >= n // 10:  # the first 10% warm up
                    out.append((time.perf_counter_ns() - t0) / 1000.0)
    finally:
        for sock in socks:
            sock.close()
    return times


def bulk(port: int, total: int) -> float:
    chunk = os.urandom(BULK_CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        t0 = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
        sock.shutdown(socket.SHUT_WR)
        ack = b""
        while len(ack) < 8:
            part = sock.recv(8 - len(ack))
            if not part:
                raise RuntimeError("sink closed before acknowledging")
            ack += part
        elapsed = time.perf_counter() - t0
    if int.from_bytes(ack, "big") != sent:
        raise RuntimeError(f"sink got {int.from_bytes(ack, 'big')} bytes, sent {sent}")
    return sent / elapsed / 1e6


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--bulk-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3, help="bulk runs per path, interleaved; the median is reported")
    parser.add_argument("--helpers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.helpers:
        run_helpers()
        return 0

    api_port = free_port()
    children: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    try:
        helpers = subprocess.Popen([sys.executable, __file__, "--helpers"], stdout=subprocess.PIPE, text=True,
                                   start_new_session=True)
        children.append(helpers)
        assert helpers.stdout is not None
        ports = json.loads(helpers.stdout.readline())
        server = subprocess.Popen([sys.executable, "-m", "harness.toxiproxy_server", "--port", str(api_port)],
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        children.append(server)
        deadline = time.monotonic() + 10
        while True:
            try:
                api(api_port, "GET", "/version")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("toxiproxy server did not become ready") from None
                time.sleep(0.05)
        echo_proxy = api(api_port, "POST", "/proxies",
                         {"name": "echo", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{ports['echo']}"})
        sink_proxy = api(api_port, "POST", "/proxies",
                         {"name": "sink", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{ports['sink']}"})
        via_echo = int(echo_proxy["listen"].rsplit(":", 1)[1])
        via_sink = int(sink_proxy["listen"].rsplit(":", 1)[1])

        direct_rt, proxy_rt = round_trips(ports["echo"], via_echo, args.round_trips)
        total = args.bulk_mb * 1_000_000 // BULK_CHUNK * BULK_CHUNK
        # Interleaved, so both paths see the same background load; the median is reported, the range shown.
        direct_runs: list[float] = []
        proxy_runs: list[float] = []
        for _ in range(args.repeat):
            direct_runs.append(bulk(ports["sink"], total))
            proxy_runs.append(bulk(via_sink, total))
        direct_bw, proxy_bw = statistics.median(direct_runs), statistics.median(proxy_runs)
    finally:
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    d50, d99 = pct(direct_rt, 0.50), pct(direct_rt, 0.99)
    p50, p99 = pct(proxy_rt, 0.50), pct(proxy_rt, 0.99)
    print(f"round trips: {args.round_trips} x {MSG} B request/response per path, interleaved, TCP_NODELAY")
    print(f"  direct        p50 {d50:8.1f} us   p99 {d99:8.1f} us")
    print(f"  through proxy p50 {p50:8.1f} us   p99 {p99:8.1f} us")
    print(f"  added         p50 {p50 - d50:8.1f} us   p99 {p99 - d99:8.1f} us   "
          f"(ratio p50 {p50 / d50:.2f}x, p99 {p99 / d99:.2f}x)   target: added p50 <= 100 us")
    print(f"bulk: {total / 1e6:.0f} MB one way, {BULK_CHUNK // 1024} KiB writes, median of {args.repeat} "
          "interleaved runs [min-max]")
    print(f"  direct        {direct_bw:8.0f} MB/s  [{min(direct_runs):.0f}-{max(direct_runs):.0f}]")
    print(f"  through proxy {proxy_bw:8.0f} MB/s  [{min(proxy_runs):.0f}-{max(proxy_runs):.0f}]   "
          f"(ratio {proxy_bw / direct_bw:.2f})   target: >= 500 MB/s")
    ok = (p50 - d50) <= 100 and proxy_bw >= 500
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
