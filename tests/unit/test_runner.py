"""The runner's plan and bookkeeping, with a fake clock, fake faults and a fake Prometheus: no services,
no sleeping (the fake sleep advances the fake clock)."""

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.catalog import AlertRule, Catalog
from harness.core.model import parse_scenario
from harness.core.result import FAIL, PASS
from harness.core.routing import build_route
from harness.core.timeline import ALERT_STATE, NOTIFICATION, Timeline
from harness.scenario.runner import RunOptions, ScenarioRunner


class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.mono_start = 0.0

    def now(self):
        return self.t

    def sleep(self, dt):
        self.t += dt

    def to_wall(self, t):
        return 1000.0 + t

    def from_wall(self, unix):
        return unix - 1000.0


@dataclass
class FakeStack:
    clock: FakeClock
    timeline: Timeline
    urls: dict = field(default_factory=lambda: {"prometheus": "http://unused"})


class FakeProm:
    def __init__(self, active):
        self.active = list(active)

    def alerts(self):
        return [{"labels": {"alertname": a}} for a in self.active]


class FakeFault:
    def __init__(self, log, stack, kind, target):
        self.log, self.stack, self.kind, self.target = log, stack, kind, target

    def __enter__(self):
        self.log.append(("enter", self.kind, self.target, self.stack.clock.now()))
        if self.kind == "crash":  # the "alert" reacts 2 s later, on the fake clock
            self.stack.timeline.record(self.stack.clock.now() + 2, ALERT_STATE, "RedisDown",
                                       state="firing", labels={"alertname": "RedisDown"})
        return self

    def __exit__(self, *exc):
        self.log.append(("exit", self.kind, self.target, self.stack.clock.now()))
        self.stack.timeline.record(self.stack.clock.now() + 1, ALERT_STATE, "RedisDown",
                                   state="inactive", labels={"alertname": "RedisDown"})


class PagingFault(FakeFault):
    """The alert is also delivered to "oncall" (an Opsgenie receiver: role pager) 1 s after it fires."""

    def __enter__(self):
        self.stack.timeline.record(self.stack.clock.now() + 3, NOTIFICATION, "oncall", status="firing",
                                   alerts=[{"labels": {"alertname": "RedisDown"}}])
        return super().__enter__()


class FakeFaults:
    def __init__(self, stack, log, fault_cls=FakeFault):
        self.stack, self.log, self.undone, self.fault_cls = stack, log, 0, fault_cls

    def from_spec(self, kind, target, params, fault_id=None):
        return self.fault_cls(self.log, self.stack, kind, target)

    def undo_all(self):
        self.undone += 1


SCN = """\
name: redis
duration: 10m
warmup: 1m
load: {profile: none}
faults:
  - {kind: crash, target: redis, start: 2m, duration: 5m}
expect:
  - fires: RedisDown
    within: 3m
  - resolves: RedisDown
    within: 2m
  - silent: PostgreSQLDown
"""

CATALOG = Catalog(alerts={n: AlertRule(n, "up == 0", 60, {}, "g", None, "f") for n in ("RedisDown", "PostgreSQLDown")})


def _run(active=(), scn=SCN, catalog=CATALOG, fault_cls=FakeFault):
    clock = FakeClock()
    stack = FakeStack(clock, Timeline())
    log = []
    made = []

    def factory(s):
        made.append(FakeFaults(s, log, fault_cls))
        return made[0]

    opts = RunOptions(time_scale=60, records_dir=Path("/nonexistent"), sleep=clock.sleep, quiet_timeout=5)
    runner = ScenarioRunner(stack, catalog, opts,
                            prometheus=FakeProm(active), faults_factory=factory)
    res = runner.run(parse_scenario(scn, file="s.yaml"))
    res._timeline = stack.timeline.events()
    return res, log, made


