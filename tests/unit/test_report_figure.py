"""Timeline bands: alert pending/firing intervals and fault windows, clipped to the scenario."""

import pytest

from harness.core.result import ScenarioResult
from harness.core.timeline import ALERT_STATE, FAULT_END, FAULT_START, NOTIFICATION, Event
from harness.report.figure import alert_bands, build_figure, fault_bands, prod_time


def scenario(**kw):
    return ScenarioResult(name="s", file="s.yaml", started=kw.pop("started", 10.0), ended=kw.pop("ended", 100.0),
                          time_scale=60, **kw)


def state(t, name, st, **labels):
    return Event(t, ALERT_STATE, name, {"state": st, "labels": labels})


def test_pending_then_firing_then_resolved():
    bands = alert_bands(scenario(), [state(20, "A", "pending"), state(25, "A", "firing"), state(60, "A", "inactive")])
    assert [(b.state, b.start, b.end, b.open_end) for b in bands] == [("pending", 20, 25, False),
                                                                     ("firing", 25, 60, False)]


def test_bands_are_clipped_and_open_at_the_end():
    # Already firing before the scenario began; still firing when it ended.
    bands = alert_bands(scenario(), [state(5, "A", "firing"), state(50, "B", "pending", instance="x")])
    assert [(b.lane, b.state, b.start, b.end, b.open_end) for b in bands] == [
        ("A", "firing", 10.0, 100.0, True), ("B", "pending", 50, 100.0, True)]
    assert bands[1].text == "instance=x"


def test_repeated_state_does_not_split_a_band():
    bands = alert_bands(scenario(), [state(20, "A", "firing"), state(30, "A", "firing"), state(40, "A", "inactive")])
    assert [(b.start, b.end) for b in bands] == [(20, 40)]


def test_faults_from_events_else_from_the_scenario():
    events = [Event(30, FAULT_START, "f1", {"kind": "latency", "target": "pg_primary"}), Event(70, FAULT_END, "f1")]
    assert [(b.lane, b.start, b.end) for b in fault_bands(scenario(), events)] == [("f1", 30, 70)]
    s = scenario(faults=[{"id": "f2", "kind": "crash", "start": 40.0, "end": None}])
    band = fault_bands(s, [])[0]
    assert (band.lane, band.start, band.end, band.open_end) == ("f2", 40.0, 100.0, True)


def test_a_fault_band_says_what_the_fault_achieved():
    events = [Event(30, FAULT_START, "e", {"kind": "error_ratio", "params": {"ratio": 0.02}}),
              Event(70, FAULT_END, "e", {"achieved": {"achieved_ratio": 0.0197}})]
    assert 'achieved {"achieved_ratio": 0.0197}' in fault_bands(scenario(), events)[0].text
    truth = {"achieved_ratio": 0.0197, "ground_truth": {"ratio": 0.021}}
    band = fault_bands(scenario(faults=[{"id": "e", "achieved": truth}]), events)[0]
    assert '"ground_truth": {"ratio": 0.021}' in band.text


def test_figure_without_records_still_has_lanes_and_a_message():
    events = [Event(30, FAULT_START, "f1", {}), Event(40, NOTIFICATION, "team", {"alerts": []})]
    fig = build_figure(scenario(), events, None, lanes_extra=["Expected"])
    assert fig["layout"]["yaxis4"]["categoryarray"] == ["fault · f1", "alert · Expected", "receiver · team"]
    assert any("no request records" in a["text"] for a in fig["layout"]["annotations"])
    assert fig["layout"]["shapes"][0]["x0"] == pytest.approx(20.0)   # relative to scenario start


def test_prod_time():
    assert prod_time(1.0, 60) == "60s"
    assert prod_time(5.0, 60) == "5m00s"
    assert prod_time(200.0, 60) == "3h20m"
