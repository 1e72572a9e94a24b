"""Expectations by meaning (`pages`, `notifies`): a delivery of any matching alert counts, judged with the same
state rules as the named checks: carried-in firing, late, too early, refused by the receiver's API."""

from harness.core.result import FAIL, PASS
from harness.core.timeline import ALERT_STATE, NOTIFICATION, Event
from harness.core.verdict import delivered_any, delivered_none

PD = ["pd-oncall"]
ALERTS = ["PgDown", "RedisGone"]


def st(t: float, alert: str, state: str) -> Event:
    return Event(t, ALERT_STATE, alert, {"state": state, "labels": {"alertname": alert}})


def page(t: float, alert: str, receiver: str = "pd-oncall", **data: object) -> Event:
    return Event(t, NOTIFICATION, receiver, {"status": "firing", "alerts": [{"labels": {"alertname": alert}}], **data})


def any_(events: list[Event], **kw: object):
    args = {"alerts": ALERTS, "receivers": PD, "since": 10.0, "within": 5.0, "until": 30.0,
            "min_latency": {"PgDown": 1.0, "RedisGone": 1.0}, **kw}
    return delivered_any(events, "pages", "role:pager", **args)  # type: ignore[arg-type]


def test_a_page_of_any_matching_alert_within_the_bound_passes_and_names_it():
    v = any_([st(11, "RedisGone", "firing"), page(12.5, "RedisGone")])
    assert v.status == PASS and "RedisGone delivered to pd-oncall" in v.observed and v.latency == 2.5


def test_a_page_after_the_bound_is_late():
    v = any_([page(17, "PgDown")])
    assert v.status == FAIL and "arrived late" in v.observed


def test_a_page_before_the_fault_could_show_fails():
    v = any_([page(10.2, "PgDown")])
    assert v.status == FAIL and "before the fault could show" in v.observed


def test_a_page_from_an_alert_already_firing_when_the_fault_began_is_not_attributed_to_it():
    v = any_([st(2, "PgDown", "firing"), page(12, "PgDown")])
    assert v.status == FAIL and "already firing when the fault began" in v.observed and "PgDown" in v.observed


def test_a_page_the_receivers_api_refused_pages_nobody():
    assert any_([page(12, "PgDown", accepted=False)]).status == FAIL


def test_an_alert_outside_the_meaning_or_a_receiver_outside_the_role_does_not_count():
    assert any_([page(12, "Other")]).status == FAIL
    assert any_([page(12, "PgDown", receiver="slack")]).status == FAIL


def test_nothing_to_match_is_a_failure_that_says_so():
    v = any_([], alerts=[])
    assert v.status == FAIL and "no alert of the packs matches" in v.observed


def none_(events: list[Event]):
    return delivered_none(events, "pages", "role:pager", alerts=ALERTS, receivers=PD, start=10.0, end=30.0)


def test_no_page_passes_only_when_nothing_routed_to_a_pager_fires_in_the_window():
    assert none_([st(2, "PgDown", "firing"), st(5, "PgDown", "inactive")]).status == PASS
    assert none_([page(20, "PgDown")]).status == FAIL
    # Paged before the window and still firing: someone is still paged.
    carried = none_([st(2, "PgDown", "firing")])
    assert carried.status == FAIL and "firing from t=2.00s on" in carried.observed
    assert none_([st(25, "RedisGone", "firing"), st(28, "RedisGone", "inactive")]).status == FAIL


def test_the_harness_delivery_probe_is_no_page():
    from harness.core.timeline import DELIVERY_PROBE

    assert none_([page(20, DELIVERY_PROBE)]).status == PASS
