"""Readiness as strategy objects: each answers "ready?" once; ``wait_ready`` polls with back-off.

A check returns None when ready, else a short description of what it observed, which ends up in the
"too slow" error so a user sees the last thing we saw (connection refused, HTTP 503, SQL error, ...).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import requests


class ReadyCheck(Protocol):
    @property
    def description(self) -> str: ...

    def check(self) -> str | None: ...


@dataclass(frozen=True)
class PortReady:
    port: int
    host: str = "127.0.0.1"

    @property
    def description(self) -> str:
        return f"TCP port {self.host}:{self.port} accepting connections"

    def check(self) -> str | None:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return None
        except OSError as exc:
            return f"connect to {self.host}:{self.port}: {exc.strerror or exc}"


@dataclass(frozen=True)
class HttpReady:
    url: str
    status: int = 200
    timeout: float = 1.0
    session: requests.Session = field(default_factory=requests.Session, compare=False, repr=False)

    @property
    def description(self) -> str:
        return f"GET {self.url} answering {self.status}"

    def check(self) -> str | None:
        try:
            resp = self.session.get(self.url, timeout=self.timeout)
        except requests.RequestException as exc:
            return f"GET {self.url}: {type(exc).__name__}"
        if resp.status_code == self.status:
            return None
        return f"GET {self.url} answered {resp.status_code}: {resp.text[:120].strip()}"


@dataclass(frozen=True)
class SqlReady:
    dsn: str
    query: str = "select 1"
    expect: object = None  # when set, the first column of the first row must equal it

    @property
    def description(self) -> str:
        return f"SQL {self.query!r} succeeding on {self.dsn}"

    def check(self) -> str | None:
        import psycopg  # lazy: only the stack needs it

        try:
            with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as conn:
                row = conn.execute(self.query).fetchone()
        except psycopg.Error as exc:
            return f"SQL: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        if self.expect is not None and (row is None or row[0] != self.expect):
            return f"SQL {self.query!r} returned {row!r}, want {self.expect!r}"
        return None


@dataclass(frozen=True)
class PredicateReady:
    """Escape hatch for checks that are neither port, HTTP nor SQL (e.g. Redis PING)."""

    description: str
    probe: Callable[[], str | None]

    def check(self) -> str | None:
        try:
            return self.probe()
        except Exception as exc:  # a probe that raises is simply "not ready yet"
            return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class AllReady:
    checks: Sequence[ReadyCheck]

    @property
    def description(self) -> str:
        return " and ".join(c.description for c in self.checks)

    def check(self) -> str | None:
        for c in self.checks:
            observed = c.check()
            if observed is not None:
                return observed
        return None


def backoff_delays(first: float = 0.02, factor: float = 1.5, cap: float = 0.25) -> Callable[[], float]:
    """Poll fast at first (most services come up within a second), then settle at ``cap``."""
    state = {"d": first / factor}

    def next_delay() -> float:
        state["d"] = min(cap, state["d"] * factor)
        return state["d"]

    return next_delay
