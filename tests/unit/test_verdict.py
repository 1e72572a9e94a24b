import numpy as np

from harness.core.result import FAIL, PASS
from harness.core.timeline import ALERT_STATE, AM_STATE, NOTIFICATION, Event
from harness.core.verdict import (
    alert_intervals,
    fires_within,
    inhibited,
    latency_budget,
    notified,
    resolves_within,
    stays_silent,
)

L = {"alertname": "RedisDown", "severity": "critical"}


def st(t, state, name="RedisDown", labels=L):
    return Event(t, ALERT_STATE, name, {"state": state, "labels": labels})


def note(t, receiver, alert="RedisDown", status="firing"):
    return Event(t, NOTIFICATION, receiver, {"status": status, "alerts": [{"labels": {"alertname": alert}}]})


LIFE = [st(11, "pending"), st(13, "firing"), st(30, "inactive")]


def test_intervals():
    ivs = alert_intervals(LIFE, "RedisDown")
    assert [(i.start, i.end) for i in ivs] == [(13, 30)]
    assert alert_intervals(LIFE, "RedisDown", {"severity": "warning"}) == []
    assert [(i.start, i.end) for i in alert_intervals([st(1, "firing"), st(2, "firing")], "RedisDown")] == [(1, None)]


def test_fires_within():
    v = fires_within(LIFE, "RedisDown", since=10, within=5, min_latency=2)
    assert v.status == PASS and v.latency == 3 and v.min_latency == 2
    assert fires_within(LIFE, "RedisDown", since=10, within=2).status == FAIL
    never = fires_within([st(11, "pending"), st(12, "inactive")], "RedisDown", since=10, within=5)
    assert never.status == FAIL and "pending" in never.observed
    early = fires_within([st(5, "firing")], "RedisDown", since=10, within=5)
    assert early.status == FAIL and "already firing when the fault began" in early.observed


def test_silent():
    assert stays_silent(LIFE, "RedisDown", start=0, end=12).status == PASS
    assert "pending" in stays_silent(LIFE, "RedisDown", start=0, end=12).observed
    assert stays_silent(LIFE, "RedisDown", start=0, end=14).status == FAIL
    assert stays_silent(LIFE, "RedisDown", start=31, end=50).status == PASS


def test_resolves():
    assert resolves_within(LIFE, "RedisDown", since=25, within=6).status == PASS
    assert resolves_within(LIFE, "RedisDown", since=25, within=4).status == FAIL
    assert resolves_within(LIFE[:2], "RedisDown", since=25, within=60).status == FAIL
    assert resolves_within([], "RedisDown", since=25, within=60).status == FAIL


def test_notified():
    evs = [note(14, "pagerduty-critical"), note(20, "slack-critical"), note(15, "slack-warnings", "Other")]
    vs = notified(evs, "RedisDown", receivers=["pagerduty-critical", "slack-critical"],
                  not_receivers=["slack-warnings"], since=10, within=5, until=40)
    assert [(v.subject, v.status) for v in vs] == [("pagerduty-critical", PASS), ("slack-critical", FAIL),
                                                   ("slack-warnings", PASS)]
    assert "late" in vs[1].observed
    leak = notified([note(14, "slack-warnings")], "RedisDown", receivers=[], not_receivers=["slack-warnings"],
                    since=10, within=5, until=40)
    assert leak[0].status == FAIL


def test_inhibited():
    ok = [Event(10, AM_STATE, "Crit", {"state": "active"}),
          Event(11, AM_STATE, "Warn", {"state": "suppressed", "inhibited_by": ["x"]})]
    assert inhibited(ok, "Warn", by="Crit", start=0, end=30, receivers=["slack-warnings"]).status == PASS
    leak = [*ok, note(12, "slack-warnings", "Warn")]
    assert inhibited(leak, "Warn", by="Crit", start=0, end=30, receivers=["slack-warnings"]).status == FAIL
    assert inhibited(ok[1:], "Warn", by="Crit", start=0, end=30).status == FAIL


def test_latency_budget():
    lat = np.array([0.001] * 95 + [0.2] * 5)
    assert latency_budget(lat, "/x", percentile=95, budget=0.005).status == PASS
    assert latency_budget(lat, "/x", percentile=99, budget=0.005).status == FAIL
    assert latency_budget(np.array([]), "/x", percentile=95, budget=1).status == FAIL


CRIT = {"alertname": "Pool", "severity": "critical"}
WARN = {"alertname": "Pool", "severity": "warning"}
# The warning tier of Pool inhibited by its critical tier; the warning must not reach slack-warnings.
POOL = dict(by="Pool", labels={"severity": "warning"}, by_labels={"severity": "critical"}, start=0, end=30,
            receivers=["slack-warnings"])


def am(t, labels, state, **extra):
    return Event(t, AM_STATE, "Pool", {"state": state, "labels": labels, **extra})


def test_inhibited_with_labels():
    evs = [am(10, CRIT, "active"),
           am(11, WARN, "suppressed", inhibited_by=["f"])]
    v = inhibited(evs, "Pool", by="Pool", labels={"severity": "warning"}, by_labels={"severity": "critical"},
                  start=0, end=30)
    assert v.status == PASS
    only_warning = inhibited(evs[1:], "Pool", by="Pool", labels={"severity": "warning"},
                             by_labels={"severity": "critical"}, start=0, end=30)
    assert only_warning.status == FAIL and "never active" in only_warning.observed


