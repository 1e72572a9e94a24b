"""The API's configuration, read once from the environment (names fixed by the harness contract)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it and says what to do."""


@dataclass(frozen=True)
class Settings:
    primary_dsn: str
    replica_dsn: str
    redis_url: str
    db_timeout_s: float = 1.0
    redis_timeout_s: float = 0.25
    pool_max: int = 10
    multiproc_dir: str | None = None
    # How long a failed Redis or replica is bypassed before being tried again. Short, so recovery is
    # seen within a second or two, yet long enough that an outage does not cost every request a timeout.
    breaker_s: float = 1.0


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; set it to seconds, e.g. {name}={default}") from None
    if not value > 0:
        raise SettingsError(f"{name}={raw!r} must be > 0 seconds; e.g. {name}={default}")
    return value


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    primary = env.get("BETTING_PRIMARY_DSN", "")
    if not primary:
        raise SettingsError(
            "BETTING_PRIMARY_DSN is not set; set it to a libpq URL such as "
            "postgresql://postgres@127.0.0.1:5432/betting"
        )
    redis_url = env.get("BETTING_REDIS_URL", "")
    if not redis_url:
        raise SettingsError("BETTING_REDIS_URL is not set; set it to e.g. redis://127.0.0.1:6379/0")
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"BETTING_REDIS_URL={redis_url!r} is not a redis:// URL")
    pool_raw = env.get("BETTING_POOL_MAX", "10")
    try:
        pool_max = int(pool_raw)
    except ValueError:
        raise SettingsError(f"BETTING_POOL_MAX={pool_raw!r} is not an integer; e.g. BETTING_POOL_MAX=10") from None
    if pool_max < 1:
        raise SettingsError(f"BETTING_POOL_MAX={pool_raw!r} must be >= 1")
    return Settings(
        primary_dsn=primary,
        # Without a replica the reporting queries simply run on the primary.
        replica_dsn=env.get("BETTING_REPLICA_DSN") or primary,
        redis_url=redis_url,
        db_timeout_s=_positive_float(env, "BETTING_DB_TIMEOUT_S", 1.0),
        redis_timeout_s=_positive_float(env, "BETTING_REDIS_TIMEOUT_S", 0.25),
        pool_max=pool_max,
        multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
    )
