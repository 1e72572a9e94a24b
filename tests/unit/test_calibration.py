"""The checked-in event rates every scale is computed from: how they combine with a warm-up's measurement,
how a bad file is reported, and that they agree with the load profile they were measured under."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import harness
from harness.core.errors import HarnessError
from harness.core.resolution import EventRates, deviations, filled, limits, needs_of
from harness.stack.calibration import CALIBRATION, calibration_doc, load_calibration

BETS = ("http_requests_total", (("endpoint", "/api/bets"), ("method", "POST"), ("status", "201")))
ACTIVE = ("http_requests_total", (("endpoint", "/api/active-bets"), ("method", "GET"), ("status", "200")))
ERROR_RATE = """sum by (endpoint) (rate(http_requests_total{status=~"5.."}[5m]))
/ sum by (endpoint) (rate(http_requests_total[5m])) > 0.01"""


def test_the_calibration_decides_the_scale_whatever_the_warm_up_measured() -> None:
    calibrated = EventRates({BETS: 0.24, ACTIVE: 0.6})
    # Two warm-ups of the same code, the /api/bets share measured at 22.4% and at 26.5% (seen, stop 20).
    low, high = EventRates({BETS: 0.224, ACTIVE: 0.6}), EventRates({BETS: 0.265, ACTIVE: 0.6})
    need = needs_of("ErrorRateHigh", ERROR_RATE)
    assert limits(need, filled(calibrated, low), 60) == limits(need, filled(calibrated, high), 60)
    assert limits(need, low, 60) != limits(need, high, 60)


def test_a_series_the_calibration_lacks_takes_its_measured_share() -> None:
    extra = ("cache_requests_total", (("cache_name", "x"), ("result", "hit")))
    got = filled(EventRates({BETS: 0.24}), EventRates({BETS: 0.3, extra: 0.5})).per_request
    assert got == {BETS: 0.24, extra: 0.5}


def test_sampling_noise_is_no_deviation_and_a_changed_api_is() -> None:
    calibrated = EventRates({BETS: 0.24, ACTIVE: 0.6})
    assert deviations(calibrated, EventRates({BETS: 0.224, ACTIVE: 0.62}), requests=750) == []
    off = deviations(calibrated, EventRates({BETS: 0.10, ACTIVE: 0.6}), requests=750)
    assert len(off) == 1 and "/api/bets" in off[0] and "75 events over 750 requests, 180 calibrated" in off[0]
    # A series the stack no longer counts at all deviates too.
    assert len(deviations(calibrated, EventRates({ACTIVE: 0.6}), requests=750)) == 1


def test_a_written_calibration_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    rates = EventRates({BETS: 0.24, ACTIVE: 0.6})
    path.write_text(json.dumps(calibration_doc(rates, requests=7000, seconds=240, load_rate=30)))
    assert load_calibration(path).per_request == rates.per_request


@pytest.mark.parametrize("text, says", [
    ("{", "cannot read"),
    ('{"per_request": []}', "no per_request rows"),
    ('{"per_request": [{"metric": "m", "labels": {}}]}', "per_request[0] needs metric, labels"),
    ('{"per_request": [{"metric": "m", "labels": [], "per_request": 1}]}', "per_request[0]"),
])
def test_a_bad_calibration_names_the_file_and_the_field(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "rates.json"
    path.write_text(text)
    with pytest.raises(HarnessError) as err:
        load_calibration(path)
    assert str(path) in str(err.value) and says in str(err.value)
    assert "python -m harness.stack.measure" in str(err.value)


def _endpoint_weights() -> dict[str, int]:
    """The load profile's task weights per endpoint, read from the locustfile's source (importing it would
    monkey-patch this process with gevent)."""
    source = Path(harness.__file__).parent / "load" / "betting.py"
    cls = next(n for n in ast.parse(source.read_text()).body
               if isinstance(n, ast.ClassDef) and n.name == "BettingUser")
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}

    def names(fn: ast.FunctionDef) -> set[str]:
        out: set[str] = set()
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            out |= {str(k.value.value) for k in call.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)}
            f = call.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" \
                    and f.attr in methods:
                out |= names(methods[f.attr])
        return out

    weights: dict[str, int] = {}
    for fn in methods.values():
        for dec in fn.decorator_list:
            if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "task":
                (endpoint,) = names(fn)
                weight = dec.args[0]
                assert isinstance(weight, ast.Constant)
                weights[endpoint] = weights.get(endpoint, 0) + int(weight.value)
    return weights


def test_the_checked_in_calibration_matches_the_load_profiles_task_weights() -> None:
    weights = _endpoint_weights()
    assert weights["/api/bets"] == 24 and sum(weights.values()) == 100
    calibrated = load_calibration(CALIBRATION).per_request
    share: dict[str, float] = {}
    for (metric, labels), v in calibrated.items():
        if metric == "http_requests_total":
            endpoint = dict(labels)["endpoint"]
            share[endpoint] = share.get(endpoint, 0.0) + v
    for endpoint, weight in weights.items():
        # Thousands of requests: each endpoint's share within 2.5 points of its weight (several standard
        # deviations of the sampling); a task added or reweighted without recalibrating is not.
        assert share.get(endpoint, 0.0) == pytest.approx(weight / sum(weights.values()), abs=0.025), endpoint
    assert set(share) - set(weights) <= {"/api/meta"}


def test_the_calibration_runs_at_the_scale_a_suites_warm_up_does() -> None:
    from harness.scenario.run import START_SCALE
    from harness.stack.measure import CALIBRATION_SCALE, WARM_UP_RATE

    doc = json.loads(CALIBRATION.read_text())
    assert CALIBRATION_SCALE == START_SCALE and doc["load_rate"] == WARM_UP_RATE
