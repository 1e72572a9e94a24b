import pytest

from harness.core.context import ValidationContext
from harness.core.errors import ValidationError
from harness.core.model import parse_scenario
from harness.scenario.validate import ScenarioInvalid, validate_scenarios

GOOD = """\
name: redis-down
description: Redis is killed; RedisDown must page.
duration: 20m
load:
  profile: constant_rate
  rate: 20
faults:
  - id: kill
    kind: crash
    target: redis
    start: 5m
    duration: 10m
expect:
  - fires: RedisDown
    within: 3m
  - silent: [PostgreSQLDown, ErrorRateHigh]
  - notified: RedisDown
    receivers: [pagerduty-critical]
    not_receivers: [slack-warnings]
    within: 3m
"""

CTX = ValidationContext(
    alerts=frozenset({"RedisDown", "PostgreSQLDown", "ErrorRateHigh", "CacheHitRateLow"}),
    receivers=frozenset({"pagerduty-critical", "slack-warnings", "slack-critical", "default"}),
)


def test_parse_good():
    scn = parse_scenario(GOOD, file="s.yaml")
    assert scn.name == "redis-down"
    assert scn.duration == 1200
    assert scn.faults[0].start == 300 and scn.faults[0].end == 900
    assert [e.kind for e in scn.expectations] == ["fires", "silent", "silent", "notified"]
    assert scn.expectations[0].params["within"] == 180
    validate_scenarios([scn], CTX)


def _errors(text: str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as info:
        validate_scenarios([parse_scenario(text, file="s.yaml")], CTX)
    return [str(e) for e in info.value.errors]


def test_unknown_alert_names_file_line_field():
    errs = _errors(GOOD.replace("fires: RedisDown", "fires: RedisDwn"))
    assert errs == [e for e in errs if e.startswith("s.yaml:14: fires: alert 'RedisDwn'")]
    assert "did you mean RedisDown" in errs[0]


def test_unknown_target_and_receiver():
    errs = _errors(GOOD.replace("target: redis", "target: redis2").replace("[slack-warnings]", "[slack-warn]"))
    assert any("s.yaml:10: faults[0].target: unknown service 'redis2'" in e for e in errs)
    assert any("s.yaml:19: notified.not_receivers: receiver 'slack-warn'" in e for e in errs)


def test_bad_duration_names_line():
    with pytest.raises(ValidationError) as info:
        parse_scenario(GOOD.replace("start: 5m", "start: 5 minutes"), file="s.yaml")
    assert str(info.value).startswith("s.yaml:11: faults[0].start: not a duration")


def test_fault_past_end_and_conflict():
    text = GOOD.replace("duration: 10m\n", "duration: 10m\n  - kind: freeze\n    target: redis\n"
                        "    start: 6m\n    duration: 20m\n")
    errs = _errors(text)
    assert any("faults[1]: ends at 1560s, after the scenario's duration 1200s" in e for e in errs)
    assert any("faults[1]: overlaps faults[0] (crash) on the same target 'redis'" in e for e in errs)


def test_unknown_field_and_syntax():
    with pytest.raises(ValidationError, match=r"s.yaml:3: bogus: unknown field"):
        parse_scenario("name: x\nduration: 1m\nbogus: 1\n", file="s.yaml")
    with pytest.raises(ValidationError, match=r"s.yaml:2: \(syntax\)"):
        parse_scenario("name: x\n  duration: [1m\n", file="s.yaml")


def test_fault_param_checked():
    errs = _errors(GOOD.replace("kind: crash", "kind: toxic").replace("target: redis", "target: redis\n"
                                "    params: {type: latency, latency: fast}"))
    assert any("s.yaml:11: faults[0].params.latency: expected int, got 'fast'" in e for e in errs)
    errs = _errors(GOOD.replace("kind: crash", "kind: hold_connections")
                   .replace("target: redis", "params: {fraction: 2}"))
    assert any("faults[0].params.fraction: must be in (0, 1], got 2" in e for e in errs)
    errs = _errors(GOOD.replace("kind: crash", "kind: crsh"))
    assert any("s.yaml:9: faults[0].kind: unknown fault kind 'crsh'" in e for e in errs)


def test_missing_duration():
    with pytest.raises(ValidationError, match="duration: missing"):
        parse_scenario("name: x\n", file="s.yaml")


CALIBRATED = """\
name: calibrated
duration: 20m
faults:
  - {id: a, kind: error_ratio, start: 1m, duration: 10m, params: {ratio: 0.02}}
  - {id: b, kind: cache_hit_ratio, start: 1m, duration: 10m, params: {ratio: 0.6}}
  - {id: c, kind: error_ratio, start: 5m, duration: 10m, params: {ratio: 0.5, endpoint: /api/bets}}
  - {id: d, kind: query_latency, start: 1m, duration: 2m, params: {query: query7, latency_ms: 5}}
expect:
  - silent: ErrorRateHigh
"""


def test_calibrated_faults_two_of_one_kind_at_once_and_a_bad_parameter():
    errs = _errors(CALIBRATED)
    assert any(e.startswith("s.yaml:6: faults[2]: overlaps faults[0]: two error_ratio faults at once") for e in errs)
    assert not any("faults[1]" in e for e in errs)  # different kinds inside the API may overlap
    assert any(e.startswith("s.yaml:7: faults[3].params.query: must be one of query1") for e in errs)
