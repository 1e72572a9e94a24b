import math

import numpy as np
import pytest

from harness.core.clock import RunClock
from harness.load.records import RequestRecords
from harness.observe.prometheus import PrometheusClient, Sample
from harness.slo.compare import compare_window, histogram_share_le, ratio_bound, uncertain_events


def _records(end, status, error=None, endpoint="/api/x", service=0.01):
    end = np.asarray(end, dtype=float)
    n = end.size
    return RequestRecords(intended=end - service, start=end - service, end=end,
                          endpoint=np.array([endpoint] * n), method=np.array(["GET"] * n),
                          status=np.asarray(status, dtype=np.int32),
                          error=np.array(error if error is not None else [""] * n),
                          bytes=np.zeros(n, dtype=np.int64))


def test_histogram_share_exact_on_a_bucket_bound():
    buckets = {0.005: 10, 0.01: 50, 0.025: 90, math.inf: 100}
    assert histogram_share_le(buckets, 0.01) == (0.5, None)


def test_histogram_share_interpolates_inside_a_bucket():
    buckets = {0.01: 50, 0.03: 90, math.inf: 100}
    share, bucket = histogram_share_le(buckets, 0.02)
    assert bucket == (0.01, 0.03) and share == pytest.approx(0.7)


def test_ratio_bound():
    assert ratio_bound(0, 100) == 0
    assert ratio_bound(10, 110) == pytest.approx(0.1)
    assert ratio_bound(5, 5) == 1.0


def test_uncertain_events_counts_edges_extrapolation_and_new_series():
    end = np.arange(0.5, 100.5, 1.0)  # one per second, all 200, series seen before the window
    rec = _records(end, [200] * 100)
    # window (10, 50], scrape 5 s: 5 at each edge, no new series; extrapolation ceil(40 * 10/40) = 10
    assert uncertain_events(rec, 10.0, 50.0, 5.0) == 5 + 5
    assert uncertain_events(rec, 10.0, 50.0, 5.0, extrapolation=True) == 5 + 5 + 10
    status = [200] * 100
    status[30] = 500  # a 5xx series first seen inside the window: its first scrape hides it
    rec2 = _records(end, status)
    assert uncertain_events(rec2, 10.0, 50.0, 5.0) == 5 + 5 + 1


class FakeProm(PrometheusClient):
    def __init__(self, answers):
        super().__init__("http://prom.invalid")
        self.answers = answers
        self.asked = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        for key, value in self.answers.items():
            if key in expr:
                return value(at) if callable(value) else value
        return []


def test_compare_flags_a_recording_rule_outside_its_bound_and_a_non_bucket_threshold():
    clock = RunClock(mono_start=1000.0, wall_start=5000.0)
    end = 1000.0 + np.arange(0.05, 60.0, 0.1)  # 10 rps for 60 s
    status = np.where(np.arange(end.size) % 100 == 0, 500, 200)  # 1% errors
    rec = _records(end, status, service=0.004)
    truth = 0.99
    prom = FakeProm({
        "timestamp(slo:api:availability:ratio)": [Sample({}, 5000.0 + 59.0, 0)],
        "slo:api:availability:ratio": [Sample({}, 0.90, 0)],  # far from 0.99: a broken rule
        "sum by (le)": [Sample({"le": "0.0025"}, 0, 0), Sample({"le": "0.005"}, 600, 0),
                        Sample({"le": "+Inf"}, 600, 0)],
        'status!~"5.."': [Sample({}, truth, 0)],
        "sum(increase(http_requests_total[": [Sample({}, 590.0, 0)],
    })
    rep = compare_window(rec, prom, clock, 0.0, 60.0, scrape_interval_s=1.0, latency_thresholds_s=(0.003, 0.005),
                         recording_rules={"slo:api:availability:ratio": ("availability", None, 30.0)})
    rows = {r.name: r for r in rep.rows}
    assert rows["availability (raw counters)"].within
    assert rows["availability (raw counters)"].truth == pytest.approx(0.99)
    assert rows["latency <= 5 ms (histogram)"].truth == 1.0 and rows["latency <= 5 ms (histogram)"].within
    assert any("3 ms is not a histogram bucket bound" in f for f in rep.flags)
    assert not rows["recording rule slo:api:availability:ratio"].within
    assert any("slo:api:availability:ratio" in f and "outside its bound" in f for f in rep.flags)
    assert "FLAG" in rep.render()


