"""The betting API: routes, error mapping, request metrics. Built by create_app(settings)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import queries
from .cache import Cache, Lookup
from .control import Control, ControlError
from .metrics import QUERY_NAMES, ApiMetrics
from .settings import Settings
from .store import Conn, Database, DependencyUnavailable, PlacedBet, Rejection
from .validation import BadRequest, parse_bet

log = logging.getLogger("betting_api")

ACTIVE_BETS_KEY = "active_bets"
ACTIVE_BETS_TTL_S = 5
# Probes and the scrape endpoint are not user traffic; counting them would dilute the availability SLI.
UNMEASURED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
# The harness's control interface for calibrated faults (betting_api/control.py): not user traffic either.
ADMIN_PREFIX = "/admin/"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode(payload: object) -> bytes:
    return json.dumps(payload, default=_json_default, separators=(",", ":")).encode()


def json_response(payload: object, status: int = 200) -> Response:
    return Response(encode(payload), status_code=status, media_type="application/json")


def error(status: int, code: str, message: str, **extra: object) -> Response:
    return json_response({"error": code, "message": message, **extra}, status)


def unavailable(exc: DependencyUnavailable) -> Response:
    return error(503, "dependency_unavailable", str(exc), dependency=exc.dependency)


class RequestMetrics:
    """ASGI middleware recording http_requests_total and http_request_duration_seconds.

    The endpoint label is the matched route's template ("/api/users/{id}/bets"), never the raw path,
    so label cardinality stays bounded; anything unrouted is "unmatched".
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED_PATHS or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.http_requests.labels(method, endpoint, str(status)).inc()
            self.metrics.http_duration.labels(method, endpoint).observe(time.perf_counter() - started)


def _path_id(request: Request, name: str) -> int | Response:
    raw = request.path_params[name]
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        return error(400, "bad_request", f"{name} in the path must be a positive integer, got {raw!r}", field=name)
    return int(raw)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int | Response:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        return error(400, "bad_request", f"query parameter {name} must be an integer {low}..{high}, got {raw!r}",
                     field=name)
    return int(raw)


USER_ROUTES = ("/api/active-bets", "/api/bets", "/api/users/{id}/bets", "/api/markets/{id}/exposure",
               "/api/reports/daily-volume", "/api/meta")


