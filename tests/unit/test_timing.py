import math

from harness.core.catalog import AlertRule
from harness.core.timing import RealTerms, Timing, choose_scale, job_intervals


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
    assert TERMS.scrape_floors() == {"postgres": 0.4, "redis": 0.08}       # healthy, with its margin
    assert TERMS.scrape_floors(["postgres_primary"])["postgres"] == 1.5    # the exporter of a crashed Postgres
    # An exporter that never answers fails its scrape in production too: no timeout is owed it.
    assert TERMS.scrape_floors(["frozen"]) == TERMS.scrape_floors()


def test_a_slow_job_is_scraped_less_often_instead_of_slowing_every_scenario():
    floors = TERMS.scrape_floors(["postgres_primary"])
    assert job_intervals(120, floors) == {"postgres": 1.5}                # 0.125 s would cut it short
    assert job_intervals(6, floors) == {}                                 # 2.5 s covers it
    assert choose_scale(120, scenario_max=None, terms=TERMS, down=["postgres_primary"], bounds=[]).scale == 120


def test_windows_over_a_slow_jobs_metrics_still_hold_four_of_its_scrapes():
    windows = [("PgRate", "pg_stat_database_xact_commit", 300.0), ("Api", "http_requests_total", 60.0)]
    choice = choose_scale(120, scenario_max=None, terms=TERMS, down=["postgres_primary"], bounds=[],
                          windows=windows)
    assert choice.scale == 50 and choice.limits[0].startswith("PgRate")  # 300 / (4 * 1.5)
    assert choose_scale(120, scenario_max=None, terms=TERMS, down=[], bounds=[], windows=windows).scale == 120


def test_scale_is_capped_by_the_option_the_scenario_and_the_real_share_of_each_bound():
    assert choose_scale(30, scenario_max=None, terms=TERMS, down=[], bounds=[]).scale == 30
    assert choose_scale(120, scenario_max=20, terms=TERMS, down=[], bounds=[]).scale == 20
    # 3 s of restart in a 150 s bound: at most half of it real -> 150 * 0.5 / 3 = 25
    choice = choose_scale(120, scenario_max=None, terms=TERMS, down=[], bounds=[("resolves X", 150.0, 3.0)])
    assert choice.scale == 25 and choice.limits[0].startswith("resolves X")
    assert choose_scale(120, scenario_max=None, terms=None, down=["postgres_primary"], bounds=[]).scale == 120


def test_a_scenario_that_cannot_be_meaningful_even_at_real_time_is_refused():
    slow = RealTerms(exporter_s={"node_exporter": 10.0})
    assert choose_scale(120, scenario_max=None, terms=slow, down=[], bounds=[],
                        windows=[("Disk", "node_filesystem_avail_bytes", 60.0)]).refused


def test_bounds_add_the_measured_real_terms():
    t = Timing(60, terms=TERMS)
    assert t.fire_real_s(["postgres_primary"]) == 1.5 and t.fire_real_s() == 0.4
    assert t.resolve_real_s(["postgres_primary"]) == 2.4


def test_the_api_is_scraped_no_more_than_production_would_cost_it():
    # The API renders /metrics on the event loop that times its queries: 50 ms every 2 s at most.
    terms = RealTerms(exporter_s={"api": 0.05})
    assert terms.scrape_floors() == {"api": 2.0}
    windows = [("ErrorRateHigh", "http_requests_total", 300.0)]
    assert choose_scale(120, scenario_max=None, terms=terms, down=[], bounds=[], windows=windows).scale == 37
