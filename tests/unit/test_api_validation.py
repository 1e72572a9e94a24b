"""Bet body validation and API settings: pure, no services."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "api"))

from betting_api.settings import SettingsError, settings_from_env
from betting_api.validation import BadRequest, BetRequest, parse_bet


def test_valid_bet_is_normalised() -> None:
    bet = parse_bet(b'{"user_id": 1, "market_id": 2, "stake": 10.5, "odds": "2.1"}')
    assert bet == BetRequest(1, 2, Decimal("10.50"), Decimal("2.100"))
    assert str(bet.stake) == "10.50"


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        (b"{", None, "not valid JSON"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[]", None, "JSON object"),
        (b'{"user_id": 1}', "market_id", "missing field(s): market_id, stake, odds"),
        (b'{"user_id": 1, "market_id": 2, "stake": 1, "odds": 2, "x": 0}', "x", "unknown field"),
        (b'{"user_id": true, "market_id": 2, "stake": 1, "odds": 2}', "user_id", "positive integer"),
        (b'{"user_id": 0, "market_id": 2, "stake": 1, "odds": 2}', "user_id", "positive integer"),
        (b'{"user_id": 1, "market_id": 1.5, "stake": 1, "odds": 2}', "market_id", "positive integer"),
        (b'{"user_id": 1, "market_id": 2, "stake": "ten", "odds": 2}', "stake", "must be a number"),
        (b'{"user_id": 1, "market_id": 2, "stake": null, "odds": 2}', "stake", "must be a number"),
        (b'{"user_id": 1, "market_id": 2, "stake": 0, "odds": 2}', "stake", "> 0"),
        (b'{"user_id": 1, "market_id": 2, "stake": 1.234, "odds": 2}', "stake", "decimal places"),
        (b'{"user_id": 1, "market_id": 2, "stake": "NaN", "odds": 2}', "stake", "finite"),
        (b'{"user_id": 1, "market_id": 2, "stake": 1e300, "odds": 2}', "stake", "<= 100000"),
        (b'{"user_id": 1, "market_id": 2, "stake": 1, "odds": 1.0}', "odds", "> 1"),
        (b'{"user_id": 1, "market_id": 2, "stake": 1, "odds": 2.0001}', "odds", "decimal places"),
    ],
)
def test_bad_bodies_name_the_field(raw: bytes, field: str | None, fragment: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_bet(raw)
    assert info.value.field == field
    assert fragment in str(info.value)


BASE = {"BETTING_PRIMARY_DSN": "postgresql://postgres@127.0.0.1:1/betting", "BETTING_REDIS_URL": "redis://127.0.0.1:2/0"}


def test_settings_defaults_and_replica_fallback() -> None:
    s = settings_from_env(BASE)
    assert (s.db_timeout_s, s.redis_timeout_s, s.pool_max, s.multiproc_dir) == (1.0, 0.25, 10, None)
    assert s.replica_dsn == s.primary_dsn


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"BETTING_PRIMARY_DSN": ""}, "BETTING_PRIMARY_DSN is not set"),
        ({"BETTING_REDIS_URL": "http://x"}, "not a redis:// URL"),
        ({"BETTING_DB_TIMEOUT_S": "fast"}, "BETTING_DB_TIMEOUT_S='fast' is not a number"),
        ({"BETTING_REDIS_TIMEOUT_S": "0"}, "must be > 0"),
        ({"BETTING_POOL_MAX": "0"}, "BETTING_POOL_MAX"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(")):
        settings_from_env({**BASE, **env})