def test_inhibited_target_may_go_active_once_the_inhibitor_resolves():
    evs = [am(10, CRIT, "active"),
           am(11, WARN, "suppressed", inhibited_by=["f"]),
           am(20, CRIT, "resolved"),
           am(21, WARN, "active"),
           note(22, "slack-warnings", "Pool")]
    assert inhibited(evs, "Pool", **POOL).status == PASS
    during = [*evs[:2], am(15, WARN, "active")]
    v = inhibited(during, "Pool", **POOL)
    assert v.status == FAIL and "while Pool was active" in v.observed
    leak = [*evs[:2], note(12, "slack-warnings", "Pool")]
    assert inhibited(leak, "Pool", **POOL).status == FAIL


def test_inhibited_target_seen_active_in_the_poll_that_sees_its_inhibitor_resolve():
    # One Alertmanager answer shows the critical gone and the warning active: both recorded at t=20.
    evs = [am(10, CRIT, "active"),
           am(10, WARN, "suppressed", inhibited_by=["f"]),
           am(20, WARN, "active"),
           am(20, CRIT, "resolved"),
           note(20, "slack-warnings", "Pool")]
    assert inhibited(evs, "Pool", **POOL).status == PASS
    early = [*evs[:2], am(19.9, WARN, "active"), *evs[3:]]
    assert inhibited(early, "Pool", **POOL).status == FAIL


def test_a_notification_the_receivers_api_refuses_is_not_a_delivery():
    refused = Event(12, NOTIFICATION, "pagerduty-critical",
                    {"status": "firing", "alerts": [{"labels": {"alertname": "RedisDown"}}], "accepted": False,
                     "response_status": 400, "problem": "Event object is invalid"})
    [v] = notified([refused], "RedisDown", receivers=["pagerduty-critical"], not_receivers=[], since=10,
                   within=5, until=30)
    assert v.status == FAIL and "refused by the receiver's API (400: Event object is invalid)" in v.observed
    [ok] = notified([note(12, "pagerduty-critical")], "RedisDown", receivers=["pagerduty-critical"],
                    not_receivers=[], since=10, within=5, until=30)
    assert ok.status == PASS
    # Never delivered means never attempted: a refused attempt still leaks to a receiver that must not hear.
    [leak] = notified([refused], "RedisDown", receivers=[], not_receivers=["pagerduty-critical"], since=10,
                      within=5, until=30)
    assert leak.status == FAIL


def test_inhibited_a_delivery_as_the_inhibitor_resolves_is_not_a_leak_within_one_poll():
    # Alertmanager un-mutes the warning the moment the critical resolves and delivers it at t=19.95; the
    # next poll (every 0.125 s) sees the critical resolved at t=20.0.
    kw = {**POOL, "poll_s": 0.125}
    evs = [am(10, CRIT, "active"),
           am(10, WARN, "suppressed", inhibited_by=["f"]),
           am(20, CRIT, "resolved")]
    assert inhibited([*evs, note(19.95, "slack-warnings", "Pool")], "Pool", **kw).status == PASS
    assert inhibited([*evs, note(19.5, "slack-warnings", "Pool")], "Pool", **kw).status == FAIL
    assert inhibited([*evs, note(19.95, "slack-warnings", "Pool")], "Pool", **{**kw, "poll_s": 0.0}).status == FAIL


def test_a_late_firing_says_when_its_condition_became_true():
    # Two bursts: the first does not take the condition over its threshold, the second does; `for` then
    # runs its course. The failure must show the time went before pending, not in `for`.
    late = [st(11, "pending"), st(12, "inactive"), st(40, "pending"), st(70, "firing")]
    v = fires_within(late, "RedisDown", since=10, within=50)
    assert v.status == FAIL and v.latency == 60
    assert "became true (pending) at t=40.00s, 30.00s after the fault, and it fired 30.00s later" in v.observed
    # pending already before the fault (not yet firing): said as such
    early = fires_within([st(8, "pending"), st(30, "firing")], "RedisDown", since=10, within=5)
    assert early.status == FAIL and "2.00s before the fault" in early.observed
    # a firing seen without a pending poll before it
    jump = fires_within([st(30, "firing")], "RedisDown", since=10, within=5)
    assert jump.status == FAIL and "never seen pending" in jump.observed
    # a passing firing keeps its short message
    assert "pending" not in fires_within(LIFE, "RedisDown", since=10, within=5).observed


def test_a_failed_verdict_prints_the_end_of_its_own_series():
    from harness.core.result import Verdict

    q = 'histogram_quantile(0.95, sum by (le, query_name) (rate(q_bucket{query_name="place_bet"}[15s])))'
    series = [{"series": {"query_name": "query1"}, "t_v": [[1.0, "0.001"]]},
              {"series": {"query_name": "place_bet"}, "t_v": [[t, str(0.06 - t / 1000)] for t in range(10)]}]
    v = Verdict("resolves", "QueryLatencyHigh", FAIL, "resolved", "still firing",
                evidence={"labels": {"alertname": "QueryLatencyHigh", "query_name": "place_bet"},
                          f"values of {q}": series, "values of up": "no data: none"})
    lines = v.value_lines(points=3)
    assert lines[0].endswith("{query_name=place_bet}: 7.0s 0.053, 8.0s 0.052, 9.0s 0.051")
    assert lines[0].startswith(q[:87] + "...")
    assert lines[1] == "up: no data: none"
    assert len(lines) == 2  # query1's series is not this alert's
    assert Verdict("fires", "X", FAIL, "", "").value_lines() == []
