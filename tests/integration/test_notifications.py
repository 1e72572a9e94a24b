"""An always-firing rule, through real Prometheus and Alertmanager running the seed config, reaches
the right local sink within the expected time, with the payload each receiver type really gets."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from ruamel.yaml import YAML

from harness.config import STACK_DIR
from harness.core.clock import RunClock
from harness.core.timeline import ALERT_STATE, AM_STATE, NOTIFICATION, Timeline
from harness.host.ports import allocate_ports
from harness.observe.alerts import AlertRecorder
from harness.observe.sinks import Notification, NotificationSinks
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.rules.timescale import rewrite_rules

pytestmark = pytest.mark.integration

SCALE = 60.0
EVAL_S = 30 / SCALE
RULES = """
groups:
  - name: always
    interval: 30s
    rules:
      - alert: AlwaysCritical
        expr: vector(1)
        labels: {severity: critical, team: dbre}
        annotations: {summary: "always critical", description: "critical description"}
      - alert: AlwaysWarning
        expr: vector(1)
        labels: {severity: warning, team: dbre}
        annotations: {summary: "always warning", description: "warning description"}
      - alert: AlwaysDefault
        expr: vector(1)
        annotations: {summary: "no severity"}
      - alert: AlwaysInfo
        expr: vector(1)
        labels: {severity: info}
        annotations: {summary: "to the webhook"}
