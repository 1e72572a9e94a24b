import numpy as np

from harness.load.records import RequestRecords
from harness.slo.budget import check_latency_budgets, per_endpoint_percentiles


def _rec():
    n = 100
    lat = np.concatenate([np.full(95, 0.004), np.full(5, 0.2)])
    intended = np.arange(n, dtype=float)
    start = intended + np.where(np.arange(n) < 50, 0.0, 0.1)  # half queued 100 ms in the generator
    return RequestRecords(intended, start, start + lat, np.array(["/api/active-bets"] * 50 + ["/api/bets"] * 50),
                          np.array(["GET"] * 50 + ["POST"] * 50), np.full(n, 200, np.int32), np.array([""] * n),
                          np.zeros(n, np.int64))


def test_budget_from_intended_start_counts_generator_queueing():
    res = {r.endpoint: r for r in check_latency_budgets(_rec(), {"GET /api/active-bets": 0.005,
                                                                  "POST /api/bets": 0.05}, 0.95)}
    assert res["GET /api/active-bets"].ok and abs(res["GET /api/active-bets"].observed_s - 0.004) < 1e-9
    assert not res["POST /api/bets"].ok  # 104 ms from intended start
    closed = check_latency_budgets(_rec(), {"POST /api/bets": 0.05}, 0.9, from_intended=False)[0]
    assert closed.ok and closed.share_within == 0.9


def test_budget_for_endpoint_without_requests_is_not_ok():
    assert not check_latency_budgets(_rec(), {"/api/nothing": 1.0})[0].ok


def test_per_endpoint_percentiles_keys():
    assert set(per_endpoint_percentiles(_rec())) == {"GET /api/active-bets", "POST /api/bets"}
