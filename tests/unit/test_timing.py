from harness.scenario.catalog import AlertRule
from harness.scenario.timing import Timing


def rule(expr="up == 0", for_s=60.0, interval=30.0):
    return AlertRule("A", expr, for_s, {}, "g", interval, "f")


def test_real_and_minimums():
    t = Timing(60)
    assert t.real(600) == 10
    assert t.min_fire(rule(for_s=300)) == 5
    assert t.min_notify(rule(for_s=300), group_wait_s=10) == 310 / 60
    # `for` is met at an evaluation: 100 s with 30 s evaluations fires at the 4th, 120 s after pending.
    assert t.min_fire(rule(for_s=100, interval=30)) == 2
    assert t.min_fire(rule(for_s=0)) == 0


def test_default_bounds_include_window_and_cadence():
    t = Timing(60)
    r = rule("rate(x[5m]) > 1", for_s=120, interval=30)
    assert r.max_window_s == 300
    # for + window + 2 scrapes + 6 evaluations
    assert t.default_fire_within(r) == 120 + 300 + 30 + 180
    assert t.default_resolve_within(r) == 300 + 30 + 120
    assert rule("avg_over_time(x[1h:5m]) > 1").max_window_s == 3600
