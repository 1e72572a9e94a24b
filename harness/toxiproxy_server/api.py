"""The Toxiproxy 2.x HTTP API: routing, request ids, the browser block, and one handler per route."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from harness.toxiproxy_server import gojson
from harness.toxiproxy_server.apierror import ApiError
from harness.toxiproxy_server.collection import PopulateError, ProxyCollection
from harness.toxiproxy_server.httpserver import Request, Response
from harness.toxiproxy_server.metrics import Metrics

VERSION = "2.12.0"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
# The real server wraps every matched route in Go's http.TimeoutHandler: past 25 s the client gets 503 with
# Go's default body (its Content-Type sniffed as HTML), while the handler itself runs on to completion.
HANDLER_TIMEOUT_S = 25.0
TIMEOUT_BODY = b"<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"

log = logging.getLogger("harness.toxiproxy_server")

Route = Callable[[Request, list[str]], Awaitable[Response]]
_VAR = None  # a path segment that matches any non-empty text without "/"


def json_response(status: int, value: Any) -> Response:
    return Response(status, gojson.encode(value), [("Content-Type", JSON)])


def error_response(error: ApiError) -> Response:
    body = gojson.encode({"error": error.message, "status": error.status}) + b"\n"
    return Response(error.status, body, [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")])


def clean_path(path: str) -> str:
    """Go's path.Clean, keeping a trailing slash, as gorilla/mux applies before matching."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    cleaned = "/" + "/".join(out)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


class _RequestIds:
    """xid-shaped ids (20 base32hex characters: time, machine, pid, counter) like the real server's."""

    _ALPHABET = "0123456789abcdefghijklmnopqrstuv"

    def __init__(self) -> None:
        self._machine = os.urandom(3)
        self._pid = (os.getpid() & 0xFFFF).to_bytes(2, "big")
        self._counter = int.from_bytes(os.urandom(3), "big")
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._counter = (self._counter + 1) & 0xFFFFFF
            counter = self._counter
        raw = int(time.time()).to_bytes(4, "big") + self._machine + self._pid + counter.to_bytes(3, "big")
        value = int.from_bytes(raw, "big") << 4  # 96 bits padded to 100 = 20 base32 digits
        return "".join(self._ALPHABET[(value >> shift) & 31] for shift in range(95, -1, -5))