class Api:
    def __init__(self, settings: Settings, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.control = Control(USER_ROUTES, QUERY_NAMES, multiprocess=bool(settings.multiproc_dir))
        self.db = Database(settings, metrics, self.control)
        self.cache = Cache(settings.redis_url, settings.redis_timeout_s, settings.breaker_s)

    async def active_bets(self, request: Request) -> Response:
        # A cache_hit_ratio fault makes some reads skip Redis: real misses, served and cached like any other.
        skip = self.control.skip_cache()
        lookup, cached = (Lookup.MISS, None) if skip else await self.cache.get(ACTIVE_BETS_KEY)
        hit = lookup is Lookup.HIT and cached is not None
        self.control.cache_outcome(hit)
        if hit:
            self.metrics.cache_requests.labels("active_bets", "hit").inc()
            return Response(cached, media_type="application/json")
        # An unavailable cache is a miss for the hit-rate SLI (the request was not served from cache)
        # and is also counted as a fallback, so the two causes can be told apart.
        self.metrics.cache_requests.labels("active_bets", "miss").inc()
        if lookup is Lookup.UNAVAILABLE:
            self.metrics.cache_fallback.inc()

        async def query1(conn: Conn) -> list[dict[str, Any]]:
            return await self.db.timed("query1", conn, queries.QUERY1_ACTIVE_BETS)

        try:
            rows = await self.db.read(query1)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        body = encode({"bets": rows, "cached_for_s": ACTIVE_BETS_TTL_S})
        if lookup is Lookup.MISS and not await self.cache.set(ACTIVE_BETS_KEY, body, ACTIVE_BETS_TTL_S):
            self.metrics.cache_fallback.inc()
        return Response(body, media_type="application/json")

    async def place_bet(self, request: Request) -> Response:
        try:
            bet = parse_bet(await request.body())
        except BadRequest as exc:
            return error(400, "bad_request", str(exc), field=exc.field)
        try:
            outcome = await self.db.place_bet(bet)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        if isinstance(outcome, Rejection):
            return error(outcome.status, outcome.code, outcome.message)
        assert isinstance(outcome, PlacedBet)
        return json_response({"bet": {"id": outcome.id, "user_id": outcome.user_id, "market_id": outcome.market_id,
                                      "stake": outcome.stake, "odds": outcome.odds, "status": "active",
                                      "placed_at": outcome.placed_at},
                              "balance": outcome.balance}, 201)

    async def user_bets(self, request: Request) -> Response:
        user_id = _path_id(request, "id")
        if isinstance(user_id, Response):
            return user_id
        limit = _int_param(request, "limit", 50, 1, 500)
        if isinstance(limit, Response):
            return limit
        params = {"user_id": user_id, "limit": limit}

        async def query2(conn: Conn) -> list[dict[str, Any]] | None:
            rows = await self.db.timed("query2", conn, queries.QUERY2_USER_BETS, params)
            if rows:
                return rows
            cur = await conn.execute(queries.USER_EXISTS, params)
            return [] if await cur.fetchone() else None

        try:
            rows = await self.db.read(query2)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        if rows is None:
            return error(404, "unknown_user", f"user {user_id} does not exist")
        return json_response({"user_id": user_id, "bets": rows})

    async def market_exposure(self, request: Request) -> Response:
        market_id = _path_id(request, "id")
        if isinstance(market_id, Response):
            return market_id

        async def query3(conn: Conn) -> list[dict[str, Any]]:
            return await self.db.timed("query3", conn, queries.QUERY3_MARKET_EXPOSURE, {"market_id": market_id})

        try:
            rows = await self.db.read(query3)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        if not rows:
            return error(404, "unknown_market", f"market {market_id} does not exist")
        return json_response(rows[0])

    async def daily_volume(self, request: Request) -> Response:
        days = _int_param(request, "days", 7, 1, 31)
        if isinstance(days, Response):
            return days

        async def query4(conn: Conn) -> list[dict[str, Any]]:
            return await self.db.timed("query4", conn, queries.QUERY4_DAILY_VOLUME, {"days": days})

        try:
            rows = await self.db.read(query4)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        return json_response({"days": days, "volume": rows})

    async def meta(self, request: Request) -> Response:
        async def fetch(conn: Conn) -> dict[str, Any]:
            cur = await conn.execute(queries.META)
            row = await cur.fetchone()
            assert row is not None
            return row

        try:
            row = await self.db.read(fetch)
        except DependencyUnavailable as exc:
            return unavailable(exc)
        return json_response({"users": row["users"], "open_market_ids": row["open_ids"],
                              "closed_market_ids": row["closed_ids"]})

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok", "pid": os.getpid()})

    async def readyz(self, request: Request) -> Response:
        async def ping(conn: Conn) -> bool:
            await conn.execute("SELECT 1")
            return True

        async def check(pool: str) -> bool:
            try:
                return await self.db.run(pool, ping)
            except DependencyUnavailable:
                return False

        primary, replica, redis_ok = await asyncio.gather(check("primary"), check("replica"), self.cache.ping())
        checks = {"primary": primary, "replica": replica, "redis": redis_ok}
        # Ready means able to take bets. A replica or cache outage degrades service (reads fall back to the
        # primary, the cache to Postgres) but taking the instance out of rotation would not help.
        status = 200 if primary else 503
        return json_response({"ready": primary, "degraded": not (replica and redis_ok), "checks": checks}, status)

    async def metrics_endpoint(self, request: Request) -> Response:
        self.db.update_pool_gauges()
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def failing(self, path: str, handler: Any) -> Any:
        """``handler`` behind the error_ratio fault: the selected requests fail inside the service with a 500,
        counted by the request metrics like any other."""
        async def endpoint(request: Request) -> Response:
            if self.control.fail_request(path):
                return error(500, "injected_fault", f"error_ratio fault on {path}")
            return await handler(request)  # type: ignore[no-any-return]
        return endpoint

    async def admin_faults(self, request: Request) -> Response:
        kind = request.path_params.get("kind")
        try:
            if request.method == "GET":
                return json_response(self.control.state())
            if request.method == "DELETE":
                return json_response(self.control.clear(str(kind)))
            try:
                params = json.loads(await request.body() or b"{}")
            except ValueError:
                return error(400, "bad_request", "the body must be a JSON object of the fault's parameters")
            if not isinstance(params, dict):
                return error(400, "bad_request", "the body must be a JSON object of the fault's parameters")
            return json_response(self.control.set(str(kind), params))
        except ControlError as exc:
            return error(400, "bad_request", str(exc))

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return error(404, "not_found", f"no route for {request.method} {request.url.path}")

    async def method_not_allowed(self, request: Request, exc: Exception) -> Response:
        return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")

    async def internal_error(self, request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal_error", f"{type(exc).__name__}")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.db.open()

        async def refresh_gauges() -> None:
            # In multiprocess mode each worker's gauge values are read from its file at scrape time,
            # so each worker keeps its own up to date rather than only the one that serves /metrics.
            while True:
                self.db.update_pool_gauges()
                await asyncio.sleep(1.0)

        refresher = asyncio.create_task(refresh_gauges())
        try:
            yield
        finally:
            refresher.cancel()
            await self.cache.close()
            await self.db.close()
            if self.settings.multiproc_dir:
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(os.getpid(), self.settings.multiproc_dir)


def create_app(settings: Settings, metrics: ApiMetrics | None = None) -> ASGIApp:
    # *_created series double the scrape size and no rule in the seeds reads them.
    disable_created_metrics()
    metrics = metrics or ApiMetrics(multiproc_dir=settings.multiproc_dir)
    api = Api(settings, metrics)
    user = [("GET", api.active_bets), ("POST", api.place_bet), ("GET", api.user_bets), ("GET", api.market_exposure),
            ("GET", api.daily_volume), ("GET", api.meta)]
    routes = [Route(path, api.failing(path, handler), methods=[method])
              for path, (method, handler) in zip(USER_ROUTES, user, strict=True)]
    metrics.routes((method, path) for path, (method, _) in zip(USER_ROUTES, user, strict=True))
    routes += [
        Route("/admin/faults", api.admin_faults, methods=["GET"]),
        Route("/admin/faults/{kind}", api.admin_faults, methods=["POST", "DELETE"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/readyz", api.readyz, methods=["GET"]),
        Route("/metrics", api.metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=api.lifespan,
        exception_handlers={404: api.not_found, 405: api.method_not_allowed, Exception: api.internal_error},
    )
    app.state.api = api
    return RequestMetrics(app, metrics)
