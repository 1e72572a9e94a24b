"""The Toxiproxy-compatible server driven by the unchanged toxiproxy-python client and by raw HTTP.

Expected statuses and bodies come from the real server (shared/reference/toxiproxy-api.md).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy

from harness.toxiproxy_server.process import ToxiproxyProcess, free_port

pytestmark = pytest.mark.integration

UPSTREAM = "127.0.0.1:9"  # never dialled by these tests


@pytest.fixture(scope="module")
def server() -> Iterator[ToxiproxyProcess]:
    with ToxiproxyProcess(extra_args=["--seed", "7"]) as tp:
        yield tp


@pytest.fixture
def tp(server: ToxiproxyProcess) -> Iterator[Toxiproxy]:
    client = Toxiproxy()
    client.update_api_consumer(server.host, server.port)
    yield client
    client.destroy_all()


@pytest.fixture
def url(server: ToxiproxyProcess, tp: Toxiproxy) -> str:
    return server.url


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


# ---------------------------------------------------------------- the toxiproxy-python client


def test_client_version_returns_the_raw_json_body(tp: Toxiproxy) -> None:
    assert tp.running()
    assert tp.version() == b'{"version": "2.12.0"}\n'


def test_client_create_reports_the_real_port_and_lists_the_proxy(tp: Toxiproxy) -> None:
    proxy = tp.create(upstream=UPSTREAM, name="db")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", proxy.listen) and port_of(proxy.listen) != 0
    assert proxy.enabled is True
    listed = tp.get_proxy("db")
    assert listed is not None and listed.listen == proxy.listen and listed.upstream == UPSTREAM
    with pytest.raises(ProxyExists):
        tp.create(upstream=UPSTREAM, name="db")
    assert tp.destroy(proxy) is True
    assert tp.get_proxy("db") is None


def listening_ips(server: ToxiproxyProcess, port: int) -> set[str]:
    assert server.proc is not None
    return {c.laddr.ip for c in psutil.Process(server.proc.pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def greeted_through(port: int) -> bytes:
    """Connect to a proxy whose upstream greets every client; what the client reads before EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        data = b""
        while chunk := conn.recv(64):
            data += chunk
        return data


