"""The betting guide's Grafana dashboards, and checking each panel query against Prometheus."""

import json
import math

import pytest

from harness.core.errors import HarnessError
from harness.observe.prometheus import Sample
from harness.report.dashboards import DASHBOARDS_DIR, check_dashboards, dashboard_targets

GUIDE_QUERIES = {
    "Database Overview": [
        "histogram_quantile(0.95, rate(query_duration_seconds_bucket[5m]))",
        "sum(rate(pg_stat_database_xact_commit[1m]))",
        'pg_stat_activity_count{state="active"}',
        "pg_replication_lag_bytes",
        "rate(pg_stat_database_blks_hit[5m]) / \n"
        "(rate(pg_stat_database_blks_hit[5m]) + rate(pg_stat_database_blks_read[5m]))",
        "rate(pg_stat_database_xact_commit[5m])",
        "rate(pg_stat_database_xact_rollback[5m])",
    ],
    "Application Overview": [
        "sum(rate(http_requests_total[1m])) by (endpoint)",
        'sum(rate(http_requests_total{status=~"5.."}[5m])) / \nsum(rate(http_requests_total[5m]))',
        "sum(rate(http_request_duration_seconds_bucket[5m])) by (le)",
        'sum(rate(cache_requests_total{result="hit"}[5m])) /\nsum(rate(cache_requests_total[5m]))',
    ],
}
FILES = {"Database Overview": DASHBOARDS_DIR / "database-overview.json",
         "Application Overview": DASHBOARDS_DIR / "application-overview.json"}


class FakeProm:
    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        answer = self.answers.get(expr, [])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def query_range(self, expr, start, end, step):
        self.asked.append((expr, start, end))
        return self.answers.get(expr, [])


@pytest.mark.parametrize("title", list(FILES))
def test_dashboards_carry_exactly_the_guide_queries(title):
    got_title, targets = dashboard_targets(FILES[title])
    assert got_title == title
    assert [expr for _, _, expr in targets] == GUIDE_QUERIES[title]
    raw = json.loads(FILES[title].read_text())
    for panel in raw["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert all(t["datasource"]["uid"] == "prometheus" for t in panel["targets"])
    assert len({p["id"] for p in raw["panels"]}) == len(raw["panels"])


def test_check_lists_panels_without_data():
    ok = [Sample({"endpoint": "/api/bets"}, 3.2, 0.0)]
    nan_only = [Sample({}, math.nan, 0.0)]
    prom = FakeProm({
        "sum(rate(http_requests_total[1m])) by (endpoint)": ok,
        GUIDE_QUERIES["Application Overview"][1]: nan_only,
        "sum(rate(http_request_duration_seconds_bucket[5m])) by (le)": HarnessError("Prometheus /api/v1/query failed"),
    })
    checks = check_dashboards([FILES["Application Overview"]], prom)
    by_panel = {c.panel: c for c in checks}
    assert by_panel["Request Rate"].status == "ok" and by_panel["Request Rate"].series == 1
    assert by_panel["Error Rate"].status == "no data" and "NaN" in by_panel["Error Rate"].detail
    assert by_panel["Latency Heatmap"].status == "error"
    assert by_panel["Cache Hit Rate"].status == "no data" and by_panel["Cache Hit Rate"].detail == "no series matched"
    assert len(prom.asked) == 4


def test_range_check_and_grafana_variables(tmp_path):
    dash = tmp_path / "d.json"
    dash.write_text(json.dumps({"title": "T", "panels": [
        {"title": "row", "type": "row", "panels": [
            {"title": "P", "targets": [{"refId": "A", "expr": "rate(x[$__rate_interval])"}]}]},
        {"title": "Q", "targets": [{"refId": "A", "expr": "up{job=\"$job\"}"}]}]}))
    prom = FakeProm({"rate(x[1m])": [({}, [(1.0, math.nan), (2.0, 4.0)])]})
    checks = check_dashboards([dash], prom, window=(100.0, 200.0))
    assert [(c.panel, c.status) for c in checks] == [("P", "ok"), ("Q", "error")]
    assert "$job" in checks[1].detail
    assert prom.asked == [("rate(x[1m])", 100.0, 200.0)]


def test_broken_dashboard_file_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x", "panels": [\n  {')
    checks = check_dashboards([bad], FakeProm({}))
    assert len(checks) == 1 and checks[0].status == "error"
    assert "bad.json:2" in checks[0].detail
