"""Rule coverage: fired, expected-but-missed, checked silent, never exercised; receivers and routes."""

from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.core.timeline import ALERT_STATE, NOTIFICATION, Event
from harness.report.coverage import compute_coverage

PACK = ["A", "B", "C", "D", "E"]


def scenario(name, started, ended, verdicts):
    return ScenarioResult(name=name, file=f"{name}.yaml", started=started, ended=ended, time_scale=60,
                          verdicts=verdicts)


def test_classes_are_exclusive_and_ranked():
    s1 = scenario("one", 0, 100, [Verdict("fires", "A", PASS, "", ""), Verdict("silent", "C", PASS, "", "")])
    s2 = scenario("two", 100, 200, [Verdict("fires", "B", FAIL, "", ""), Verdict("silent", "A", FAIL, "", "")])
    events = [Event(10, ALERT_STATE, "A", {"state": "firing"})]
    cov = compute_coverage(PACK, [s1, s2], events)
    assert cov.firing == ("A",)
    assert cov.missed == ("B",)
    assert cov.silent == ("C",)
    assert cov.never == ("D", "E")


def test_star_silent_covers_alerts_that_did_not_fire_in_that_scenario():
    s1 = scenario("one", 0, 100, [Verdict("silent", "*", PASS, "", "")])
    events = [Event(50, ALERT_STATE, "A", {"state": "firing"}), Event(150, ALERT_STATE, "E", {"state": "firing"})]
    cov = compute_coverage(PACK, [s1], events)
    assert cov.firing == ("A", "E")
    assert cov.silent == ("B", "C", "D")
    assert cov.never == ()


def test_an_alert_that_fired_and_passed_a_near_miss_is_exercised_both_ways():
    fires = scenario("fires", 0, 100, [Verdict("fires", "A", PASS, "", "")])
    near = scenario("near", 100, 200, [Verdict("silent", "A", PASS, "", ""), Verdict("silent", "B", PASS, "", "")])
    cov = compute_coverage(PACK, [fires, near], [Event(50, ALERT_STATE, "A", {"state": "firing"})])
    assert cov.firing == ("A",) and cov.both_ways == ("A",)
    assert cov.silent == ("B",)


def test_alert_outside_the_pack_is_reported_not_dropped():
    cov = compute_coverage(["A"], [], [Event(1, ALERT_STATE, "Watchdog", {"state": "firing"})])
    assert cov.unknown_fired == ("Watchdog",)
    assert compute_coverage([], [], [Event(1, ALERT_STATE, "X", {"state": "firing"})]).firing == ("X",)


def test_receivers_and_routes():
    events = [
        Event(5, NOTIFICATION, "db-team", {"alerts": [{"labels": {"alertname": "A"}}, {"alertname": "B"}]}),
        Event(6, NOTIFICATION, "pager", {"alerts": ["A"]}),
    ]
    cov = compute_coverage(PACK, [], events, receivers=["db-team", "pager", "slack"])
    assert cov.receivers_reached == ("db-team", "pager")
    assert cov.receivers_unreached == ("slack",)
    assert cov.routes == (("db-team", "A"), ("db-team", "B"), ("pager", "A"))
