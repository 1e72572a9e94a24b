"""The Redis cache in front of Query 1. Never raises: an unavailable cache is a miss the caller counts."""

from __future__ import annotations

import time
from enum import Enum

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .deadline import within


class Lookup(Enum):
    HIT = "hit"
    MISS = "miss"
    UNAVAILABLE = "unavailable"


class Cache:
    def __init__(self, url: str, timeout_s: float, breaker_s: float) -> None:
        self.timeout_s = timeout_s
        self.breaker_s = breaker_s
        self._skip_until = 0.0
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # No client-side retries: a retry doubles the time an outage costs each request, and the
            # fallback to Postgres is the retry.
            retry=Retry(NoBackoff(), 0),
            max_connections=64,
        )

    def _available(self) -> bool:
        return time.monotonic() >= self._skip_until

    def _failed(self) -> None:
        # After a failure, skip Redis briefly so an outage costs one timeout per breaker window, not one
        # per request; the next request after the window probes it again, which is how we recover.
        self._skip_until = time.monotonic() + self.breaker_s

    async def get(self, key: str) -> tuple[Lookup, bytes | None]:
        if not self._available():
            return Lookup.UNAVAILABLE, None
        try:
            value = await within("redis GET", self.timeout_s, lambda: self.client.get(key))
        except Exception:
            self._failed()
            return Lookup.UNAVAILABLE, None
        if value is None:
            return Lookup.MISS, None
        return Lookup.HIT, bytes(value)

    async def set(self, key: str, value: bytes, ttl_s: int) -> bool:
        if not self._available():
            return False
        try:
            await within("redis SETEX", self.timeout_s, lambda: self.client.setex(key, ttl_s, value))
        except Exception:
            self._failed()
            return False
        return True

    async def ping(self) -> bool:
        try:
            return bool(await within("redis PING", self.timeout_s, lambda: self.client.ping()))
        except Exception:
            return False

    async def close(self) -> None:
        await self.client.aclose()  # type: ignore[attr-defined]  # stubs predate redis 5
