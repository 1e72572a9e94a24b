"""State-aware verdicts: every check judges the alert's state over its whole window, including the state
carried in from before it (issue: a permanently firing alert passed `silent`)."""

from harness.core.result import FAIL, PASS
from harness.core.timeline import ALERT_STATE, AM_STATE, NOTIFICATION, Event, Timeline
from harness.core.verdict import fires_within, firing_at, inhibited, notified, resolves_within, stays_silent

L = {"alertname": "RedisMemoryHigh", "severity": "warning"}


def st(t, state, labels=L):
    return Event(t, ALERT_STATE, "RedisMemoryHigh", {"state": state, "labels": labels})


def note(t, receiver):
    return Event(t, NOTIFICATION, receiver, {"status": "firing", "alerts": [{"labels": L}]})


def test_the_window_sees_the_state_carried_in_from_before_it():
    tl = Timeline([st(1, "pending"), st(2, "firing"), Event(3, "mark", "x"), st(50, "inactive")])
    events = tl.events_with_state(10)
    assert [(e.t, e.data.get("state")) for e in events] == [(2, "firing"), (50, "inactive")]
    assert tl.events_with_state(60)[0].data["state"] == "inactive"


def test_silent_fails_when_firing_is_carried_in_and_never_changes():
    # Firing since before the scenario, no transition inside the window: the old verdict passed this.
    events = Timeline([st(1, "firing")]).events_with_state(10)
    v = stays_silent(events, "RedisMemoryHigh", start=10, end=40)
    assert v.status == FAIL and "already firing when the window opened" in v.observed


def test_silent_fails_when_firing_is_carried_out_of_the_window():
    v = stays_silent([st(35, "firing")], "RedisMemoryHigh", start=10, end=40)
    assert v.status == FAIL and "never" in v.observed  # still firing when recording stopped


def test_silent_passes_when_the_alert_resolved_before_the_window():
    events = Timeline([st(1, "firing"), st(5, "inactive")]).events_with_state(10)
    assert stays_silent(events, "RedisMemoryHigh", start=10, end=40).status == PASS


def test_silent_fails_on_a_flap_inside_the_window():
    events = [st(12, "firing"), st(13, "inactive"), st(20, "firing"), st(21, "inactive")]
    v = stays_silent(events, "RedisMemoryHigh", start=10, end=40)
    assert v.status == FAIL and "2 interval(s)" in v.observed


def test_fires_fails_when_already_firing_at_the_fault():
    v = fires_within([st(2, "firing")], "RedisMemoryHigh", since=10, within=5)
    assert v.status == FAIL and "already firing when the fault began" in v.observed
    assert firing_at([st(2, "firing"), st(10, "inactive")], "RedisMemoryHigh", 10) is None


def test_fires_fails_when_it_fires_before_the_fault_could_show():
    early = fires_within([st(10.5, "firing")], "RedisMemoryHigh", since=10, within=5, min_latency=2.0)
    assert early.status == FAIL and "before the fault could show" in early.observed
    on_time = fires_within([st(12.01, "firing")], "RedisMemoryHigh", since=10, within=5, min_latency=2.0)
    assert on_time.status == PASS


def test_resolves_fails_when_a_flap_refires_after_the_fault():
    events = [st(12, "firing"), st(21, "inactive"), st(22, "firing")]
    assert resolves_within(events, "RedisMemoryHigh", since=20, within=5).status == FAIL
    assert resolves_within(events[:2], "RedisMemoryHigh", since=20, within=5).status == PASS


def test_one_poll_showing_two_transitions():
    # One poll saw series A resolve and series B fire at the same instant: B is firing from then on.
    b = {**L, "instance": "b"}
    events = [st(12, "firing"), st(20, "inactive"), st(20, "firing", b)]
    assert stays_silent(events, "RedisMemoryHigh", start=20.5, end=30).status == FAIL
    assert stays_silent(events, "RedisMemoryHigh", start=20.5, end=30, labels={"instance": "a"}).status == PASS


def test_notified_fails_when_the_alert_was_firing_before_the_fault():
    events = [st(2, "firing"), note(11, "slack-warnings")]
    [v] = notified(events, "RedisMemoryHigh", receivers=["slack-warnings"], not_receivers=[], since=10,
                   within=5, until=30)
    assert v.status == FAIL and "already firing" in v.observed
    [ok] = notified([st(10.5, "firing"), note(11, "slack-warnings")], "RedisMemoryHigh",
                    receivers=["slack-warnings"], not_receivers=[], since=10, within=5, until=30)
    assert ok.status == PASS


def test_inhibited_sees_an_inhibitor_active_since_before_the_window():
    crit, warn = {"severity": "critical"}, {"severity": "warning"}
    events = [Event(1, AM_STATE, "Pool", {"state": "active", "labels": crit}),
              Event(12, AM_STATE, "Pool", {"state": "suppressed", "labels": warn, "inhibited_by": ["x"]})]
    v = inhibited(events, "Pool", by="Pool", start=10, end=30, labels=warn, by_labels=crit)
    assert v.status == PASS
