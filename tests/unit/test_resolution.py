"""Event needs of a rule's windows: what they are, what a load rate gives them, and how verdicts use them."""

import pytest

from harness.core import verdict as V
from harness.core.resolution import (
    AFFORDABLE_SCALE,
    PLAN_MARGIN,
    STALL_S,
    EventRates,
    limits,
    needs_of,
    rates_from_counts,
    relevant,
    stall_limit,
    unresolved,
)
from harness.core.timeline import ALERT_STATE, Event
from harness.core.timing import choose_scale

QUERY_LATENCY = """
(histogram_quantile(0.95, sum by (le, query_name) (rate(query_duration_seconds_bucket{query_name="query1"}[5m])))
  > 0.005)
or
(histogram_quantile(0.95,
  sum by (le, query_name) (rate(query_duration_seconds_bucket{query_name=~"query2|query3"}[5m])))
  > 0.01)
"""
ERROR_RATE = """sum by (endpoint) (rate(http_requests_total{status=~"5.."}[5m]))
/ sum by (endpoint) (rate(http_requests_total[5m])) > 0.01"""
AVAILABILITY = """(sum(rate(http_requests_total{status!~"5.."}[1h])) / sum(rate(http_requests_total[1h]))) < 0.999"""


def test_a_quantile_needs_three_samples_beyond_it_per_group_of_its_aggregation():
    q1, q23 = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    assert (q1.metric, q1.group_by, q1.window_s, q1.needed) == ("query_duration_seconds_count", ("query_name",),
                                                                300.0, 60)
    assert q1.matchers == (("query_name", "=", "query1"),)
    assert q1.what == "p95 > 0.005"
    assert q23.matchers == (("query_name", "=~", "query2|query3"),)
    assert q1.identity((("query_name", "query1"),)) == {"query_name": "query1"}


def test_a_ratio_needs_three_events_beyond_its_threshold_in_its_denominator():
    (err,) = needs_of("ErrorRateHigh", ERROR_RATE)
    assert (err.metric, err.matchers, err.group_by, err.needed) == ("http_requests_total", (), ("endpoint",), 300)
    (avail,) = needs_of("AvailabilitySLOBreach", AVAILABILITY)
    # 99.9%: one request in a thousand is the threshold, three thousand requests resolve it.
    assert (avail.group_by, avail.window_s, avail.needed) == ((), 3600.0, 3000)


@pytest.mark.parametrize("expr", [
    "pg_up == 0 or up{job=\"postgres\"} == 0",                                   # gauges: no events
    "redis_memory_used_bytes / redis_memory_max_bytes > 0.9",                   # a ratio of gauges
    "time() - backup_last_success_timestamp > 90000",
    "rate(http_requests_total[5m]) > 5",                                        # not a ratio, not a quantile
    "this is not promql",
])
def test_rules_that_read_no_counted_events_have_no_need(expr):
    assert needs_of("A", expr) == []


def test_an_expectations_labels_select_the_branch_they_name():
    needs = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    assert [n.matchers for n in relevant(needs, {"query_name": "query2"})] == [
        (("query_name", "=~", "query2|query3"),)]
    assert len(relevant(needs, None)) == 2
    assert relevant(needs, {"query_name": "place_bet"}) == []


def rates() -> EventRates:
    before = {("query_duration_seconds_count", (("query_name", "query1"),)): 10.0,
              ("query_duration_seconds_count", (("query_name", "query2"),)): 100.0,
              ("http_requests_total", (("endpoint", "/a"), ("status", "200"))): 1000.0}
    after = {("query_duration_seconds_count", (("query_name", "query1"),)): 16.0,         # 6 in 900 requests
             ("query_duration_seconds_count", (("query_name", "query2"),)): 172.0,        # 72
             ("http_requests_total", (("endpoint", "/a"), ("status", "200"))): 1900.0}
    return rates_from_counts(before, after, 900)


def test_a_load_rate_gives_each_group_its_events_and_a_scale_that_keeps_them():
    q1, q23 = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    assert rates().per_group(q23, 30.0) == {(("query_name", "query2"),): pytest.approx(72 / 900 * 30)}
    got = dict((text.split(":")[0], lim) for lim, text in limits([q1, q23], rates(), 30.0))
    # query1: 0.2/s x 300 s = 60 events at real time, 60 needed (x the planning margin)
    assert got["QueryLatencyHigh{query_name=query1} (p95 > 0.005 over 300 s of query_duration_seconds_count)"] \
        == pytest.approx(60 / (60 * PLAN_MARGIN))
    assert got["QueryLatencyHigh{query_name=query2} (p95 > 0.01 over 300 s of query_duration_seconds_count)"] \
        == pytest.approx(2.4 * 300 / (60 * PLAN_MARGIN))