"""


def _seed_config_with_webhook() -> str:
    """The seed config plus one webhook route, so all four receiver protocols are exercised."""
    y = YAML()
    doc = y.load((STACK_DIR / "alertmanager" / "alertmanager.yml").read_text())
    doc["route"]["routes"].append({"match": {"severity": "info"}, "receiver": "webhook-test"})
    doc["receivers"].append({"name": "webhook-test", "webhook_configs": [{"url": "https://example.invalid/hook"}]})
    buf = io.StringIO()
    y.dump(doc, buf)
    return buf.getvalue()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        try:
            if requests.get(url, timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready after {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[NotificationSinks, Timeline, RunClock, float, AlertRecorder]]:
    clock, timeline = RunClock(), Timeline()
    sinks = NotificationSinks(clock, timeline, known_alerts={"AlwaysCritical", "AlwaysWarning", "AlwaysDefault"})
    urls = sinks.start()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="harness-notif-") as tmp:
        d = Path(tmp)
        prom_port, am_port = allocate_ports(2)
        (d / "am.yml").write_text(adapt_alertmanager_config(_seed_config_with_webhook(), sinks=urls,
                                                            time_scale=SCALE, source="seed+webhook"))
        (d / "rules.yml").write_text(rewrite_rules(RULES, SCALE, scrape_interval_s=0.25, source="always"))
        (d / "prom.yml").write_text(
            f"global: {{scrape_interval: 250ms, evaluation_interval: {int(EVAL_S * 1000)}ms}}\n"
            f"rule_files: [{d / 'rules.yml'}]\n"
            f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n")
        recorder = None
        try:
            procs.append(subprocess.Popen(
                ["prometheus-alertmanager", f"--config.file={d / 'am.yml'}", f"--storage.path={d / 'am'}",
                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                stdout=(d / "am.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
            _wait_http(f"http://127.0.0.1:{am_port}/-/ready", procs[-1])
            started = clock.now()
            procs.append(subprocess.Popen(
                ["prometheus", f"--config.file={d / 'prom.yml'}", f"--storage.tsdb.path={d / 'prom'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}", f"--rules.alert.resend-delay={int(EVAL_S*1000)}ms"],
                stdout=(d / "prom.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
            _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", procs[-1])
            recorder = AlertRecorder(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", clock,
                                     timeline, interval_s=EVAL_S / 2).start()
            deadline = time.monotonic() + 20
            want = {"pagerduty-critical", "slack-critical", "slack-warnings", "default", "webhook-test"}
            while time.monotonic() < deadline and not (want <= {n.receiver for n in sinks.notifications()}
                                                       and timeline.events(kind=AM_STATE)):
                time.sleep(0.05)
            yield sinks, timeline, clock, started, recorder
        finally:
            if recorder is not None:
                recorder.stop()
            for p in reversed(procs):
                _stop(p)

            sinks.stop()


def _first(sinks: NotificationSinks, receiver: str) -> Notification:
    got = sinks.notifications(receiver)
    assert got, f"nothing reached {receiver}; got {[n.receiver for n in sinks.notifications()]}"
    return got[0]


# Prometheus start + first evaluation + group_wait (10s/60) + delivery: a few evaluation intervals.
EXPECTED_WITHIN_S = 6.0


def test_critical_reaches_pagerduty_as_sent_by_the_seed_config(running) -> None:  # type: ignore[no-untyped-def]
    sinks, _, _, started, _ = running
    n = _first(sinks, "pagerduty-critical")
    assert n.t - started < EXPECTED_WITHIN_S
    # The seed uses service_key: Alertmanager sends Events API v1 to its built-in https URL and ignores
    # `url`/`pagerduty_url`. The adapted config's proxy keeps it local; the attempt is recorded.
    assert n.protocol == "pagerduty_v1"
    assert n.path == "events.pagerduty.com:443"
    assert not n.accepted and "ignores `url`" in n.problem


def test_critical_also_reaches_slack_critical(running) -> None:  # type: ignore[no-untyped-def]
    sinks, _, _, started, _ = running
    n = _first(sinks, "slack-critical")
    assert n.t - started < EXPECTED_WITHIN_S
    att = n.payload["attachments"][0]
    assert n.payload["channel"] == "#alerts-critical"
    assert att["title"].endswith("CRITICAL: AlwaysCritical")
    assert att["text"] == "critical description"
    assert att["color"] == "danger"
    assert n.accepted and n.status == "firing"
    assert n.alertnames == ["AlwaysCritical"]
    assert "slack-critical" not in {m.receiver for m in sinks.notifications() if "AlwaysWarning" in m.alertnames}


def test_warning_reaches_slack_warnings_only(running) -> None:  # type: ignore[no-untyped-def]
    sinks, _, _, _, _ = running
    n = _first(sinks, "slack-warnings")
    assert n.payload["channel"] == "#alerts-warnings"
    assert n.alertnames == ["AlwaysWarning"]
    receivers = {m.receiver for m in sinks.notifications() if "AlwaysWarning" in m.alertnames}
    assert receivers == {"slack-warnings"}


def test_unlabelled_alert_reaches_default_by_email(running) -> None:  # type: ignore[no-untyped-def]
    sinks, _, _, started, _ = running
    n = _first(sinks, "default")
    assert n.t - started < EXPECTED_WITHIN_S
    assert n.protocol == "email"
    assert n.payload["to"] == ["dbre-team@company.com"]
    assert n.payload["subject"].startswith("[FIRING:1] AlwaysDefault")
    assert "text/html" in n.payload["bodies"]
    assert n.alertnames == ["AlwaysDefault"]


def test_webhook_gets_alertmanager_json(running) -> None:  # type: ignore[no-untyped-def]
    sinks, _, _, _, _ = running
    n = _first(sinks, "webhook-test")
    assert n.payload["version"] == "4"
    assert n.payload["receiver"] == "webhook-test"
    assert n.status == "firing"
    assert n.alerts[0]["labels"] == {"alertname": "AlwaysInfo", "severity": "info"}


def test_notifications_and_alert_states_are_on_the_timeline(running) -> None:  # type: ignore[no-untyped-def]
    sinks, timeline, _, _, recorder = running
    events = timeline.events(kind=NOTIFICATION)
    assert len(events) == len(sinks.notifications())
    firing = [e for e in timeline.events(kind=ALERT_STATE, name="AlwaysCritical") if e.data["state"] == "firing"]
    assert firing, f"no firing state recorded; recorder error: {recorder.last_error}"
    am = timeline.events(kind=AM_STATE, name="AlwaysCritical")
    assert am and am[0].data["state"] == "active", (recorder.last_error, recorder.polls)
    first_notification = min(e.t for e in events if e.name == "slack-critical")
    assert firing[0].t <= first_notification + EVAL_S