def test_faults_played_at_scaled_times_and_verdicts():
    res, log, made = _run()
    assert res.error is None
    # warm-up 1m 30s (RedisDown's for adds nothing; two scrapes and evaluations do) -> 1.5 s, fault at 2m -> 2 s
    # later, 5m long -> 5 s
    assert [(e[0], round(e[3], 1)) for e in log] == [("enter", 1.5 + 2.0), ("exit", 3.5 + 5.0)]
    assert made[0].undone == 1
    assert [(v.check, v.status) for v in res.verdicts] == [("fires", PASS), ("resolves", PASS), ("silent", PASS)]
    fires = res.verdicts[0]
    assert fires.latency == 2.0 and fires.min_latency == 1.0
    assert res.faults[0]["start"] == 3.5 and res.faults[0]["end"] == 8.5
    assert res.ended >= 11.0


def test_noise_at_start_is_recorded_not_hidden():
    res, _, _ = _run(active=["AvailabilitySLOBreach"])
    assert res.started == 0.0
    assert res.verdicts[0].status == PASS
    assert res.ended >= 16.0  # waited the whole quiet timeout (5 s) first
    assert any("AvailabilitySLOBreach" in n for n in res.notes)
    assert any(e.name == "noise_at_start" for e in _timeline_of(res))


def test_receiver_roles_resolve_against_the_alertmanager_config():
    receivers = ({"name": "oncall", "opsgenie_configs": [{"api_key": "k"}]},
                 {"name": "team-chat", "slack_configs": [{"channel": "#x"}]})
    catalog = Catalog(alerts=CATALOG.alerts, receivers=frozenset(r["name"] for r in receivers),
                      receiver_configs=receivers, group_wait_s=0)
    scn = SCN.replace("  - silent: PostgreSQLDown\n", "  - notified: RedisDown\n    receivers: [role:pager]\n"
                      "    not_receivers: [role:chat]\n    within: 3m\n")
    res, _, _ = _run(scn=scn, catalog=catalog, fault_cls=PagingFault)
    notified = [(v.check, v.subject, v.status) for v in res.verdicts if "notified" in v.check]
    assert notified == [("notified", "role:pager", PASS), ("not_notified", "role:chat", PASS)]
    assert "at oncall" in res.verdicts[2].observed
    swapped = scn.replace("[role:pager]", "[role:chat]").replace("not_receivers: [role:chat]",
                                                                 "not_receivers: [role:pager]")
    res, _, _ = _run(scn=swapped, catalog=catalog, fault_cls=PagingFault)
    assert [v.status for v in res.verdicts if "notified" in v.check] == [FAIL, FAIL]


def _timeline_of(res):
    return res._timeline  # set by _run below


def test_resolution_after_the_scenario_end_is_awaited_not_missed():
    # The fault's alert resolves 2.5 s after the scenario's last second (a slow undo): the runner keeps
    # observing until the resolve deadline instead of judging on what it saw when the load stopped.
    clock = FakeClock()
    stack = FakeStack(clock, Timeline())

    class Quiet(FakeFault):
        def __exit__(self, *exc):
            self.log.append(("exit", self.kind, self.target, self.stack.clock.now()))

    class QuietFaults(FakeFaults):
        def from_spec(self, kind, target, params, fault_id=None):
            return Quiet(self.log, self.stack, kind, target)

    def sleep(dt):
        before = clock.t
        clock.sleep(dt)
        if before < 12.5 <= clock.t:
            stack.timeline.record(12.5, ALERT_STATE, "RedisDown", state="inactive",
                                  labels={"alertname": "RedisDown"})

    scn = SCN.replace("duration: 5m}", "duration: 8m}")  # ends with the scenario, at t=11
    opts = RunOptions(time_scale=60, records_dir=Path("/nonexistent"), sleep=sleep, quiet_timeout=5)
    runner = ScenarioRunner(stack, CATALOG, opts, prometheus=FakeProm(()),
                            faults_factory=lambda s: QuietFaults(s, []))
    res = runner.run(parse_scenario(scn, file="s.yaml"))
    assert [(v.check, v.status) for v in res.verdicts][:2] == [("fires", PASS), ("resolves", PASS)]
    assert 12.5 <= res.ended < 13.5


