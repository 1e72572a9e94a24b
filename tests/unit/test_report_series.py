"""Per-second ground-truth bins: counts, error ratio and nearest-rank percentiles."""

import numpy as np
import pytest

from harness.report.series import bin_records

MONO = 500.0


def records(t, lat, status=None, error=None):
    t = np.asarray(t, dtype=float) + MONO
    lat = np.asarray(lat, dtype=float)
    n = t.size
    return {"intended": t, "start": t, "end": t + lat,
            "status": np.asarray(status if status is not None else [200] * n),
            "error": np.asarray(error if error is not None else [""] * n),
            "endpoint": np.asarray(["/x"] * n), "method": np.asarray(["GET"] * n), "bytes": np.zeros(n, int)}


def test_counts_and_error_ratio_per_second():
    rec = records([10.1, 10.5, 10.9, 11.2, 13.0], [0.01] * 5, status=[200, 500, 0, 200, 200],
                  error=["", "", "refused", "", ""])
    s = bin_records(rec, MONO, start=10.0, end=14.0)
    assert s.t.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert s.rps.tolist() == [3.0, 1.0, 0.0, 1.0]
    assert s.error_ratio[0] == pytest.approx(2 / 3)
    assert s.error_ratio[1] == 0.0
    assert np.isnan(s.error_ratio[2])
    assert (s.total, s.errors) == (5, 2)


def test_nearest_rank_percentiles():
    lat = np.arange(1, 101) / 1000.0          # 1..100 ms in one second
    s = bin_records(records(np.linspace(5.0, 5.99, 100), lat), MONO, start=5.0, end=6.0)
    assert s.p95[0] == pytest.approx(0.095)
    assert s.p99[0] == pytest.approx(0.099)


def test_latency_counts_from_intended_start():
    rec = records([1.0], [0.01])
    rec["start"] = rec["start"] + 0.5         # the generator started it late: the user waited longer
    rec["end"] = rec["end"] + 0.5
    s = bin_records(rec, MONO, start=0.0, end=3.0)
    assert s.p95[1] == pytest.approx(0.51)


def test_outside_window_and_empty():
    rec = records([1.0, 50.0], [0.01, 0.01])
    assert bin_records(rec, MONO, start=10.0, end=20.0).total == 0
    assert len(bin_records(records([], []), MONO)) == 0
