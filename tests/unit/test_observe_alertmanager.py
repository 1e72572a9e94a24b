from harness.observe.alertmanager import AlertmanagerClient


class FakeSession:
    """Alertmanager's /api/v2/alerts: GET lists what it holds, POST records what was sent."""

    def __init__(self, held):
        self.held = held
        self.posted = []

    def get(self, url, **kw):
        return Reply(self.held)

    def post(self, url, json=None, **kw):
        self.posted.extend(json)
        return Reply(None)


class Reply:
    def __init__(self, body):
        self.body = body

    def raise_for_status(self):
        return None

    def json(self):
        return self.body


def held(name, **labels):
    return {"labels": {"alertname": name, "harness": "local", **labels}, "startsAt": "2026-12-01T00:00:00Z"}


def test_alerts_prometheus_no_longer_has_are_resolved_and_the_rest_left_alone():
    session = FakeSession([held("PostgreSQLDown", severity="critical"), held("RedisDown", severity="critical")])
    am = AlertmanagerClient("http://am", session=session)
    # Prometheus sends without its external labels in this comparison; RedisDown still fires there.
    resolved = am.resolve_stale([{"alertname": "RedisDown", "severity": "critical"}])
    assert resolved == ["PostgreSQLDown"]
    assert [p["labels"]["alertname"] for p in session.posted] == ["PostgreSQLDown"]
    assert session.posted[0]["endsAt"] and session.posted[0]["labels"]["harness"] == "local"


def test_nothing_is_sent_when_alertmanager_and_prometheus_agree():
    session = FakeSession([held("RedisDown")])
    assert AlertmanagerClient("http://am", session=session).resolve_stale([{"alertname": "RedisDown"}]) == []
    assert session.posted == []
