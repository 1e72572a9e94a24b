"""The failure-mode matrix: attribution of firings and notifications to modes, times, headlines, JSON shape."""

import json

from harness.core.catalog import AlertRule, Catalog
from harness.core.matrix import Matrix, compute_matrix
from harness.core.result import FAIL, PASS, ScenarioResult, Verdict
from harness.core.timeline import ALERT_STATE, NOTIFICATION, PHASE, Event
from harness.scenario.failure_modes import parse_failure_modes

MODES = parse_failure_modes("""\
modes:
  - name: healthy
    duration: 10m
  - name: db_down
    description: The primary is killed.
    duration: 15m
    faults: [{kind: crash, target: postgres_primary, start: 2m, duration: 10m}]
  - name: slow_db
    duration: 15m
    faults: [{kind: toxic, target: pg_primary, start: 2m, duration: 10m, params: {type: latency, latency: 200}}]
""", file="fm.yaml").modes


def _rule(name: str, severity: str) -> AlertRule:
    return AlertRule(name, "up == 0", 30, {"severity": severity}, "g", None, "r.yml")


CATALOG = Catalog(
    alerts={"DbDown": _rule("DbDown", "critical"), "Errors": _rule("Errors", "critical"),
            "Slow": _rule("Slow", "warning"), "Noisy": _rule("Noisy", "warning")},
    receivers=frozenset({"pd", "chat", "mail"}),
    receiver_configs=({"name": "pd", "pagerduty_configs": [{"routing_key": "k"}]},
                      {"name": "chat", "slack_configs": [{"channel": "#a"}]},
                      {"name": "mail", "email_configs": [{"to": "x"}]}))


def state(t, alert, st, **labels):
    return Event(t, ALERT_STATE, alert, {"state": st, "labels": {"alertname": alert, **labels}})


def note(t, receiver, *alerts, status="firing", accepted=True):
    return Event(t, NOTIFICATION, receiver, {"status": status, "accepted": accepted,
                                              "alerts": [{"alertname": a, "status": status, "labels": {}}
                                                         for a in alerts]})


def phase(t, name):
    return Event(t, PHASE, "scenario", {"scenario": name})


def result(name, started, ended, *, scale=10.0, faults=(), verdicts=(), error=None):
    return ScenarioResult(name=name, file="fm.yaml", started=started, ended=ended, time_scale=scale,
                          faults=[{"id": "f", "kind": k, "target": t, "start": s, "end": e} for k, t, s, e in faults],
                          verdicts=list(verdicts), error=error)


def silent(alert, status):
    return Verdict("silent", alert, status, "", "")


# healthy: [0, 100], scenario phase at 30. Noisy fires (judged), Slow fires only on sparse windows.
# db_down: [100, 200], phase at 130, crash at 142. Noisy already firing before the fault: noise.
#   DbDown fires at 145 (critical), Errors at 150; pd pages at 151, chat at 152, mail about Noisy at 153;
#   a late chat notification of Errors at 205 (after the mode ended, before the next phase) still belongs.
# slow_db: [200, 300], phase at 230, toxic at 242; nothing fires; pd refuses a stray DbDown repeat at 260.
EVENTS = [
    phase(30, "healthy"), state(40, "Noisy", "firing", severity="warning"), state(50, "Slow", "firing"),
    state(60, "Slow", "inactive"),
    phase(130, "db_down"),
    state(145, "DbDown", "pending", severity="critical"), state(146, "DbDown", "firing", severity="critical"),
    state(150, "Errors", "firing", severity="critical"),
    note(151, "pd", "DbDown"), note(152, "chat", "DbDown", "Errors"), note(153, "mail", "Noisy"),
    state(190, "DbDown", "inactive", severity="critical"), state(195, "Errors", "inactive", severity="critical"),
    note(198, "pd", "DbDown", status="resolved"),
    note(205, "chat", "Errors"),
    phase(230, "slow_db"), state(235, "Noisy", "inactive", severity="warning"),
    note(260, "pd", "DbDown", accepted=False),
]

RESULTS = [
    result("healthy", 0, 100, verdicts=[silent("Noisy", FAIL), silent("Slow", PASS), silent("DbDown", PASS)]),
    result("db_down", 100, 200, scale=12.0, faults=[("crash", "postgres_primary", 142, 180)],
           verdicts=[silent("DbDown", FAIL), silent("Errors", FAIL)]),
    result("slow_db", 200, 300, faults=[("toxic", "pg_primary", 242, 280)]),
]


def matrix() -> Matrix:
    return compute_matrix(MODES, RESULTS, EVENTS, CATALOG)


def test_baseline_firings_are_on_a_healthy_stack_and_sparse_ones_told_apart():
    healthy = matrix().mode("healthy")
    assert healthy is not None and healthy.baseline
    assert [(f.alert, f.judged, f.after_s) for f in healthy.firings] == [("Noisy", True, 100.0),
                                                                         ("Slow", False, 200.0)]
    assert healthy.receivers == () and not healthy.paged