def test_fault_that_fails_marks_the_run_and_still_undoes():
    clock = FakeClock()
    stack = FakeStack(clock, Timeline())

    class Broken(FakeFaults):
        def from_spec(self, kind, target, params, fault_id=None):
            raise RuntimeError("toxiproxy unreachable")

    made = []

    def factory(s):
        made.append(Broken(s, []))
        return made[0]

    runner = ScenarioRunner(stack, CATALOG, RunOptions(60, Path("/nonexistent"), sleep=clock.sleep),
                            prometheus=FakeProm([]), faults_factory=factory)
    res = runner.run(parse_scenario(SCN, file="s.yaml"))
    assert res.error == "RuntimeError: toxiproxy unreachable"
    assert made[0].undone == 1
    assert not res.passed and res.verdicts == []
    assert FAIL not in [v.status for v in res.verdicts]


def test_a_failed_alert_expectation_carries_the_promql_and_what_it_returned():
    class Prom(FakeProm):
        def rules(self):
            return [{"rules": [{"type": "alerting", "name": "RedisDown", "query": "redis_up == 0",
                                "labels": {"severity": "critical"}}]}]

        def query_range(self, expr, start, end, step):
            self.asked = (expr, start, end)
            return [({"instance": "redis"}, [(start, 1.0), (end, 1.0)])]

    clock = FakeClock()
    prom = Prom(())
    runner = ScenarioRunner(FakeStack(clock, Timeline()), CATALOG,
                            RunOptions(time_scale=60, records_dir=Path("/nonexistent"), sleep=clock.sleep),
                            prometheus=prom)
    from harness.core.result import Verdict

    failed = Verdict("fires", "RedisDown", FAIL, "firing", "never fired", window=(3.0, 9.0))
    passed = Verdict("silent", "PostgreSQLDown", PASS, "silent", "silent", window=(0.0, 9.0))
    out = runner.attach_evidence([failed, passed], 0.0, 10.0)
    assert out[1] is passed
    ev = out[0].evidence
    assert ev["promql"] == "redis_up == 0" and ev["condition"] == "== 0"
    assert ev["values of redis_up"] == [{"series": {"instance": "redis"}, "t_v": [[3.0, 1.0], [9.0, 1.0]]}]
    assert prom.asked[0] == "redis_up"


def _runner(catalog: Catalog) -> ScenarioRunner:
    """A runner at time scale 60 on a fake stack and clock, with a Prometheus that has no series."""
    clock = FakeClock()
    return ScenarioRunner(FakeStack(clock, Timeline()), catalog,
                          RunOptions(time_scale=60, records_dir=Path("/nonexistent"), sleep=clock.sleep),
                          prometheus=FakeProm(()))


def test_warm_up_lasts_until_every_judged_alert_reads_a_window_of_steady_load_only():
    slow = AlertRule("QueryLatencyHigh", "histogram_quantile(0.95, rate(q_bucket[5m])) > 0.005", 300, {}, "g",
                     None, "f")
    budget = AlertRule("Budget", "avg_over_time(x[30d]) < 0.99", 0, {}, "g", None, "f")
    catalog = Catalog(alerts={**CATALOG.alerts, "QueryLatencyHigh": slow, "Budget": budget})
    runner = _runner(catalog)
    one = parse_scenario("duration: 10m\nexpect:\n  - silent: QueryLatencyHigh\n")
    # window 5m + two scrapes and two evaluations; its for (5m) adds nothing: a transient that leaves the window
    # clears the condition, and the pending state with it
    assert runner.warmup(one) == 390.0
    assert runner.warmup(parse_scenario("duration: 10m\nwarmup: 15m\nexpect:\n  - silent: RedisDown\n")) == 900.0
    # "*" judges every alert; a 30-day window is not waited out, nor does it lengthen the scenario's own.
    assert runner.warmup(parse_scenario("duration: 10m\nexpect:\n  - silent: '*'\n")) == 390.0
    assert runner.warmup(parse_scenario("duration: 10m\nwarmup: 1m\nexpect:\n  - fires: Budget\n")) == 60.0
    assert runner.warmup(parse_scenario("duration: 10m\nexpect:\n  - silent: RedisDown\n")) == 300.0  # default
    longer = AlertRule("Slow", "rate(x[8m]) > 1", 0, {}, "g", None, "f")
    longest = AlertRule("Slowest", "rate(x[9m]) > 1", 0, {}, "g", None, "f")
    catalog = Catalog(alerts={**catalog.alerts, "Slow": longer, "Slowest": longest})
    runner.catalog = catalog
    assert runner.warmup(parse_scenario("duration: 10m\nexpect:\n  - silent: Slow\n")) == 480 + 90
    # a window whose warm-up would pass the longest one is not waited out: the scenario's own warm-up stays
    assert runner.warmup(parse_scenario("duration: 10m\nwarmup: 2m\nexpect:\n  - silent: Slowest\n")) == 120.0


