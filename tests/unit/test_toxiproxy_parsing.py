"""Pure parts of the Toxiproxy-compatible server: Go-style JSON, toxic parsing, addresses, routing."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from harness.toxiproxy_server import gojson
from harness.toxiproxy_server.__main__ import build_parser
from harness.toxiproxy_server.addresses import AddressError, ListenAddress, resolve, split_host_port
from harness.toxiproxy_server.api import TIMEOUT_BODY, ToxiproxyApi, clean_path
from harness.toxiproxy_server.apierror import ApiError
from harness.toxiproxy_server.collection import ProxyCollection
from harness.toxiproxy_server.httpserver import Request, Response, render
from harness.toxiproxy_server.link import ProxyContext
from harness.toxiproxy_server.toxics import Toxic, parse_new_toxic, parse_update


def decode_error(body: bytes) -> str:
    with pytest.raises(ApiError) as info:
        gojson.decode(body)
    assert info.value.status == 400
    return info.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "bad request body: EOF"),
        (b" \n", "bad request body: EOF"),
        (b"{", "bad request body: unexpected EOF"),
        (b'{"a": "b', "bad request body: unexpected EOF"),
        (b"xyz", "bad request body: invalid character 'x' looking for beginning of value"),
        (b"{a}", "bad request body: invalid character 'a' looking for beginning of object key string"),
        (b'{"a" 1}', "bad request body: invalid character '1' after object key"),
        (b'{"a":1 "b":2}', "bad request body: invalid character '\"' after object key:value pair"),
        (b"[1 2]", "bad request body: invalid character '2' after array element"),
        (b"NaN", "bad request body: invalid character 'N' looking for beginning of value"),
    ],
)
def test_decode_errors_read_like_go(body: bytes, message: str) -> None:
    assert decode_error(body) == message


def test_decode_ignores_what_follows_the_first_value() -> None:
    assert gojson.decode(b'{"a": 1} trailing') == {"a": gojson.Number("1")}


def test_fields_are_case_insensitive_and_null_keeps_the_default() -> None:
    got = gojson.fields({"NAME": "x", "upstream": None, "other": 1}, ("name", "upstream"), "T")
    assert got == {"name": "x"}
    with pytest.raises(ApiError, match="cannot unmarshal array into Go value of type T"):
        gojson.fields([], ("name",), "T")


def test_int64_rejects_fractions_exponents_and_overflow() -> None:
    assert gojson.as_int64(gojson.Number("-5"), "f") == -5
    for literal in ("1.5", "1e3", "9223372036854775808"):
        with pytest.raises(ApiError, match=f"cannot unmarshal number {literal} into Go struct field f of type int64"):
            gojson.as_int64(gojson.Number(literal), "f")
    with pytest.raises(ApiError, match="cannot unmarshal string into Go struct field f of type int64"):
        gojson.as_int64("1", "f")


def test_float32_prints_like_go() -> None:
    assert gojson.encode({"t": gojson.float32(1.0)}) == b'{"t":1}'
    assert gojson.encode({"t": gojson.float32(0.1)}) == b'{"t":0.1}'
    assert gojson.encode({"s": "<&>"}) == b'{"s":"\\u003c\\u0026\\u003e"}'


def test_new_toxic_defaults() -> None:
    toxic = parse_new_toxic(b'{"type": "latency"}', lambda name: False)
    assert toxic.to_json() == {"attributes": {"latency": 0, "jitter": 0}, "name": "latency_downstream",
                               "type": "latency", "stream": "downstream", "toxicity": 1.0}
    assert parse_new_toxic(b'{"type": "slicer", "stream": "UPSTREAM", "attributes": {"average_size": 5}}',
                           lambda name: False).name == "slicer_UPSTREAM"


def test_new_toxic_checks_in_the_real_order() -> None:
    def error(body: bytes, taken: bool = False) -> tuple[int, str]:
        with pytest.raises(ApiError) as info:
            parse_new_toxic(body, lambda name: taken)
        return info.value.status, info.value.message

    assert error(b'{"type": "nope", "stream": "x"}')[1].startswith("stream was invalid")
    assert error(b'{"type": "nope"}') == (400, "invalid toxic type")
    assert error(b'{"type": "latency", "attributes": {"latency": "x"}}', taken=True) == (409, "toxic already exists")
    assert error(b'{"type": "latency", "toxicity": "1"}')[1] == (
        "bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32")
    assert error(b'{"type": "slicer", "attributes": {"average_size": 1.5}}')[1].endswith(
        "SlicerToxic.attributes.average_size of type int")


def test_values_that_crash_the_real_server_are_refused() -> None:
    for body in (b'{"type": "slicer"}', b'{"type": "bandwidth", "attributes": {"rate": -1}}'):
        with pytest.raises(ApiError) as info:
            parse_new_toxic(body, lambda name: False)
        assert info.value.status == 400
    # rate 0 is legal: the stream stalls, as it does in the real server
    assert parse_new_toxic(b'{"type": "bandwidth"}', lambda name: False).attributes == {"rate": 0}


def test_update_merges_attributes_and_keeps_toxicity() -> None:
    toxic = Toxic("l", "latency", "downstream", "downstream", 0.5, {"latency": 100, "jitter": 10})
    assert parse_update(toxic, b'{"attributes": {"latency": 500}, "name": "x"}') == (
        {"latency": 500, "jitter": 10}, 0.5)
    assert parse_update(toxic, b'{"toxicity": null}') == ({"latency": 100, "jitter": 10}, 0.5)
    assert parse_update(toxic, b'{"toxicity": 0}')[1] == 0


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", "80")), ("[::1]:0", ("::1", "0")), (":5", ("", "5")), ("host:", ("host", ""))],
)
def test_split_host_port(addr: str, expected: tuple[str, str]) -> None:
    assert split_host_port(addr) == expected


@pytest.mark.parametrize(
    ("addr", "message"),
    [("bogus", "address bogus: missing port in address"), ("a:b:c", "address a:b:c: too many colons in address"),
     ("[::1", "address [::1: missing ']' in address")],
)
def test_split_host_port_errors(addr: str, message: str) -> None:
    with pytest.raises(AddressError, match=message.replace("[", r"\[")):
        split_host_port(addr)


@pytest.mark.parametrize(
    ("addr", "port"),
    [("", 0), (":0", 0), (":8474", 8474), (":", 0)],
)
def test_an_empty_listen_host_is_loopback_not_every_interface(addr: str, port: int) -> None:
    address = asyncio.run(resolve(addr))
    assert address == ListenAddress(socket.AF_INET, "127.0.0.1", port)
    assert address.display(35613) == "127.0.0.1:35613"


def test_explicit_listen_hosts_are_kept() -> None:
    assert asyncio.run(resolve("0.0.0.0:5")) == ListenAddress(socket.AF_INET, "0.0.0.0", 5)
    assert asyncio.run(resolve("[::1]:0")).display(7) == "[::1]:7"
    with pytest.raises(AddressError, match="address localhost: missing port in address"):
        asyncio.run(resolve("localhost"))


def test_clean_path_keeps_trailing_slash() -> None:
    assert clean_path("/proxies/") == "/proxies/"
    assert clean_path("//proxies/./x/../y") == "/proxies/y"
    assert clean_path("") == "/"


def call(api: ToxiproxyApi, method: str, path: str, body: object = None, **headers: str) -> Response:
    raw = b"" if body is None else json.dumps(body).encode()
    request = Request(method, path, path, {k.lower().replace("_", "-"): v for k, v in headers.items()}, raw)
    return asyncio.run(api(request))


def test_api_routes_without_sockets() -> None:
    # Disabled proxies never bind, so the whole API surface can be exercised without the network.
    api = ToxiproxyApi(ProxyCollection(ProxyContext()))
    r = call(api, "POST", "/proxies", {"name": "p", "listen": "localhost:0", "upstream": "u:1", "enabled": False})
    assert r.status == 201 and json.loads(r.body)["listen"] == "localhost:0"
    assert call(api, "POST", "/proxies/p/toxics", {"type": "limit_data"}).status == 200
    assert json.loads(call(api, "GET", "/proxies").body)["p"]["toxics"][0]["attributes"] == {"bytes": 0}
    assert call(api, "GET", "/proxies/p/toxics/limit_data_downstream").status == 200
    assert call(api, "PUT", "/proxies/p").status == 405
    assert call(api, "GET", "/proxies/p/").status == 404
    assert call(api, "GET", "/proxies//p").status == 301
    assert call(api, "GET", "/version", user_agent="Mozilla/5.0").status == 403
    assert call(api, "DELETE", "/proxies/p").status == 204
    assert call(api, "GET", "/proxies/p").status == 404


def test_disabled_proxy_without_listen_echoes_it_and_a_duplicate_name_is_409_before_binding() -> None:
    api = ToxiproxyApi(ProxyCollection(ProxyContext()))
    r = call(api, "POST", "/proxies", {"name": "p", "upstream": "u:1", "enabled": False})
    assert r.status == 201 and json.loads(r.body)["listen"] == ""  # never started: kept as given
    # The duplicate check comes first, so even a listen that could never bind answers 409.
    r = call(api, "POST", "/proxies", {"name": "p", "upstream": "u:1", "listen": "nowhere"})
    assert r.status == 409 and json.loads(r.body) == {"error": "proxy already exists", "status": 409}


def test_a_handler_past_its_timeout_answers_503_and_still_completes() -> None:
    async def scenario() -> tuple[Response, bool, bool]:
        api = ToxiproxyApi(ProxyCollection(ProxyContext()), handler_timeout_s=0.05)
        body = json.dumps({"name": "slow", "upstream": "u:1", "enabled": False}).encode()
        async with api.collection.lock:  # the create handler waits on it past the timeout
            response = await api(Request("POST", "/proxies", "/proxies", {}, body))
            created_while_held = "slow" in api.collection.proxies
        for _ in range(100):  # a few loop turns suffice once the lock is free; bounded at 1 s
            if not api.late:
                break
            await asyncio.sleep(0.01)
        return response, created_while_held, "slow" in api.collection.proxies

    response, created_while_held, created_after = asyncio.run(scenario())
    assert response.status == 503 and response.body == TIMEOUT_BODY
    assert ("Content-Type", "text/html; charset=utf-8") in response.headers
    assert response.headers[0][0] == "X-Toxiproxy-Request-Id"
    assert not created_while_held and created_after


def test_render_omits_length_for_204_and_marks_close() -> None:
    raw = render(Response(204, b"ignored"), keep_alive=False)
    assert raw.startswith(b"HTTP/1.1 204 No Content\r\n") and b"Content-Length" not in raw
    assert b"Connection: close" in raw and raw.endswith(b"\r\n\r\n")
    assert b"Content-Length: 0" in render(Response(405), keep_alive=True)


def test_cli_accepts_the_real_servers_single_dash_flags() -> None:
    args = build_parser().parse_args(["-host=127.0.0.2", "-port", "0", "-config", "p.json", "-proxy-metrics",
                                      "-seed", "3"])
    assert (args.host, args.port, str(args.config), args.proxy_metrics, args.seed) == (
        "127.0.0.2", 0, "p.json", True, 3)
    assert build_parser().parse_args(["-version"]).version is True


def test_cli_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["toxiproxy-server", "--version"]) == 0
    assert capsys.readouterr().out == "toxiproxy-server version 2.12.0\n"