def test_a_need_binds_the_scale_only_where_an_affordable_scale_meets_it():
    events = [(12.0, "query2 window"), (0.7, "query1 window")]
    choice = choose_scale(60, scenario_max=None, terms=None, down=(), bounds=(), events=events)
    assert choice.scale == 12
    assert choice.limits[0].startswith("query2 window allows 12.0")
    assert choice.under_resolved == (f"query1 window allows 0.7, below {AFFORDABLE_SCALE:g}",)
    sparse = choose_scale(60, scenario_max=None, terms=None, down=(), bounds=(), events=[(3.0, "w")])
    assert sparse.scale == 60 and sparse.under_resolved == (f"w allows 3.0, below {AFFORDABLE_SCALE:g}",)
    # A scale brought down by another limit (here the cap) meets the sparse need: nothing left unresolved.
    low = choose_scale(2, scenario_max=None, terms=None, down=(), bounds=(), events=[(3.0, "w")])
    assert low.scale == 2 and low.under_resolved == ()


def test_groups_whose_windows_held_too_few_events_are_named():
    q1, _ = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    held = {(("query_name", "query1"),): 6.0}
    assert unresolved(q1, held) == {(("query_name", "query1"),): (
        "QueryLatencyHigh{query_name=query1} (p95 > 0.005 over 300 s of query_duration_seconds_count): its "
        "window held 6 events, 60 needed")}
    assert unresolved(q1, {(("query_name", "query1"),): 60.0}) == {}


def test_the_count_query_compresses_the_window_and_keeps_the_selector():
    q1, _ = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    assert q1.count_expr(30.0) == ('sum by (query_name) (increase(query_duration_seconds_count{query_name="query1"}'
                                   '[30000ms]))')
    (avail,) = needs_of("AvailabilitySLOBreach", AVAILABILITY)
    assert avail.count_expr(0.5) == "sum (increase(http_requests_total{}[500ms]))"


def firing(t0: float, t1: float, **labels: str) -> list[Event]:
    lab = {"alertname": "QueryLatencyHigh", **labels}
    return [Event(t0, ALERT_STATE, "QueryLatencyHigh", {"state": "firing", "labels": lab}),
            Event(t1, ALERT_STATE, "QueryLatencyHigh", {"state": "inactive", "labels": lab})]


def test_firing_on_a_window_too_sparse_to_judge_is_reported_not_failed():
    events = firing(10, 20, query_name="query1")
    why = "query1: its window held 6 events, 60 needed"
    v = V.stays_silent(events, "QueryLatencyHigh", start=0, end=100, unjudged=[({"query_name": "query1"}, why)])
    assert v.ok and "fired where not judged" in v.observed and why in v.observed
    # A resolved series of the same alert still fails the check.
    both = events + firing(30, 40, query_name="query2")
    v = V.stays_silent(both, "QueryLatencyHigh", start=0, end=100, unjudged=[({"query_name": "query1"}, why)])
    assert not v.ok and "firing from t=30.00s" in v.observed
    assert not V.stays_silent(events, "QueryLatencyHigh", start=0, end=100).ok


def test_a_quantiles_window_outlasts_a_pause_of_the_machine_whatever_the_rate():
    q1, _ = needs_of("QueryLatencyHigh", QUERY_LATENCY)
    assert q1.tail == pytest.approx(0.05)
    # a 5m p95 window must last 2 * STALL_S / 5% = 20 s: scale 15, at any load rate
    for rate in (30.0, 3000.0):
        pauses = [lim for lim, text in limits([q1], rates(), rate) if text.startswith("a 0.5 s pause")]
        assert pauses == [pytest.approx(300 / (2 * STALL_S / 0.05))] and STALL_S == 0.5
    (p99,) = needs_of("Slow", "histogram_quantile(0.99, rate(x_bucket[5m])) > 1")
    assert stall_limit(p99)[0] == pytest.approx(3.0)
    # a ratio has no such limit: a pause delays requests, it does not fail them
    (ratio,) = needs_of("Errors", 'sum(rate(http_requests_total{status="500"}[5m])) / '
                                  'sum(rate(http_requests_total[5m])) > 0.01')
    assert ratio.tail == 0 and not [t for _, t in limits([ratio], rates(), 30.0) if "pause" in t]