class ToxiproxyApi:
    def __init__(self, collection: ProxyCollection, metrics: Metrics | None = None, *,
                 handler_timeout_s: float = HANDLER_TIMEOUT_S) -> None:
        self.collection = collection
        self.metrics = metrics
        self.handler_timeout_s = handler_timeout_s
        self.late: set[asyncio.Future[Response]] = set()  # handlers still running after their 503
        self._ids = _RequestIds()
        proxy_routes: dict[str, Route] = {
            "GET": self.proxy_show,
            "POST": self.proxy_update,
            "PATCH": self.proxy_update,
            "DELETE": self.proxy_delete,
        }
        toxic_routes: dict[str, Route] = {
            "GET": self.toxic_show,
            "POST": self.toxic_update,
            "PATCH": self.toxic_update,
            "DELETE": self.toxic_delete,
        }
        self.routes: list[tuple[tuple[str | None, ...], dict[str, Route] | Route]] = [
            (("reset",), {"POST": self.reset}),
            (("proxies",), {"GET": self.proxy_index, "POST": self.proxy_create}),
            (("populate",), {"POST": self.populate}),
            (("proxies", _VAR), proxy_routes),
            (("proxies", _VAR, "toxics"), {"GET": self.toxic_index, "POST": self.toxic_create}),
            (("proxies", _VAR, "toxics", _VAR), toxic_routes),
            (("version",), {"GET": self.version}),
        ]
        if metrics is not None:
            self.routes.append((("metrics",), self.metrics_page))  # any method, as in the real server

    # ---- dispatch

    async def __call__(self, request: Request) -> Response:
        cleaned = clean_path(request.path)
        if cleaned != request.path:
            query = request.target.partition("?")[2]
            location = cleaned + (f"?{query}" if query else "")
            return Response(301, b"", [("Location", location)])
        segments = request.path[1:].split("/")
        path_matched = False
        for pattern, methods in self.routes:
            params = _match(pattern, segments)
            if params is None:
                continue
            path_matched = True
            handler = methods if callable(methods) else methods.get(request.method)
            if handler is None:
                continue
            return await self._run(handler, request, params)
        if path_matched:
            return Response(405)
        return Response(404, b"404 page not found\n", [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")])

    async def _run(self, handler: Route, request: Request, params: list[str]) -> Response:
        request_id = ("X-Toxiproxy-Request-Id", self._ids.next())
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            response = Response(403, b"User agent not allowed\n", [("Content-Type", TEXT),
                                                                  ("X-Content-Type-Options", "nosniff")])
        else:
            task = asyncio.ensure_future(handler(request, params))
            done, _ = await asyncio.wait({task}, timeout=self.handler_timeout_s)
            if not done:
                # Not cancelled, as Go does not stop a timed-out handler: a change it was making completes.
                self.late.add(task)
                task.add_done_callback(self._late_done)
                response = Response(503, TIMEOUT_BODY, [("Content-Type", "text/html; charset=utf-8")])
            else:
                try:
                    response = task.result()
                except ApiError as exc:
                    response = error_response(exc)
                except Exception as exc:  # never crash the server on one bad request
                    log.exception("handler failed: %s %s", request.method, request.path)
                    response = error_response(ApiError(str(exc) or type(exc).__name__, 500))
        response.headers.insert(0, request_id)
        return response

    def _late_done(self, task: asyncio.Future[Response]) -> None:
        self.late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handler failed after its 503 timeout: %s", task.exception())

    # ---- handlers

    async def proxy_index(self, request: Request, params: list[str]) -> Response:
        proxies = self.collection.proxies
        return json_response(200, {name: proxies[name].to_json() for name in sorted(proxies)})

    async def proxy_create(self, request: Request, params: list[str]) -> Response:
        proxy = await self.collection.create(request.body)
        return json_response(201, proxy.to_json())

    async def populate(self, request: Request, params: list[str]) -> Response:
        try:
            proxies = await self.collection.populate(request.body)
        except PopulateError as exc:
            done = [p.to_json() for p in exc.done] or None
            return json_response(exc.error.status, {"error": exc.error.message, "status": exc.error.status,
                                                    "proxies": done})
        except ApiError as exc:
            return json_response(exc.status, {"error": exc.message, "status": exc.status, "proxies": None})
        return json_response(201, {"proxies": [p.to_json() for p in proxies] or None})

    async def proxy_show(self, request: Request, params: list[str]) -> Response:
        return json_response(200, self.collection.get(params[0]).to_json())

    async def proxy_update(self, request: Request, params: list[str]) -> Response:
        if request.method == "POST":
            log.debug("ProxyUpdate: HTTP method POST is deprecated. Use HTTP PATCH instead.")
        proxy = await self.collection.update(params[0], request.body)
        return json_response(200, proxy.to_json())

    async def proxy_delete(self, request: Request, params: list[str]) -> Response:
        await self.collection.delete(params[0])
        return Response(204)

    async def toxic_index(self, request: Request, params: list[str]) -> Response:
        proxy = self.collection.get(params[0])
        return json_response(200, [t.to_json() for t in proxy.toxic_list()])

    async def toxic_create(self, request: Request, params: list[str]) -> Response:
        toxic = await self.collection.add_toxic(params[0], request.body)
        return json_response(200, toxic.to_json())

    async def toxic_show(self, request: Request, params: list[str]) -> Response:
        _, toxic = self.collection.get_toxic(params[0], params[1])
        return json_response(200, toxic.to_json())

    async def toxic_update(self, request: Request, params: list[str]) -> Response:
        toxic = await self.collection.update_toxic(params[0], params[1], request.body)
        return json_response(200, toxic.to_json())

    async def toxic_delete(self, request: Request, params: list[str]) -> Response:
        await self.collection.remove_toxic(params[0], params[1])
        return Response(204)

    async def reset(self, request: Request, params: list[str]) -> Response:
        await self.collection.reset()
        return Response(204)

    async def version(self, request: Request, params: list[str]) -> Response:
        body = b'{"version": "' + VERSION.encode() + b'"}\n'
        return Response(200, body, [("Content-Type", "application/json;charset=utf-8")])

    async def metrics_page(self, request: Request, params: list[str]) -> Response:
        assert self.metrics is not None
        return Response(200, self.metrics.render(), [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])


def _match(pattern: tuple[str | None, ...], segments: list[str]) -> list[str] | None:
    if len(pattern) != len(segments):
        return None
    params: list[str] = []
    for want, got in zip(pattern, segments, strict=True):
        if want is _VAR:
            if not got:
                return None
            params.append(got)
        elif want != got:
            return None
    return params