def test_a_fault_mode_fires_notifies_and_pages_in_production_seconds_from_the_fault():
    db = matrix().mode("db_down")
    assert db is not None and not db.baseline and db.faults == ("crash postgres_primary",)
    assert db.description == "The primary is killed."
    assert [(f.alert, f.severities, f.after_s) for f in db.firings] == [("DbDown", ("critical",), 4 * 12.0),
                                                                        ("Errors", ("critical",), 8 * 12.0)]
    assert db.noise == ("Noisy",)                      # firing before the fault: not the fault's doing
    assert db.receivers == ("pd", "chat")              # mail only heard of Noisy
    assert db.paged and db.time_to_page_s == 9 * 12.0 and db.time_to_notify_s == 9 * 12.0


def test_a_mode_with_no_alert_pages_nobody_and_a_refused_page_is_not_a_page():
    slow = matrix().mode("slow_db")
    assert slow is not None and slow.firings == () and not slow.paged
    assert slow.receivers == () and slow.refused == ()   # the refused DbDown repeat is not about this mode


def test_refused_notifications_of_the_modes_own_alerts_are_kept_apart():
    events = [*EVENTS[:7], note(151, "pd", "DbDown", accepted=False), note(152, "chat", "DbDown")]
    db = compute_matrix(MODES, RESULTS, events, CATALOG).mode("db_down")
    assert db is not None and not db.paged and db.refused == ("pd",) and db.receivers == ("chat",)


def test_an_alert_firing_before_a_fault_fires_on_a_healthy_stack_even_when_the_baseline_ran_quiet():
    # The baseline is quiet this run; Noisy fired in db_down before the crash (judged: its silent check failed).
    events = [phase(30, "healthy"), phase(130, "db_down"), state(135, "Noisy", "firing"),
              state(138, "Noisy", "inactive"), state(140, "Slow", "firing"), state(141, "Slow", "inactive")]
    results = [result("healthy", 0, 100, verdicts=[silent("Noisy", PASS)]),
               result("db_down", 100, 200, faults=[("crash", "postgres_primary", 142, 180)],
                      verdicts=[silent("Noisy", FAIL), silent("Slow", PASS)])]
    m = compute_matrix(MODES, results, events, CATALOG)
    rows = {a.name: a for a in m.alerts}
    assert rows["Noisy"].healthy_in == ("db_down",) and rows["Noisy"].exercised_by == ()
    assert rows["Slow"].healthy_in == ()               # only on windows too sparse to judge: not counted
    assert m.headlines.fire_on_healthy == ("Noisy",)
    assert Matrix.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_alerts_list_the_modes_that_exercised_them_and_headlines_follow():
    m = matrix()
    rows = {a.name: a for a in m.alerts}
    assert rows["DbDown"].exercised_by == ("db_down",) and rows["DbDown"].severities == ("critical",)
    assert rows["Noisy"].exercised_by == () and rows["Noisy"].fires_on_healthy
    # in the baseline, and in db_down and slow_db before their faults began (it resolved at 235, before 242): each
    # a healthy stack
    assert rows["Noisy"].healthy_in == ("healthy", "db_down", "slow_db")
    assert matrix().mode("slow_db").before_fault == ("Noisy",)
    assert not rows["Slow"].fires_on_healthy
    h = m.headlines
    assert h.no_alert == ("slow_db",)
    assert h.pages_nobody == ("slow_db",)
    assert h.fire_on_healthy == ("Noisy",) and h.fire_on_healthy_unjudged == ("Slow",)
    assert h.never_exercised == ("Slow", "Noisy")
    assert h.not_run == () and h.healthy_paged == ()


def test_a_page_on_the_healthy_baseline_is_a_headline():
    events = [*EVENTS, note(45, "pd", "Noisy")]
    assert compute_matrix(MODES, RESULTS, events, CATALOG).headlines.healthy_paged == ("healthy",)


def test_a_mode_that_could_not_run_is_not_a_headline_of_silence():
    results = [*RESULTS[:2], result("slow_db", 200, 300, error="FaultError: no proxy")]
    h = compute_matrix(MODES, results, EVENTS, CATALOG).headlines
    assert h.not_run == ("slow_db",) and h.no_alert == () and h.pages_nobody == ()


def test_json_shape_and_round_trip():
    m = matrix()
    raw = json.loads(json.dumps(m.to_dict()))
    db = next(r for r in raw["failure_modes"] if r["name"] == "db_down")
    assert {"name", "fired", "receivers", "paged", "time_to_page_s"} <= set(db)
    assert db["fired"] == ["DbDown", "Errors"] and db["paged"] is True and db["time_to_page_s"] == 108.0
    assert {"name": "DbDown", "exercised_by": ["db_down"]}.items() <= next(
        a for a in raw["alerts"] if a["name"] == "DbDown").items()
    assert raw["headlines"]["no_alert"] == ["slow_db"] and raw["ok"] is True
    assert Matrix.from_dict(raw) == m


def test_a_summary_written_before_healthy_in_keeps_its_fires_on_healthy():
    raw = json.loads(json.dumps(matrix().to_dict()))
    for a in raw["alerts"]:
        del a["healthy_in"]
    for r in raw["failure_modes"]:
        del r["before_fault"]
    rows = {a.name: a for a in Matrix.from_dict(raw).alerts}
    assert rows["Noisy"].healthy_in == ("healthy",) and rows["Noisy"].fires_on_healthy   # the baseline, as then
    assert not rows["Slow"].fires_on_healthy and not rows["DbDown"].fires_on_healthy