LATENCY = AlertRule("QueryLatencyHigh", 'histogram_quantile(0.95, sum by (le, query_name) (rate('
                    'query_duration_seconds_bucket{query_name=~"query1|query2"}[5m]))) > 0.005',
                    300, {}, "g", None, "f")


class CountingProm(FakeProm):
    """Prometheus answering the events each query group's window held: query1 6, query2 90."""

    def query(self, expr, at=None):
        from harness.observe.prometheus import Sample

        self.asked = (expr, at)
        return [Sample({"query_name": "query1"}, 6.0, at), Sample({"query_name": "query2"}, 90.0, at)]


def _latency_runner(rates=None):
    clock = FakeClock()
    stack = FakeStack(clock, Timeline())
    catalog = Catalog(alerts={**CATALOG.alerts, "QueryLatencyHigh": LATENCY})
    runner = ScenarioRunner(stack, catalog, RunOptions(time_scale=10, records_dir=Path("/nonexistent"),
                                                       sleep=clock.sleep, rates=rates),
                            prometheus=CountingProm(()))
    for name, t0, t1 in (("query1", 10.0, 20.0),):
        lab = {"alertname": "QueryLatencyHigh", "query_name": name}
        stack.timeline.record(t0, ALERT_STATE, "QueryLatencyHigh", state="firing", labels=lab)
        stack.timeline.record(t1, ALERT_STATE, "QueryLatencyHigh", state="inactive", labels=lab)
    return runner, stack


def test_a_broad_silent_check_reports_firing_on_a_window_too_sparse_to_resolve_its_threshold():
    runner, stack = _latency_runner()
    scn = parse_scenario("duration: 10m\nload: {profile: none}\nexpect:\n  - silent: QueryLatencyHigh\n")
    (v,) = runner.evaluate(scn, stack.timeline, 0.0, 60.0, {}, Path("/nonexistent"))
    assert v.status == PASS
    assert "fired where not judged: QueryLatencyHigh{query_name=query1}" in v.observed
    assert "held 6 events, 60 needed" in v.observed
    # Asked when the condition began (for 5m = 30 s before firing at t=10, at scale 10: the window opened at
    # t=0), over the window compressed with the scenario's scale (5m at scale 10).
    assert runner.prom.asked == ('sum by (query_name) (increase(query_duration_seconds_count{query_name=~'
                                 '"query1|query2"}[30000ms]))', 1000.0)


def test_a_silent_check_that_names_a_sparse_branch_is_inconclusive_not_passed():
    runner, stack = _latency_runner()
    scn = parse_scenario("duration: 10m\nload: {profile: none}\nexpect:\n  - silent: QueryLatencyHigh\n"
                         "    labels: {query_name: query1}\n")
    (v,) = runner.evaluate(scn, stack.timeline, 0.0, 60.0, {}, Path("/nonexistent"))
    assert v.status == FAIL and v.observed.startswith("inconclusive: ")
    assert "its window held 6 events, 60 needed when it began at t=0.00s" in v.observed
    assert "lower the scenario's max_time_scale or raise its load rate" in v.observed
    # query2's windows held enough: judged, and it never fired.
    scn2 = parse_scenario("duration: 10m\nload: {profile: none}\nexpect:\n  - silent: QueryLatencyHigh\n"
                          "    labels: {query_name: query2}\n")
    (v2,) = runner.evaluate(scn2, stack.timeline, 0.0, 60.0, {}, Path("/nonexistent"))
    assert v2.status == PASS and "not judged" not in v2.observed


