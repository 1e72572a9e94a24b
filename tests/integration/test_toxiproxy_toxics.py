"""Bytes through the Toxiproxy-compatible server: exact relay, every toxic's measured effect, concurrency.

The server runs as a child process; upstreams are small blocking servers on loopback in this process.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.proxy import Proxy

from harness.toxiproxy_server.process import ToxiproxyProcess

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- upstream servers


def _echo(conn: socket.socket) -> None:
    """Echo until the client half-closes, then half-close back."""
    with conn:
        try:
            while data := conn.recv(262144):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _digest(conn: socket.socket) -> None:
    """Read to EOF, then answer length + sha256: only possible if the proxy passed on a half-close."""
    with conn:
        h = hashlib.sha256()
        n = 0
        try:
            while data := conn.recv(262144):
                h.update(data)
                n += len(data)
            conn.sendall(n.to_bytes(8, "big") + h.digest())
        except OSError:
            pass


class Upstream:
    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handler, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ToxiproxyProcess]:
    with ToxiproxyProcess(extra_args=["--seed", "42", "--proxy-metrics"]) as tp:
        yield tp


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    ups = {"echo": Upstream(_echo), "digest": Upstream(_digest)}
    yield ups
    for up in ups.values():
        up.close()


_names = itertools.count()


@pytest.fixture
def make_proxy(server: ToxiproxyProcess, upstreams: dict[str, Upstream]) -> Iterator[Callable[..., Proxy]]:
    client = Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    made: list[Proxy] = []

    def make(kind: str = "echo") -> Proxy:
        proxy = client.create(upstream=f"127.0.0.1:{upstreams[kind].port}", name=f"{kind}{next(_names)}")
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.destroy()


def addr(proxy: Proxy) -> tuple[str, int]:
    host, port = proxy.listen.rsplit(":", 1)
    return host, int(port)


def connect(proxy: Proxy) -> socket.socket:
    sock = socket.create_connection(addr(proxy), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            break
        buf += part
    return bytes(buf)


def recv_all(sock: socket.socket) -> bytes:
    buf = bytearray()
    while part := sock.recv(262144):
        buf += part
    return bytes(buf)


def rtt_ms(sock: socket.socket, payload: bytes = b"ping") -> float:
    t0 = time.perf_counter()
    sock.sendall(payload)
    assert recv_exact(sock, len(payload)) == payload
    return (time.perf_counter() - t0) * 1000


def echo_roundtrip(proxy: Proxy, payload: bytes) -> bytes:
    """Send everything (in a thread), half-close, and read the echo to EOF."""
    with connect(proxy) as sock:
        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        got = recv_all(sock)
        sender.join()
    return got


# ---------------------------------------------------------------- relay


@pytest.mark.parametrize("size", [1, 1000, 65537, 1_000_003, 10_000_000])
def test_relay_is_byte_exact_both_ways(make_proxy: Callable[..., Proxy], size: int) -> None:
    payload = os.urandom(size)
    assert echo_roundtrip(make_proxy(), payload) == payload


def test_half_close_reaches_the_upstream_and_the_reply_still_flows(make_proxy: Callable[..., Proxy]) -> None:
    payload = os.urandom(3_000_000)
    with connect(make_proxy("digest")) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        reply = recv_all(sock)
    assert reply == len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest()


def test_half_close_sent_before_the_upstream_is_dialled_is_not_lost(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy("digest")
    for i in range(20):
        payload = bytes([i]) * (i + 1)
        with socket.create_connection(addr(proxy), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            assert recv_all(sock) == len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest()


def test_unreachable_upstream_closes_the_client(server: ToxiproxyProcess) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = requests.post(f"{server.url}/proxies", json={"name": "dead", "listen": "127.0.0.1:0",
                                                     "upstream": f"127.0.0.1:{dead}"})
    port = int(r.json()["listen"].rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert sock.recv(10) == b""
    finally:
        requests.delete(f"{server.url}/proxies/dead")


def test_two_hundred_concurrent_connections_lose_nothing(make_proxy: Callable[..., Proxy]) -> None:
    host, port = addr(make_proxy())

    async def one(i: int) -> bool:
        payload = os.urandom(20_000 + i)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        got = await reader.read()
        writer.close()
        return got == payload

    async def all_of_them() -> list[bool]:
        return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(asyncio.wait_for(all_of_them(), 30))
    assert sum(results) == 200


# ---------------------------------------------------------------- toxics


def test_latency_within_10ms_and_composes_across_streams(make_proxy: Callable[..., Proxy]) -> None:
    # The toxic's delay is a floor that scheduling noise only adds to (this machine's CPU is shared), so the
    # fastest of several round trips is what the toxic added: never early, and within 10 ms of it.
    proxy = make_proxy()
    with connect(proxy) as sock:
        base = min(rtt_ms(sock) for _ in range(5))
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    with connect(proxy) as sock:
        samples = [rtt_ms(sock) for _ in range(5)]
    assert 100 <= min(samples) <= 110 + base, (base, samples)
    proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 50})
    with connect(proxy) as sock:
        samples = [rtt_ms(sock) for _ in range(5)]
    assert 150 <= min(samples) <= 160 + base, (base, samples)


def test_latency_jitter_stays_in_range(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="latency", attributes={"latency": 40, "jitter": 20})
    with connect(proxy) as sock:
        samples = [rtt_ms(sock) for _ in range(12)]
    assert all(19 <= s <= 70 for s in samples), samples
    assert max(samples) - min(samples) > 5, samples  # the jitter is really there


def test_toxic_applies_to_open_connections_and_removal_restores(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    with connect(proxy) as sock:
        assert min(rtt_ms(sock) for _ in range(3)) < 20
        proxy.add_toxic(type="latency", name="slow", attributes={"latency": 80})
        assert 80 <= min(rtt_ms(sock) for _ in range(3)) <= 90  # the fastest: noise only adds to the delay
        proxy.destroy_toxic("slow")
        assert min(rtt_ms(sock) for _ in range(3)) < 20


def test_bandwidth_within_10_percent(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="bandwidth", attributes={"rate": 1000})  # 1,000,000 B/s downstream
    payload = os.urandom(1_500_000)
    t0 = time.perf_counter()
    got = echo_roundtrip(proxy, payload)
    elapsed = time.perf_counter() - t0
    assert got == payload
    rate = len(payload) / elapsed
    assert 0.9e6 <= rate <= 1.1e6, f"{rate:.0f} B/s"


def test_bandwidth_zero_holds_data_until_removed(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="bandwidth", name="stall", attributes={"rate": 0})
    with connect(proxy) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.destroy_toxic("stall")
        sock.settimeout(5)
        assert recv_exact(sock, 4) == b"held"


def test_limit_data_is_exact(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="limit_data", attributes={"bytes": 1000})
    payload = os.urandom(5000)
    with connect(proxy) as sock:
        sock.sendall(payload)
        got = recv_all(sock)
    assert got == payload[:1000]


def test_reset_peer_gives_econnreset_after_its_timeout(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 100})
    with connect(proxy) as sock:
        t0 = time.perf_counter()
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert 0.09 <= time.perf_counter() - t0 <= 0.5


def test_reset_peer_upstream_resets_at_once(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(proxy) as sock:
        sock.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)


def test_timeout_drops_data_and_closes_after_its_time(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    with connect(proxy) as sock:
        t0 = time.perf_counter()
        sock.sendall(b"swallowed")
        try:
            got = recv_all(sock)
        except ConnectionResetError:
            got = b""
        elapsed = time.perf_counter() - t0
    assert got == b""
    assert 0.25 <= elapsed <= 0.6, elapsed


def test_timeout_zero_holds_until_removed_then_closes(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="timeout", name="hold", attributes={"timeout": 0})
    with connect(proxy) as sock:
        sock.sendall(b"gone")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.destroy_toxic("hold")
        sock.settimeout(5)
        assert sock.recv(10) == b""


def test_slicer_preserves_every_byte_and_spaces_the_pieces(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="slicer", stream="upstream",
                    attributes={"average_size": 64, "size_variation": 32, "delay": 10})
    payload = os.urandom(200_000)
    assert echo_roundtrip(proxy, payload) == payload
    proxy.add_toxic(type="slicer", name="slow_slices", attributes={"average_size": 10, "delay": 2000})
    with connect(proxy) as sock:
        t0 = time.perf_counter()
        sock.sendall(b"a" * 200)
        assert recv_exact(sock, 200) == b"a" * 200
        assert time.perf_counter() - t0 >= 0.03  # 20 pieces, 2 ms apart


def test_slow_close_delays_the_close(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="slow_close", attributes={"delay": 300})
    with connect(proxy) as sock:
        sock.sendall(b"abc")
        sock.shutdown(socket.SHUT_WR)
        assert recv_exact(sock, 3) == b"abc"
        t0 = time.perf_counter()
        assert sock.recv(10) == b""
        assert 0.25 <= time.perf_counter() - t0 <= 0.6


def test_toxicity_zero_never_and_one_always(make_proxy: Callable[..., Proxy]) -> None:
    never = make_proxy()
    never.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 300})
    for _ in range(5):
        with connect(never) as sock:
            assert rtt_ms(sock) < 50
    always = make_proxy()
    always.add_toxic(type="latency", toxicity=1.0, attributes={"latency": 60})
    for _ in range(3):
        with connect(always) as sock:
            assert rtt_ms(sock) >= 58


def test_toxicity_is_drawn_per_connection(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="latency", toxicity=0.5, attributes={"latency": 60})
    slow_connections = 0
    for _ in range(20):
        with connect(proxy) as sock:
            samples = [rtt_ms(sock) for _ in range(2)]
        slow = [s >= 58 for s in samples]
        assert slow[0] == slow[1], samples  # the draw holds for the whole connection
        slow_connections += slow[0]
    assert 2 <= slow_connections <= 18


def test_disable_closes_open_connections_and_enable_keeps_port(make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    proxy.add_toxic(type="noop")
    host, port = addr(proxy)
    with connect(proxy) as sock:
        assert rtt_ms(sock) < 50
        proxy.disable()
        sock.settimeout(2)
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=2)
    proxy.enable()
    with socket.create_connection((host, port), timeout=2) as sock:
        assert rtt_ms(sock) < 50
    assert list(proxy.toxics()) == ["noop_downstream"]


def test_metrics_count_bytes_once_a_connection_closes(server: ToxiproxyProcess,
                                                      make_proxy: Callable[..., Proxy]) -> None:
    proxy = make_proxy()
    assert echo_roundtrip(proxy, b"z" * 12345) == b"z" * 12345
    deadline = time.monotonic() + 5
    expected = f'toxiproxy_proxy_sent_bytes_total{{direction="downstream",listener="{proxy.listen}",' \
               f'proxy="{proxy.name}",upstream="{proxy.upstream}"}} 12345'
    while expected not in requests.get(f"{server.url}/metrics").text:
        assert time.monotonic() < deadline, requests.get(f"{server.url}/metrics").text
        time.sleep(0.05)
