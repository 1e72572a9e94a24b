"""Postgres access: one pool per server, hard deadlines, replica-to-primary fallback, bet placement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from . import queries
from .control import Control
from .deadline import DeadlineExceeded, within
from .metrics import ApiMetrics
from .settings import Settings
from .validation import BetRequest

T = TypeVar("T")
Conn = psycopg.AsyncConnection[dict[str, Any]]


class DependencyUnavailable(Exception):
    """A dependency failed or timed out; the API answers 503 naming it."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    """A well-formed bet the business rules refuse; nothing was written."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class PlacedBet:
    id: int
    user_id: int
    market_id: int
    stake: Decimal
    odds: Decimal
    balance: Decimal
    placed_at: str


# Failures that mean "the server or the network is not there": 503, not 500. Other psycopg errors are
# bugs (constraint violations, syntax) and should surface as 500.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, DeadlineExceeded, OSError)


def _connection_options(settings: Settings) -> dict[str, Any]:
    timeout_ms = int(settings.db_timeout_s * 1000)
    return {
        "autocommit": True,
        "row_factory": dict_row,
        # libpq rounds connect_timeout up to whole seconds (and 1 to 2); the hard deadline around each
        # call is what bounds a request, this only stops background reconnects piling up.
        "connect_timeout": max(2, int(settings.db_timeout_s + 0.999)),
        # Server-side bounds, so a slow query or a lock wait is stopped by Postgres itself and the
        # connection stays usable; idle_in_transaction guards against a client dying mid-transaction.
        "options": (f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms} "
                    f"-c idle_in_transaction_session_timeout={max(timeout_ms * 5, 5000)}"),
        "application_name": "betting-api",
    }


class Database:
    def __init__(self, settings: Settings, metrics: ApiMetrics, control: Control | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.control = control
        self.pools: dict[str, AsyncConnectionPool[Conn]] = {}
        for name, dsn in (("primary", settings.primary_dsn), ("replica", settings.replica_dsn)):
            self.pools[name] = AsyncConnectionPool(
                dsn,
                min_size=2,
                max_size=settings.pool_max,
                open=False,
                name=name,
                kwargs=_connection_options(settings),
                # A cheap round trip before handing a connection out: after a server restart the stale
                # connections are replaced here instead of failing the request that draws them.
                check=AsyncConnectionPool.check_connection,
                timeout=settings.db_timeout_s,
                # Keep trying to reconnect for as long as the process lives; recovery needs no restart.
                reconnect_timeout=3600 * 24,
                max_idle=300,
            )
        self._replica_down_until = 0.0

    async def open(self) -> None:
        # wait=False: the API starts (and /healthz answers) even when a database is down.
        for pool in self.pools.values():
            await pool.open(wait=False)

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close(timeout=1.0)

    def update_pool_gauges(self) -> None:
        for name, pool in self.pools.items():
            stats = pool.get_stats()
            size = stats.get("pool_size", 0)
            idle = stats.get("pool_available", 0)
            self.metrics.pool_connections.labels(name, "in_use").set(max(0, size - idle))
            self.metrics.pool_connections.labels(name, "idle").set(idle)
            self.metrics.pool_connections.labels(name, "max").set(stats.get("pool_max", pool.max_size))

    async def run(self, pool_name: str, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run fn on a pooled connection within BETTING_DB_TIMEOUT_S, or raise DependencyUnavailable."""
        pool = self.pools[pool_name]
        timeout = self.settings.db_timeout_s

        async def call() -> T:
            conn = await pool.getconn(timeout=timeout)
            try:
                result = await fn(conn)
            except BaseException:
                # The connection may be mid-query or mid-transaction on a dead socket; a rollback could
                # block. Closing it is always safe (the server rolls back) and the pool replaces it.
                await conn.close()
                await pool.putconn(conn)
                raise
            await pool.putconn(conn)
            return result

        try:
            return await within(f"postgres {pool_name}", timeout, call)
        except _UNAVAILABLE as exc:
            raise DependencyUnavailable(pool_name, f"{type(exc).__name__}: {exc}".strip()) from exc

    async def read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Reads go to the replica; if it fails they go to the primary, and the replica is skipped for a
        moment (settings.breaker_s) so an outage costs one timeout, not one per request."""
        if time.monotonic() >= self._replica_down_until:
            try:
                return await self.run("replica", fn)
            except DependencyUnavailable:
                self._replica_down_until = time.monotonic() + self.settings.breaker_s
        self.metrics.replica_fallback.inc()
        return await self.run("primary", fn)

    async def timed(self, query_name: str, conn: Conn, sql: str, params: dict[str, Any] | None = None
                    ) -> list[dict[str, Any]]:
        started = time.perf_counter()
        await self._injected_delay(query_name)
        cur = await conn.execute(sql, params)
        rows = await cur.fetchall()
        self._observe(query_name, time.perf_counter() - started)
        return rows

    async def _injected_delay(self, query_name: str) -> None:
        # A query_latency fault: the query takes longer while holding its connection, as a slow query does.
        delay = self.control.query_delay_s(query_name) if self.control is not None else 0.0
        if delay:
            await asyncio.sleep(delay)

    def _observe(self, query_name: str, seconds: float) -> None:
        self.metrics.query_duration.labels(query_name).observe(seconds)
        if self.control is not None:
            self.control.query_observed(query_name, seconds)

    async def place_bet(self, bet: BetRequest) -> PlacedBet | Rejection:
        params = {"user_id": bet.user_id, "market_id": bet.market_id, "stake": bet.stake, "odds": bet.odds}

        async def transaction(conn: Conn) -> PlacedBet | Rejection:
            started = time.perf_counter()
            # Explicit BEGIN/COMMIT on an autocommit connection: psycopg's transaction() block would try a
            # ROLLBACK on a dead socket when a deadline cancels it; here any exception closes the connection.
            await conn.execute("BEGIN")
            await self._injected_delay("place_bet")
            outcome = await _place_bet_statements(conn, params)
            await conn.execute("ROLLBACK" if isinstance(outcome, Rejection) else "COMMIT")
            self._observe("place_bet", time.perf_counter() - started)
            return outcome

        try:
            outcome = await self.run("primary", transaction)
        except BaseException:
            self.metrics.bet_transactions.labels("failure").inc()
            raise
        if isinstance(outcome, PlacedBet):
            self.metrics.bet_transactions.labels("success").inc()
        return outcome


async def _place_bet_statements(conn: Conn, params: dict[str, Any]) -> PlacedBet | Rejection:
    cur = await conn.execute(queries.LOCK_MARKET, params)
    market = await cur.fetchone()
    if market is None:
        return Rejection(404, "unknown_market", f"market {params['market_id']} does not exist")
    if market["status"] != "open":
        return Rejection(409, "market_closed",
                         f"market {params['market_id']} is {market['status']}; bets are accepted on open markets only")
    cur = await conn.execute(queries.DEBIT_USER, params)
    debited = await cur.fetchone()
    if debited is None:
        cur = await conn.execute(queries.USER_BALANCE, params)
        user = await cur.fetchone()
        if user is None:
            return Rejection(404, "unknown_user", f"user {params['user_id']} does not exist")
        return Rejection(422, "insufficient_funds",
                         f"stake {params['stake']} exceeds the balance of user {params['user_id']} ({user['balance']})")
    cur = await conn.execute(queries.INSERT_BET, params)
    row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING always returns the row
    return PlacedBet(row["id"], params["user_id"], params["market_id"], params["stake"], params["odds"],
                     debited["balance"], row["placed_at"].isoformat())
