"""The API's calibrated-fault controls (stack/api/betting_api/control.py): exact shares, validation. Pure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "stack" / "api"))

from betting_api.control import Control, ControlError, Every

ROUTES = ("/api/active-bets", "/api/bets")
QUERIES = ("query1", "place_bet", "query2")


@pytest.mark.parametrize("ratio,calls", [(0.02, 1000), (0.005, 1999), (0.0005, 4000), (0.15, 333), (1.0, 7)])
def test_every_selects_exactly_the_share_at_every_point(ratio: float, calls: int) -> None:
    every = Every(ratio)
    picks = [every.next() for _ in range(calls)]
    for k in range(1, calls + 1):
        assert sum(picks[:k]) == int(k * ratio + 1e-9)


def test_every_spreads_errors_evenly() -> None:
    every = Every(0.02)
    picks = [i + 1 for i in range(200) if every.next()]
    assert picks == [50, 100, 150, 200]


def test_error_ratio_on_one_endpoint_leaves_the_others_alone() -> None:
    c = Control(ROUTES, QUERIES)
    c.set("error_ratio", {"ratio": 0.5, "endpoint": "/api/bets"})
    assert [c.fail_request("/api/active-bets") for _ in range(4)] == [False] * 4
    assert [c.fail_request("/api/bets") for _ in range(4)] == [False, True, False, True]
    done = c.clear("error_ratio")
    assert done["achieved"] == {"requests": 4, "errors": 2, "achieved_ratio": 0.5}
    assert not c.fail_request("/api/bets")  # cleared


def test_error_ratio_without_an_endpoint_counts_all_requests_together() -> None:
    c = Control(ROUTES, QUERIES)
    c.set("error_ratio", {"ratio": 0.25})
    got = [c.fail_request(ROUTES[i % 2]) for i in range(8)]
    assert got == [False, False, False, True] * 2


def test_cache_hit_ratio_skips_the_cache_for_the_rest_and_counts_real_hits() -> None:
    c = Control(ROUTES, QUERIES)
    c.set("cache_hit_ratio", {"ratio": 0.6})
    skips = [c.skip_cache() for _ in range(10)]
    assert sum(skips) == 4
    for s in skips:
        c.cache_outcome(hit=not s)
    c.cache_outcome(hit=False)  # a natural miss (expired key) lowers the achieved share
    assert c.clear("cache_hit_ratio")["achieved"]["achieved_ratio"] == pytest.approx(6 / 11)


def test_cache_hit_ratio_zero_skips_every_read() -> None:
    c = Control(ROUTES, QUERIES)
    c.set("cache_hit_ratio", {"ratio": 0})
    assert all(c.skip_cache() for _ in range(5))


def test_query_latency_delays_only_the_named_query() -> None:
    c = Control(ROUTES, QUERIES)
    c.set("query_latency", {"query": "place_bet", "latency_ms": 20})
    assert c.query_delay_s("place_bet") == pytest.approx(0.02)
    assert c.query_delay_s("query1") == 0.0
    c.query_observed("place_bet", 0.021)
    c.query_observed("query1", 0.001)
    achieved = c.clear("query_latency")["achieved"]
    assert achieved["calls"] == 1 and achieved["min_ms"] == pytest.approx(21.0)


@pytest.mark.parametrize("kind,params,message", [
    ("error_ratio", {"ratio": 0}, "ratio must be in (0, 1]"),
    ("error_ratio", {"ratio": "2%"}, "ratio must be a number"),
    ("error_ratio", {"ratio": 0.1, "endpoint": "/api/nope"}, "endpoint must be a route template"),
    ("cache_hit_ratio", {"ratio": 1.5}, "ratio must be in [0, 1]"),
    ("query_latency", {"query": "query9", "latency_ms": 5}, "query must be one of"),
    ("query_latency", {"query": "query1", "latency_ms": 0}, "latency_ms must be a number"),
    ("melt", {}, "unknown fault kind 'melt'"),
])
def test_bad_control_requests_name_the_field(kind: str, params: dict, message: str) -> None:
    with pytest.raises(ControlError) as err:
        Control(ROUTES, QUERIES).set(kind, params)
    assert message in str(err.value)


def test_state_says_whether_the_api_runs_several_workers() -> None:
    assert Control(ROUTES, QUERIES, multiprocess=True).state()["multiprocess"] is True
    assert Control(ROUTES, QUERIES).state()["active"] == {}