def test_the_scale_keeps_the_events_a_judged_window_needs_at_the_scenarios_load_rate():
    from harness.core.resolution import EventRates

    # query2 runs once in ten requests: at 40 req/s a 5m window holds 1200 of them at real time, 60 needed
    # (x1.5 planned): scale 13; query1 (one in a thousand) cannot be met at an affordable scale.
    rates = EventRates({("query_duration_seconds_count", (("query_name", "query2"),)): 0.1,
                        ("query_duration_seconds_count", (("query_name", "query1"),)): 0.001})
    runner, _ = _latency_runner(rates)
    scn = parse_scenario("duration: 10m\nload: {profile: constant_rate, rate: 40}\nexpect:\n"
                         "  - silent: QueryLatencyHigh\n")
    choice = runner.choose_scale(scn, cap=60)
    assert choice.scale == 13
    assert "query_name=query2" in choice.limits[0]
    assert len(choice.under_resolved) == 1 and "query_name=query1" in choice.under_resolved[0]
    # Raising the load rate allows a higher scale (query2's window: 26 at 80 req/s), up to where a pause of the
    # machine would carry a p95 (a 5m window must last 20 s: 15).
    faster = parse_scenario("duration: 10m\nload: {profile: constant_rate, rate: 80}\nexpect:\n"
                            "  - silent: QueryLatencyHigh\n")
    fast = runner.choose_scale(faster, cap=60)
    assert fast.scale == 15 and "pause of the machine" in fast.limits[0]
    assert any("query_name=query2" in x and "allows 26.7" in x for x in fast.limits)


def test_firing_on_a_window_that_held_enough_events_still_fails_a_silent_check():
    runner, stack = _latency_runner()
    lab = {"alertname": "QueryLatencyHigh", "query_name": "query2"}
    stack.timeline.record(40.0, ALERT_STATE, "QueryLatencyHigh", state="firing", labels=lab)
    scn = parse_scenario("duration: 10m\nload: {profile: none}\nexpect:\n  - silent: QueryLatencyHigh\n")
    (v,) = runner.evaluate(scn, stack.timeline, 0.0, 60.0, {}, Path("/nonexistent"))
    assert v.status == FAIL and v.observed.startswith("firing from t=40.00s")
    assert "fired where not judged: QueryLatencyHigh{query_name=query1}" in v.observed


def test_an_expectation_with_labels_plans_for_the_series_groups_it_names_only():
    from harness.core.resolution import EventRates

    rates = EventRates({("query_duration_seconds_count", (("query_name", "query2"),)): 0.1,
                        ("query_duration_seconds_count", (("query_name", "query1"),)): 0.001})
    runner, _ = _latency_runner(rates)
    scn = parse_scenario("duration: 10m\nload: {profile: constant_rate, rate: 40}\nexpect:\n"
                         "  - silent: QueryLatencyHigh\n    labels: {query_name: query2}\n")
    choice = runner.choose_scale(scn, cap=60)
    assert choice.scale == 13 and choice.under_resolved == ()


def _paging_catalog(alerts=None):
    receivers = ({"name": "oncall", "opsgenie_configs": [{"api_key": "k"}]},
                 {"name": "team-chat", "slack_configs": [{"channel": "#x"}]})
    route = build_route({"receiver": "team-chat", "routes": [{"matchers": ["sev=page"], "receiver": "oncall"}]})
    paging = {n: AlertRule(n, "up == 0", 60, {"sev": "page"}, "g", None, "f") for n in ("RedisDown", "PostgreSQLDown")}
    return Catalog(alerts=alerts or paging, receivers=frozenset(r["name"] for r in receivers),
                   receiver_configs=receivers, group_wait_s=0, route=route)


def test_pages_and_notifies_judge_by_meaning_whatever_the_names():
    scn = SCN.replace("  - silent: PostgreSQLDown\n", "  - pages: true\n    within: 3m\n"
                      "  - notifies: {sev: page}\n    receivers: [role:pager]\n    within: 3m\n")
    res, _, _ = _run(scn=scn, catalog=_paging_catalog(), fault_cls=PagingFault)
    by_check = {v.check: v for v in res.verdicts}
    assert by_check["pages"].status == PASS and "RedisDown delivered to oncall" in by_check["pages"].observed
    assert by_check["notifies"].subject == "sev=page to role:pager" and by_check["notifies"].status == PASS
    # Nobody is paged when the alert only reaches the chat receiver.
    res, _, _ = _run(scn=scn, catalog=_paging_catalog(), fault_cls=FakeFault)
    assert {v.check: v.status for v in res.verdicts}["pages"] == FAIL


