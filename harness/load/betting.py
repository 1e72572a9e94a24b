"""The betting workload (a Locust file): what a betting platform's API sees on a normal evening.

Weights, per 100 requests: 60 dashboard reads of active bets (every open betting page polls them),
18 valid bet placements, 6 invalid ones (2 on a closed market, 2 with a stake no balance covers,
2 malformed bodies), 8 "my bets" pages, 5 market exposure checks (traders), 3 daily-volume reports.
Ids come from GET /api/meta once per process; without it (an API that lacks /api/meta) the
workload falls back to ids 1..100 so it still drives load.

Requests are named by route template (``name=``), so records and Prometheus labels group alike.
Invalid bets are expected to fail with a 4xx; Locust counts them as successes, the records keep
the real status.
"""

from __future__ import annotations

import random
from typing import Any

from locust import FastHttpUser, between, task

_META: dict[str, Any] | None = None


def _fallback_meta() -> dict[str, Any]:
    return {"users": 100, "open_market_ids": list(range(1, 101)), "closed_market_ids": []}


class BettingUser(FastHttpUser):
    wait_time = between(0.5, 2.0)
    # A stalled API must show as a timeout in the records, not as a user stuck for a minute.
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        global _META
        if _META is None:
            meta = _fallback_meta()
            with self.client.get("/api/meta", name="/api/meta", catch_response=True) as resp:
                try:
                    body = resp.json()
                    if resp.status_code == 200 and body.get("open_market_ids"):
                        meta = {"users": int(body.get("users") or 1),
                                "open_market_ids": list(body["open_market_ids"]),
                                "closed_market_ids": list(body.get("closed_market_ids") or [])}
                except Exception:
                    pass  # fallback ids keep the load going; the record keeps the failed status
                if resp.status_code:
                    resp.success()  # an answer without ids is not an outage; a transport error still is
            _META = meta
        self.meta = _META

    def _user_id(self) -> int:
        return random.randint(1, max(1, int(self.meta["users"])))

    def _open_market(self) -> int:
        return int(random.choice(self.meta["open_market_ids"]))

    @task(60)
    def active_bets(self) -> None:
        self.client.get("/api/active-bets", name="/api/active-bets")

    @task(18)
    def place_valid_bet(self) -> None:
        body = {"user_id": self._user_id(), "market_id": self._open_market(),
                "stake": round(random.uniform(1, 50), 2), "odds": round(random.uniform(1.2, 6.0), 2)}
        self.client.post("/api/bets", json=body, name="/api/bets")

    def _invalid_bet(self, body: Any) -> None:
        with self.client.post("/api/bets", json=body, name="/api/bets", catch_response=True) as resp:
            if 400 <= resp.status_code < 500:
                resp.success()

    @task(2)
    def bet_on_closed_market(self) -> None:
        closed = self.meta["closed_market_ids"]
        market = int(random.choice(closed)) if closed else 10**9
        self._invalid_bet({"user_id": self._user_id(), "market_id": market, "stake": 10.0, "odds": 2.0})

    @task(2)
    def bet_beyond_balance(self) -> None:
        self._invalid_bet({"user_id": self._user_id(), "market_id": self._open_market(), "stake": 1e9, "odds": 2.0})

    @task(2)
    def malformed_bet(self) -> None:
        bad = random.choice([{"user_id": "x", "market_id": self._open_market(), "stake": 5, "odds": 2},
                             {"market_id": self._open_market(), "stake": -5, "odds": 2},
                             {"user_id": self._user_id(), "market_id": self._open_market(), "stake": 5, "odds": 0.5}])
        self._invalid_bet(bad)

    @task(8)
    def my_bets(self) -> None:
        self.client.get(f"/api/users/{self._user_id()}/bets", name="/api/users/{id}/bets")

    @task(5)
    def market_exposure(self) -> None:
        self.client.get(f"/api/markets/{self._open_market()}/exposure", name="/api/markets/{id}/exposure")

    @task(3)
    def daily_volume(self) -> None:
        self.client.get("/api/reports/daily-volume", name="/api/reports/daily-volume")
