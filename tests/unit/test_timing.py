import math

from harness.scenario.catalog import AlertRule
from harness.scenario.timing import SCRAPE_S, RealTerms, Timing, choose_scale


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


# -- measured real terms and the scale a scenario runs at ------------------------------------------------
TERMS = RealTerms(exporter_s={"postgres_exporter_primary": 0.1, "redis_exporter": 0.02},
                  exporter_down_s={"postgres_primary": 1.0, "redis": 0.01, "frozen": math.inf},
                  restart_s={"postgres_primary": 2.0})


def test_scrape_timeout_is_never_below_what_the_exporters_need():
    assert TERMS.needed_scrape_timeout_s() == 0.25                     # healthy, with its margin
    assert TERMS.needed_scrape_timeout_s(["postgres_primary"]) == 1.5  # the exporter of a crashed Postgres
    # An exporter that never answers fails its scrape in production too: no timeout is owed it.
    assert TERMS.needed_scrape_timeout_s(["frozen"]) == 0.25


def test_scale_is_capped_by_the_slowest_exporter_of_what_the_scenario_takes_down():
    healthy = choose_scale(120, scenario_max=None, terms=TERMS, down=[], bounds=[])
    assert healthy.scale == math.floor(SCRAPE_S / 0.25) == 60 and "healthy" in healthy.limits[0]
    down = choose_scale(120, scenario_max=None, terms=TERMS, down=["postgres_primary"], bounds=[])
    assert down.scale == 10 and "postgres_primary down" in down.limits[0]


def test_scale_is_capped_by_the_option_the_scenario_and_the_real_share_of_each_bound():
    assert choose_scale(30, scenario_max=None, terms=TERMS, down=[], bounds=[]).scale == 30
    assert choose_scale(120, scenario_max=20, terms=TERMS, down=[], bounds=[]).scale == 20
    # 3 s of restart in a 150 s bound: at most half of it real -> 150 * 0.5 / 3 = 25
    choice = choose_scale(120, scenario_max=None, terms=TERMS, down=[], bounds=[("resolves X", 150.0, 3.0)])
    assert choice.scale == 25 and choice.limits[0].startswith("resolves X")
    assert choose_scale(120, scenario_max=None, terms=None, down=["postgres_primary"], bounds=[]).scale == 120


def test_a_scenario_that_cannot_be_meaningful_even_at_real_time_is_refused():
    slow = RealTerms(exporter_s={"e": 10.0})
    assert choose_scale(120, scenario_max=None, terms=slow, down=[], bounds=[]).refused


def test_bounds_add_the_measured_real_terms():
    t = Timing(60, terms=TERMS)
    assert t.fire_real_s(["postgres_primary"]) == 1.0 and t.fire_real_s() == 0.1
    assert t.resolve_real_s(["postgres_primary"]) == 2.1
