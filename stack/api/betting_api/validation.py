"""Validation of the bet placement body: pure, so every rejection is unit-tested without a database."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_STAKE = Decimal("100000")
MAX_ODDS = Decimal("1000")
REQUIRED = ("user_id", "market_id", "stake", "odds")


class BadRequest(ValueError):
    """The body cannot be a bet; .field names the offending field (None for the body itself)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BetRequest:
    user_id: int
    market_id: int
    stake: Decimal
    odds: Decimal


def _positive_id(body: dict[str, object], name: str) -> int:
    value = body[name]
    # bool is an int subclass; true is not a user id.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be a positive integer, got {json.dumps(value)}", name)
    if value < 1 or value > 2**63 - 1:
        raise BadRequest(f"{name} must be a positive integer, got {value}", name)
    return value


def _decimal(body: dict[str, object], name: str, places: int) -> Decimal:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRequest(f"{name} must be a number, got {json.dumps(value)}", name)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number", name)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{name} must be a number, got {json.dumps(value)}", name) from None
    if not number.is_finite():
        raise BadRequest(f"{name} must be a finite number", name)
    exact = number.quantize(Decimal(1).scaleb(-places)) if abs(number) < 10**12 else number
    if number != exact:
        raise BadRequest(f"{name} has more than {places} decimal places: {value}", name)
    return exact


def parse_bet(raw: bytes) -> BetRequest:
    """Parse and validate a POST /api/bets body, or raise BadRequest saying what is wrong."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON; send an object like "
                         '{"user_id": 1, "market_id": 2, "stake": 10.5, "odds": 2.1}') from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with user_id, market_id, stake, odds")
    missing = [name for name in REQUIRED if name not in body]
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(missing)}", missing[0])
    unknown = sorted(set(body) - set(REQUIRED))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    user_id = _positive_id(body, "user_id")
    market_id = _positive_id(body, "market_id")
    stake = _decimal(body, "stake", 2)
    if not Decimal(0) < stake <= MAX_STAKE:
        raise BadRequest(f"stake must be > 0 and <= {MAX_STAKE}, got {stake}", "stake")
    odds = _decimal(body, "odds", 3)
    if not Decimal(1) < odds <= MAX_ODDS:
        raise BadRequest(f"odds must be > 1 and <= {MAX_ODDS}, got {odds}", "odds")
    return BetRequest(user_id, market_id, stake, odds)