@pytest.fixture
def greeter() -> Iterator[str]:
    """An upstream on loopback that sends b"hello" to each client and closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would leave the port bound
    listener.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_client_create_without_listen_gets_a_free_loopback_port(tp: Toxiproxy, server: ToxiproxyProcess,
                                                                greeter: str) -> None:
    # The client's create() always sends a listen, so the body with only name and upstream goes through
    # its HTTP layer, as the client test that failed before this fix sends it.
    body = APIConsumer.post("/proxies", json={"name": "nolisten", "upstream": greeter})
    assert body.status_code == 201
    proxy = Proxy(**body.json())
    assert re.fullmatch(r"127\.0\.0\.1:\d+", proxy.listen) and port_of(proxy.listen) != 0
    assert tp.get_proxy("nolisten").listen == proxy.listen
    assert APIConsumer.get("/proxies/nolisten").json()["listen"] == proxy.listen
    assert listening_ips(server, port_of(proxy.listen)) == {"127.0.0.1"}  # loopback, not every interface
    assert greeted_through(port_of(proxy.listen)) == b"hello"


def test_client_create_with_empty_listen_and_then_the_same_name(tp: Toxiproxy, server: ToxiproxyProcess,
                                                                greeter: str) -> None:
    proxy = tp.create(upstream=greeter, name="empty", listen="")
    port = port_of(proxy.listen)
    assert proxy.listen == f"127.0.0.1:{port}" and port != 0 and proxy.enabled is True
    assert listening_ips(server, port) == {"127.0.0.1"}
    assert greeted_through(port) == b"hello"
    # Past the client's own pre-check (create() lists proxies first): the server's 409 becomes ProxyExists.
    with pytest.raises(ProxyExists) as info:
        APIConsumer.post("/proxies", json={"name": "empty", "upstream": greeter})
    assert json.loads(info.value.args[0]) == {"error": "proxy already exists", "status": 409}
    assert tp.get_proxy("empty").listen == proxy.listen  # the first one is untouched


def test_client_toxics_round_trip_with_defaults_filled(tp: Toxiproxy) -> None:
    proxy = tp.create(upstream=UPSTREAM, name="cache")
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.add_toxic(type="latency", stream="upstream", toxicity=0.5)
    toxics = proxy.toxics()
    assert list(toxics) == ["latency_upstream", "latency_downstream"]  # upstream first, as the real server
    down = toxics["latency_downstream"]
    assert (down.type, down.stream, down.toxicity) == ("latency", "downstream", 1)
    assert down.attributes == {"latency": 100, "jitter": 0}
    assert toxics["latency_upstream"].toxicity == 0.5
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency", attributes={"latency": 5})
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    assert proxy.destroy_toxic("latency_downstream") is True
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")
    assert list(proxy.toxics()) == ["latency_upstream"]


def test_client_down_refuses_then_restores_same_port_and_toxics(tp: Toxiproxy) -> None:
    proxy = tp.create(upstream=UPSTREAM, name="down")
    proxy.add_toxic(type="bandwidth", attributes={"rate": 10})
    port = port_of(proxy.listen)
    with proxy.down():
        assert refused(port)
        assert tp.get_proxy("down").enabled is False
    again = tp.get_proxy("down")
    assert again.enabled is True and port_of(again.listen) == port
    assert not refused(port)
    assert list(proxy.toxics()) == ["bandwidth_downstream"]


def test_client_reset_reenables_and_drops_toxics_but_keeps_proxies(tp: Toxiproxy) -> None:
    proxy = tp.create(upstream=UPSTREAM, name="r")
    proxy.add_toxic(type="timeout", attributes={"timeout": 100})
    proxy.disable()
    assert tp.reset() is True
    again = tp.get_proxy("r")
    assert again is not None and again.enabled is True
    assert proxy.toxics() == {}


def test_client_populate_creates_and_keeps_unchanged(tp: Toxiproxy) -> None:
    created = tp.populate([{"name": "a", "upstream": UPSTREAM, "listen": "127.0.0.1:0"},
                           {"name": "b", "upstream": UPSTREAM, "listen": "127.0.0.1:0"}])
    assert sorted(p.name for p in created) == ["a", "b"]
    a = tp.get_proxy("a")
    # Same listen (the stored real port) and upstream: the client leaves it alone.
    assert tp.populate([{"name": "a", "upstream": UPSTREAM, "listen": a.listen}]) == []


# ---------------------------------------------------------------- raw HTTP: shapes and semantics


def test_create_shape_and_status(url: str) -> None:
    r = requests.post(f"{url}/proxies", json={"name": "s", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    assert r.status_code == 201
    assert r.headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"[0-9a-v]{20}", r.headers["X-Toxiproxy-Request-Id"])
    body = r.json()
    assert list(body) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert body["Logger"] == {} and body["toxics"] == [] and body["enabled"] is True
    assert requests.get(f"{url}/proxies").json()["s"] == body
    assert requests.get(f"{url}/proxies/s").json() == body


def test_disabled_proxy_keeps_listen_verbatim_and_refuses(url: str) -> None:
    r = requests.post(f"{url}/proxies", json={"name": "off", "listen": "localhost:0", "upstream": UPSTREAM,
                                              "enabled": False})
    assert r.status_code == 201 and r.json()["listen"] == "localhost:0" and r.json()["enabled"] is False
    r = requests.patch(f"{url}/proxies/off", json={"enabled": True})
    assert r.status_code == 200 and re.fullmatch(r"127\.0\.0\.1:\d+", r.json()["listen"])


def test_empty_listen_binds_loopback_at_enable_and_on_update(url: str) -> None:
    r = requests.post(f"{url}/proxies", json={"name": "later", "upstream": UPSTREAM, "enabled": False})
    assert r.status_code == 201 and r.json()["listen"] == ""
    r = requests.patch(f"{url}/proxies/later", json={"enabled": True})
    assert r.status_code == 200 and re.fullmatch(r"127\.0\.0\.1:\d+", r.json()["listen"])
    r = requests.patch(f"{url}/proxies/later", json={"listen": ""})
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert re.fullmatch(r"127\.0\.0\.1:\d+", r.json()["listen"]) and not refused(port_of(r.json()["listen"]))


def test_null_enabled_means_true(url: str) -> None:
    r = requests.post(f"{url}/proxies", json={"name": "n", "listen": "127.0.0.1:0", "upstream": UPSTREAM,
                                              "enabled": None})
    assert r.json()["enabled"] is True


def test_toxic_create_update_merge_and_stream_echo(url: str) -> None:
    requests.post(f"{url}/proxies", json={"name": "t", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    r = requests.post(f"{url}/proxies/t/toxics",
                      json={"type": "latency", "stream": "UpStream", "attributes": {"latency": 100, "jitter": 10}})
    assert r.status_code == 200
    assert r.content == (b'{"attributes":{"latency":100,"jitter":10},"name":"latency_UpStream","type":"latency",'
                         b'"stream":"UpStream","toxicity":1}')
    r = requests.patch(f"{url}/proxies/t/toxics/latency_UpStream", json={"attributes": {"latency": 500}})
    assert r.status_code == 200 and r.json()["attributes"] == {"latency": 500, "jitter": 10}
    assert r.json()["toxicity"] == 1
    r = requests.post(f"{url}/proxies/t/toxics/latency_UpStream", json={"toxicity": 0.25, "name": "ignored"})
    assert r.json()["toxicity"] == 0.25 and r.json()["name"] == "latency_UpStream"
    r = requests.patch(f"{url}/proxies/t/toxics/latency_UpStream", json={})
    assert r.json()["toxicity"] == 0.25 and r.json()["attributes"]["latency"] == 500
    assert requests.get(f"{url}/proxies/t/toxics/latency_UpStream").json() == r.json()
    assert requests.delete(f"{url}/proxies/t/toxics/latency_UpStream").status_code == 204


def test_negative_values_and_odd_toxicity_are_accepted_and_echoed(url: str) -> None:
    requests.post(f"{url}/proxies", json={"name": "neg", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    r = requests.post(f"{url}/proxies/neg/toxics",
                      json={"type": "latency", "toxicity": 1.5, "attributes": {"latency": -5, "unknown": 3}})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"latency": -5, "jitter": 0} and r.json()["toxicity"] == 1.5


def test_update_upstream_keeps_port_and_relisten_moves_it(url: str) -> None:
    body = requests.post(f"{url}/proxies", json={"name": "u", "listen": "127.0.0.1:0", "upstream": UPSTREAM}).json()
    port = port_of(body["listen"])
    r = requests.patch(f"{url}/proxies/u", json={"upstream": "127.0.0.1:10", "name": "renamed"})
    assert r.status_code == 200 and r.json()["name"] == "u" and port_of(r.json()["listen"]) == port
    r = requests.patch(f"{url}/proxies/u", json={"listen": "127.0.0.1:0"})
    assert port_of(r.json()["listen"]) != port


def test_populate_semantics(url: str) -> None:
    requests.post(f"{url}/proxies", json={"name": "keep", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    keep = requests.post(f"{url}/proxies/keep/toxics", json={"type": "noop"})
    assert keep.status_code == 200 and keep.json()["attributes"] == {}
    listen = requests.get(f"{url}/proxies/keep").json()["listen"]
    r = requests.post(f"{url}/populate", json=[
        {"name": "keep", "listen": listen, "upstream": UPSTREAM, "enabled": False},
        {"name": "fresh", "listen": "127.0.0.1:0", "upstream": UPSTREAM},
    ])
    assert r.status_code == 201 and r.headers["Content-Type"] == "application/json"
    proxies = r.json()["proxies"]
    assert [p["name"] for p in proxies] == ["keep", "fresh"]
    assert proxies[0]["enabled"] is True and [t["name"] for t in proxies[0]["toxics"]] == ["noop_downstream"]
    # Changed upstream: replaced, toxics lost.
    r = requests.post(f"{url}/populate", json=[{"name": "keep", "listen": listen, "upstream": "127.0.0.1:11"}])
    assert r.status_code == 201 and r.json()["proxies"][0]["toxics"] == []
    r = requests.post(f"{url}/populate", json=[])
    assert r.status_code == 201 and r.content == b'{"proxies":null}'


def test_populate_errors(url: str) -> None:
    r = requests.post(f"{url}/populate", json=[{"name": "x", "upstream": UPSTREAM}, {"upstream": UPSTREAM}])
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"error": "missing required field: name at proxy 2", "status": 400, "proxies": None}
    assert requests.get(f"{url}/proxies/x").status_code == 404  # validated before anything is created
    r = requests.post(f"{url}/populate", json={"name": "x"})
    assert r.status_code == 400 and r.json()["error"].startswith("bad request body: json: cannot unmarshal object")
    r = requests.post(f"{url}/populate", json=[
        {"name": "first", "listen": "127.0.0.1:0", "upstream": UPSTREAM},
        {"name": "bad", "listen": "local373", "upstream": UPSTREAM},
    ])
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "listen tcp: address local373: missing port in address" and body["status"] == 500
    assert [p["name"] for p in body["proxies"]] == ["first"]
    assert requests.get(f"{url}/proxies/first").status_code == 200  # partial: earlier ones remain


# ---------------------------------------------------------------- bad input: the real server's statuses and bodies


def assert_error(r: requests.Response, status: int, message: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Toxiproxy-Request-Id" in r.headers
    assert r.content == json.dumps({"error": message, "status": status}, separators=(",", ":")).encode() + b"\n"


def test_bad_json_bodies(url: str) -> None:
    assert_error(requests.post(f"{url}/proxies", data=b""), 400, "bad request body: EOF")
    assert_error(requests.post(f"{url}/proxies", data=b'{"name": "x'), 400, "bad request body: unexpected EOF")
    assert_error(requests.post(f"{url}/proxies", data=b"xyz"), 400,
                 "bad request body: invalid character 'x' looking for beginning of value")
    assert_error(requests.post(f"{url}/proxies", json={"name": 5, "upstream": UPSTREAM}), 400,
                 "bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string")


def test_missing_fields(url: str) -> None:
    assert_error(requests.post(f"{url}/proxies", json={"upstream": UPSTREAM}), 400, "missing required field: name")
    assert_error(requests.post(f"{url}/proxies", json={"name": "m"}), 400, "missing required field: upstream")


def test_toxic_bad_input_in_the_real_order(url: str) -> None:
    requests.post(f"{url}/proxies", json={"name": "b", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    requests.post(f"{url}/proxies/b/toxics", json={"type": "latency"})
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "latency", "stream": "sideways"}), 400,
                 "stream was invalid, can be either upstream or downstream")
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "latency", "stream": ""}), 400,
                 "stream was invalid, can be either upstream or downstream")
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "nope"}), 400, "invalid toxic type")
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={}), 400, "invalid toxic type")
    # The duplicate check comes before attribute decoding.
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "latency", "attributes": {"latency": "x"}}),
                 409, "toxic already exists")
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "latency", "name": "l2",
                                                                "attributes": {"latency": 1.5}}), 400,
                 "bad request body: json: cannot unmarshal number 1.5 into Go struct field "
                 "LatencyToxic.attributes.latency of type int64")
    assert_error(requests.post(f"{url}/proxies/b/toxics", json={"type": "latency", "name": "l3",
                                                                "attributes": {"latency": "100"}}), 400,
                 "bad request body: json: cannot unmarshal string into Go struct field "
                 "LatencyToxic.attributes.latency of type int64")
    assert_error(requests.post(f"{url}/proxies/b/toxics", data=b"{"), 400, "bad request body: unexpected EOF")


def test_not_found_and_conflicts(url: str) -> None:
    assert_error(requests.get(f"{url}/proxies/ghost"), 404, "proxy not found")
    assert_error(requests.delete(f"{url}/proxies/ghost"), 404, "proxy not found")
    assert_error(requests.post(f"{url}/proxies/ghost/toxics", json={"type": "latency"}), 404, "proxy not found")
    requests.post(f"{url}/proxies", json={"name": "c", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
    assert_error(requests.get(f"{url}/proxies/c/toxics/ghost"), 404, "toxic not found")
    assert_error(requests.patch(f"{url}/proxies/c/toxics/ghost", json={}), 404, "toxic not found")
    assert_error(requests.delete(f"{url}/proxies/c/toxics/ghost"), 404, "toxic not found")
    assert_error(requests.post(f"{url}/proxies", json={"name": "c", "listen": "127.0.0.1:0", "upstream": UPSTREAM}),
                 409, "proxy already exists")
    assert requests.delete(f"{url}/proxies/c").status_code == 204
    assert_error(requests.delete(f"{url}/proxies/c"), 404, "proxy not found")


def test_listen_errors(url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_error(requests.post(f"{url}/proxies", json={"name": "busy", "listen": f"127.0.0.1:{port}",
                                                           "upstream": UPSTREAM}),
                     500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
        assert requests.get(f"{url}/proxies/busy").status_code == 404  # not created
        assert_error(requests.post(f"{url}/proxies", json={"name": "nop", "listen": "localhost",
                                                           "upstream": UPSTREAM}),
                     500, "listen tcp: address localhost: missing port in address")
        requests.post(f"{url}/proxies", json={"name": "mv", "listen": "127.0.0.1:0", "upstream": UPSTREAM})
        assert_error(requests.patch(f"{url}/proxies/mv", json={"listen": "bogus"}), 500,
                     "address bogus: missing port in address")
        r = requests.patch(f"{url}/proxies/mv", json={"listen": f"127.0.0.1:{port}"})
        assert r.status_code == 500
        after = requests.get(f"{url}/proxies/mv").json()
        assert after["enabled"] is False and after["listen"] == f"127.0.0.1:{port}"


def test_routing_404_405_and_browser_block(url: str) -> None:
    r = requests.get(f"{url}/nope")
    assert r.status_code == 404 and r.content == b"404 page not found\n"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8" and "X-Toxiproxy-Request-Id" not in r.headers
    assert requests.get(f"{url}/proxies/").status_code == 404
    assert requests.get(f"{url}/metrics").status_code == 404  # only with --proxy-metrics
    for method, path in (("GET", "/reset"), ("PUT", "/proxies/x"), ("DELETE", "/version"), ("GET", "/populate")):
        r = requests.request(method, f"{url}{path}")
        assert r.status_code == 405 and r.content == b"" and "X-Toxiproxy-Request-Id" not in r.headers
    r = requests.get(f"{url}/proxies", headers={"User-Agent": "Mozilla/5.0 (X11)"})
    assert r.status_code == 403 and r.content == b"User agent not allowed\n"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    r = requests.post(f"{url}/reset", data=b"garbage")
    assert r.status_code == 204 and r.content == b""


def test_version_and_metrics_server(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from_file", "listen": "127.0.0.1:0", "upstream": UPSTREAM}]))
    with ToxiproxyProcess(extra_args=["--proxy-metrics", "--config", str(config)]) as other:
        r = requests.get(f"{other.url}/version")
        assert r.headers["Content-Type"] == "application/json;charset=utf-8"
        assert r.content == b'{"version": "2.12.0"}\n'
        assert "from_file" in requests.get(f"{other.url}/proxies").json()
        r = requests.post(f"{other.url}/metrics")
        assert r.status_code == 200 and "toxiproxy_proxy_received_bytes_total" in r.text


def test_bad_config_file_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "broken.json"
    config.write_text('[{"name": "x",\n  oops]')
    log = tmp_path / "log.txt"
    with pytest.raises(Exception, match="exited with code 1"):
        ToxiproxyProcess(port=free_port(), extra_args=["--config", str(config)], log_path=log).start()
    assert f"{config}:2: invalid JSON" in log.read_text()