def test_pages_false_fails_on_a_page_and_on_a_routed_alert_still_firing():
    scn = SCN.replace("  - silent: PostgreSQLDown\n", "  - pages: false\n")
    res, _, _ = _run(scn=scn, catalog=_paging_catalog(), fault_cls=PagingFault)
    (v,) = [v for v in res.verdicts if v.check == "pages"]
    assert v.status == FAIL and "RedisDown delivered to oncall" in v.observed
    res, _, _ = _run(scn=scn, catalog=_paging_catalog(), fault_cls=FakeFault)
    (v,) = [v for v in res.verdicts if v.check == "pages"]
    assert v.status == FAIL and "RedisDown firing from" in v.observed and "routed to oncall" in v.observed


def test_pages_false_does_not_fail_on_firing_that_began_on_a_window_too_sparse_to_judge():
    runner, stack = _latency_runner()
    paging = AlertRule(LATENCY.name, LATENCY.expr, LATENCY.for_s, {"sev": "page"}, "g", None, "f")
    runner.catalog = _paging_catalog({"QueryLatencyHigh": paging})
    stack.timeline.record(12.0, NOTIFICATION, "oncall", status="firing",
                          alerts=[{"labels": {"alertname": "QueryLatencyHigh"}}])
    scn = parse_scenario("duration: 10m\nload: {profile: none}\nexpect:\n  - pages: false\n")
    (v,) = runner.evaluate(scn, stack.timeline, 0.0, 60.0, {}, Path("/nonexistent"))
    assert v.status == PASS and "not judged: QueryLatencyHigh: " in v.observed and "60 needed" in v.observed


def test_a_scenario_runs_alone_when_it_judges_a_latency_and_only_then():
    slow = AlertRule("QueryLatencyHigh", "histogram_quantile(0.95, rate(q_bucket[5m])) > 0.005", 300, {}, "g",
                     None, "f")
    # a metric whose name merely starts like the function is not a quantile
    named = AlertRule("Misnamed", "rate(histogram_quantile_misses_total[5m]) > 1", 0, {}, "g", None, "f")
    catalog = Catalog(alerts={**CATALOG.alerts, "QueryLatencyHigh": slow, "Misnamed": named})
    runner = _runner(catalog)

    def alone(expect: str) -> bool:
        return runner.runs_alone(parse_scenario(f"duration: 10m\nexpect:\n  - {expect}\n"))

    assert alone("silent: QueryLatencyHigh") and alone("fires: QueryLatencyHigh")
    assert alone("silent: '*'")                       # every alert, QueryLatencyHigh among them
    assert alone("latency: /api/bets\n    percentile: 95\n    budget: 100ms")
    assert not alone("silent: Misnamed") and not alone("fires: RedisDown")


def test_the_load_holds_its_last_level_until_the_last_resolution_can_be_judged():
    # With no traffic a quantile or a ratio has no value and its alert "resolves": the load must outlast the
    # resolve bound, not stop with the scenario. Scale 60: the fault ends with the scenario (at 10m = 10 s) and
    # RedisDown may resolve up to 2m = 2 s later.
    runner = _runner(CATALOG)
    scn = SCN.replace("load: {profile: none}", "load: {profile: constant_rate, rate: 5}")
    at_end = parse_scenario(scn.replace("duration: 5m}", "duration: 8m}"), file="s.yaml")
    assert runner.resolution_tail(at_end) == 2.0
    warmup = runner.warmup(at_end) / 60
    assert runner.load_profile(at_end).duration_s == warmup + 10 + 2 + 30
    early = parse_scenario(scn, file="s.yaml")   # ends at 7m: its bound (9m) is inside the scenario
    assert runner.resolution_tail(early) == 0.0
    steps = parse_scenario(scn.replace("{profile: constant_rate, rate: 5}", "{profile: steps, users: 4}"),
                           file="s.yaml")
    shaped = runner.load_profile(steps)
    end = warmup + 10 + 30
    assert shaped.users_at(end - 0.1) == 4 and shaped.users_at(end + 0.1) is None
    assert shaped.users_at(0.1) == 1    # the shape is still that of warm-up and duration
