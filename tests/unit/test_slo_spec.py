from pathlib import Path

import pytest

from harness.core.errors import ValidationError
from harness.slo import math as M
from harness.slo.spec import load_slo_spec, parse_slo_spec

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
service: api
slos:
  - name: avail
    sli: availability
    objective: 99.9%
    window: 30d
  - name: fast
    sli: latency
    objective: 0.95
    threshold: 250ms
    window: 1h
    endpoints: ["GET /api/active-bets", "/api/bets"]
"""


def test_valid_spec_parses():
    spec = parse_slo_spec(GOOD, "x.yaml")
    assert spec.get("avail").objective == 0.999 and spec.get("avail").window_s == 30 * 86400
    fast = spec.get("fast")
    assert fast.threshold_s == 0.25 and fast.endpoints == ("GET /api/active-bets", "/api/bets")
    assert fast.line == 7


def test_shipped_seed_specs_load():
    betting = load_slo_spec(ROOT / "stack/slo/betting.yaml")
    assert betting.policy == M.BETTING_POLICY
    assert betting.get("active-bets-latency").threshold_s == 0.005
    assert betting.get("bet-placement-latency").endpoints == ("POST /api/bets",)
    assert betting.get("api-availability").good == "status_200"
    assert betting.get("transaction-success").objective == 0.9999
    petforce = load_slo_spec(ROOT / "stack/slo/petforce.yaml")
    assert petforce.policy == M.PETFORCE_POLICY
    assert petforce.get("api-latency").threshold_s == 0.5
    assert M.allowed_downtime_minutes(petforce.get("api-availability").objective,
                                      petforce.get("api-availability").window_s) == pytest.approx(43.2)


@pytest.mark.parametrize("old, new, line, field", [
    ("objective: 99.9%", "objective: 120%", 5, "slos[0] (avail).objective"),
    ("objective: 99.9%", "objective: lots", 5, "slos[0] (avail).objective"),
    ("window: 1h", "window: 1 hour", 11, "slos[1] (fast).window"),
    ("sli: latency", "sli: throughput", 8, "slos[1] (fast).sli"),
    ("    threshold: 250ms\n", "", 7, "slos[1] (fast).threshold"),
    ('"/api/bets"]', '"api/bets"]', 12, "slos[1] (fast).endpoints[1]"),
    ("    window: 30d\n", "    window: 30d\n    threshold: 1s\n", 7, "slos[0] (avail).threshold"),
    ("    window: 30d\n", "    window: 30d\n    colour: red\n", 7, "slos[0].colour"),
    ("name: fast", "name: avail", 7, "slos[1] (avail).name"),
    ("service: api", "service: api\nerror_budget_policy: lenient", 2, "error_budget_policy"),
])
def test_errors_name_file_line_and_field(old, new, line, field):
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(ValidationError) as info:
        parse_slo_spec(text, "slo.yaml")
    assert info.value.file == "slo.yaml"
    assert info.value.field == field
    assert info.value.line == line
    assert f"slo.yaml:{line}" in str(info.value)


def test_yaml_syntax_error_has_a_line():
    with pytest.raises(ValidationError) as info:
        parse_slo_spec("service: api\nslos: [\n", "broken.yaml")
    assert info.value.line is not None and info.value.file == "broken.yaml"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot read"):
        load_slo_spec(tmp_path / "none.yaml")


def test_empty_slos_rejected():
    with pytest.raises(ValidationError, match="non-empty list"):
        parse_slo_spec("service: api\nslos: []\n", "e.yaml")
