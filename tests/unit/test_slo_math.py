import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.slo import math as M

objectives = st.floats(min_value=0.5, max_value=0.99999)
latencies = st.lists(st.floats(min_value=0.0, max_value=100.0, allow_nan=False), min_size=1, max_size=300)
goods = st.lists(st.booleans(), min_size=1, max_size=500)


def test_default_good_predicate_excludes_5xx_and_transport_errors():
    status = np.array([200, 201, 404, 500, 503, 0, 200])
    error = np.array(["", "", "", "", "", "refused", "reset"])
    assert M.good_not_5xx(status, error).tolist() == [True, True, True, False, False, False, False]
    # The betting seed's own definition: only 200 is good, so an expected 4xx burns budget.
    assert M.good_status_200(status, error).tolist() == [True, False, False, False, False, False, False]


def test_availability_and_latency_sli_simple_values():
    assert M.availability(np.array([True, True, False, True])) == 0.75
    assert math.isnan(M.availability(np.array([], dtype=bool)))
    lat = np.array([0.1, 0.2, 0.5, 0.5, 1.0])
    assert M.latency_sli(lat, 0.5) == 0.8  # "under" means <= (Prometheus le semantics)


def test_nearest_rank_percentile():
    lat = np.arange(1, 101) / 1000.0
    assert M.percentile(lat, 0.95) == 0.095
    assert M.percentile(lat, 1.0) == 0.1
    assert M.percentile(np.array([5.0]), 0.5) == 5.0
    with pytest.raises(ValueError):
        M.percentile(lat, 0.0)


def test_seed_downtime_formula():
    assert M.allowed_downtime_minutes(0.999) == pytest.approx(43.2)
    assert M.downtime_minutes(0.9995) == pytest.approx(21.6)
    # "If you've used 30 minutes, you have 13 minutes left" (PetForce, with 43 rounded).
    used = 30.0
    assert M.allowed_downtime_minutes(0.999) - used == pytest.approx(13.2)


def test_error_budget_values():
    b = M.error_budget(np.array([True] * 9990 + [False] * 5), 0.999)
    assert b.allowed_bad == pytest.approx(9.995)
    assert b.consumed == pytest.approx(5 / 9.995)
    assert b.remaining == pytest.approx(1 - 5 / 9.995)


def test_workbook_table_budget_shares():
    shares = [round(w.budget_share(), 4) for w in M.WORKBOOK_BURN_WINDOWS]
    assert shares == [0.02, 0.05, 0.1]


def test_multiwindow_fires_only_when_both_windows_burn():
    obj = 0.999
    t = np.arange(0, 3600, 1.0)  # one request per second for an hour
    good = np.ones_like(t, dtype=bool)
    good[-300:] = False  # the last 5 minutes all failing: short burns at 1000, long at 83
    rows = M.evaluate_burn_windows(t, good, at=3599.0, objective=obj)
    assert rows[0].firing and rows[0].short_burn == pytest.approx(1000)
    good2 = np.ones_like(t, dtype=bool)
    good2[:600] = False  # failures long ago: the long window burns, the short window is clean
    rows2 = M.evaluate_burn_windows(t, good2, at=3599.0, objective=obj)
    assert rows2[0].long_burn > 14.4 and not rows2[0].firing


def test_time_scale_shrinks_windows():
    t = np.arange(0, 60, 0.1)
    good = t < 55
    rows = M.evaluate_burn_windows(t, good, at=59.95, objective=0.999, time_scale=60)
    # 1h/5m at scale 60 is 60 s / 5 s; the last 5 s all failing.
    assert rows[0].short_burn == pytest.approx(1000)


@pytest.mark.parametrize("remaining, betting, petforce", [
    (1.0, "ship", "ship_fast"), (0.81, "ship", "ship_fast"), (0.8, "ship", "balanced"),
    (0.51, "ship", "balanced"), (0.5, "slow_down", "balanced"), (0.49, "slow_down", "reliability"),
    (0.25, "slow_down", "reliability"), (0.24, "freeze", "reliability"), (0.01, "freeze", "reliability"),
    (0.0, "emergency", "freeze"), (-3.0, "emergency", "freeze"),
])
def test_policy_tiers_from_the_seeds(remaining, betting, petforce):
    assert M.policy_tier(remaining, M.BETTING_POLICY).name == betting
    assert M.policy_tier(remaining, M.PETFORCE_POLICY).name == petforce


@given(goods, objectives)
def test_budget_against_a_count_of_the_bad_events(g, obj):
    # Oracle: count by hand, allowance from the objective; consumed is their ratio, and the budget is spent
    # exactly when the availability falls under the objective.
    b = M.error_budget(np.array(g), obj)
    bad = sum(1 for x in g if not x)
    assert b.bad == bad and b.total == len(g)
    assert b.consumed == pytest.approx(bad / ((1 - obj) * len(g)))
    assert (b.remaining < 0) == (bad / len(g) > (1 - obj) + 1e-12) or b.remaining == pytest.approx(0.0)
    assert b.consumed >= 0


@given(st.integers(min_value=1, max_value=10**6), objectives, st.floats(min_value=0.0, max_value=1.0))
def test_burn_rate_is_how_many_budgets_the_error_ratio_would_spend_over_a_window(total, obj, ratio):
    bad = ratio * total
    burn = M.burn_rate(bad, total, obj)
    assert burn == pytest.approx(ratio / (1 - obj))
    # At that burn, one window's worth of time spends `burn` budgets; 1/burn of the window spends one.
    assert M.budget_consumed_by(burn, M.THIRTY_DAYS_S) == pytest.approx(burn)
    if burn > 1e-9:  # (a subnormal burn would take longer than a float can say)
        assert M.budget_consumed_by(burn, M.THIRTY_DAYS_S / burn) == pytest.approx(1.0)


@given(goods, objectives)
def test_burn_rate_equals_budget_consumed_over_the_whole_window(g, obj):
    arr = np.array(g)
    t = np.arange(arr.size, dtype=float)
    burn = M.burn_rate_over(t, arr, at=t[-1], window_s=arr.size + 1.0, objective=obj)
    assert burn == pytest.approx(M.error_budget(arr, obj).consumed)


@given(goods)
def test_sli_in_unit_interval(g):
    assert 0.0 <= M.availability(np.array(g)) <= 1.0


@given(latencies, st.floats(min_value=0, max_value=100))
def test_latency_sli_in_unit_interval(lat, thr):
    assert 0.0 <= M.latency_sli(np.array(lat), thr) <= 1.0


@given(latencies, st.floats(min_value=0.01, max_value=1.0), st.floats(min_value=0.01, max_value=1.0))
def test_percentiles_are_monotone_and_observed(lat, q1, q2):
    arr = np.array(lat)
    lo, hi = sorted((q1, q2))
    assert M.percentile(arr, lo) <= M.percentile(arr, hi)
    assert M.percentile(arr, hi) in arr


@given(latencies, st.floats(min_value=0.01, max_value=1.0))
def test_percentile_and_latency_sli_agree(lat, q):
    arr = np.array(lat)
    assert M.latency_sli(arr, M.percentile(arr, q)) >= q - 1e-9


def test_bad_objective_rejected():
    with pytest.raises(ValueError):
        M.error_budget(np.array([True]), 1.0)