def test_client_side_counts_requests_the_server_never_saw():
    clock = RunClock(mono_start=0.0, wall_start=0.0)
    end = np.arange(0.5, 20.5, 1.0)
    status = np.array([200] * 15 + [0] * 5)
    error = [""] * 15 + ["refused"] * 3 + ["timeout"] * 2
    rec = _records(end, status, error)
    prom = FakeProm({'status!~"5.."': [Sample({}, 1.0, 0)],
                     "sum(increase(http_requests_total[": [Sample({}, 15.0, 0)]})
    rep = compare_window(rec, prom, clock, 0.0, 20.0, scrape_interval_s=1.0)
    cs = rep.client_server
    assert cs is not None
    assert cs.client_requests == 20 and cs.responses == 15
    assert cs.transport_errors["refused"] == 3 and cs.transport_errors["timeout"] == 2
    assert cs.client_availability == pytest.approx(0.75) and cs.server_availability == 1.0
    assert cs.unseen_by_server == 5


def test_rule_returning_several_series_is_flagged():
    clock = RunClock(mono_start=0.0, wall_start=0.0)
    rec = _records(np.arange(0.5, 10.5, 1.0), [200] * 10)
    prom = FakeProm({"timestamp(slo:api:latency:ratio)": [Sample({}, 9.0, 0), Sample({}, 9.0, 0)],
                     "slo:api:latency:ratio": [Sample({"endpoint": "a"}, 0.01, 0), Sample({"endpoint": "b"}, 0.2, 0)]})
    rep = compare_window(rec, prom, clock, 0.0, 10.0, scrape_interval_s=1.0,
                         recording_rules={"slo:api:latency:ratio": ("latency", 0.5, 5.0)})
    assert any("returned 2 series" in f for f in rep.flags)
    # An SLI is one share: several per-series values are no SLI at all, so the comparison fails, listing them.
    (row,) = [r for r in rep.rows if r.name == "recording rule slo:api:latency:ratio"]
    assert row.truth == 1.0 and math.isnan(row.prometheus) and not row.within
    assert '{endpoint="a"} = 0.01' in row.note and '{endpoint="b"} = 0.2' in row.note


def test_a_rule_returning_nothing_is_flagged_not_compared():
    clock = RunClock(mono_start=0.0, wall_start=0.0)
    rec = _records(np.arange(0.5, 10.5, 1.0), [200] * 10)
    rep = compare_window(rec, FakeProm({}), clock, 0.0, 10.0, scrape_interval_s=1.0,
                         recording_rules={"slo:api:latency:ratio": ("latency", 0.5, 5.0)})
    assert any("returned no series" in f for f in rep.flags)
    assert not [r for r in rep.rows if r.name.startswith("recording rule")]


def test_recording_rules_outside_their_bound_are_failed_verdicts():
    from harness.core.result import FAIL, PASS
    from harness.scenario.slo_check import record_verdicts

    rows = [{"sli": "availability (raw counters)", "ground_truth": 1.0, "prometheus": 1.0, "difference": 0.0,
             "bound": 0.01, "within_bound": True},
            {"sli": "recording rule slo:a", "ground_truth": 0.99, "prometheus": 0.995, "difference": 0.005,
             "bound": 0.01, "within_bound": True, "query": "slo:a", "note": "n"},
            {"sli": "recording rule slo:b", "ground_truth": 0.99, "prometheus": 0.5, "difference": -0.49,
             "bound": 0.01, "within_bound": False, "query": "slo:b", "note": "n"}]
    out = record_verdicts(rows, 0.0, 10.0)
    assert [(v.check, v.subject, v.status) for v in out] == [("record", "slo:a", PASS), ("record", "slo:b", FAIL)]
    assert "-0.49000" in out[1].observed and out[1].evidence["promql"] == "slo:b"
