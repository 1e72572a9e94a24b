"""write_report: every file of a report directory, partial runs, the latest link, rebuilds, the CLI."""

import json
import os
import re

import pytest

from harness.core.errors import HarnessError
from harness.core.result import ScenarioResult
from harness.report import RunReport, rebuild_index, write_report
from harness.report.cli import main as report_main
from harness.report.sample import sample_run


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    run = sample_run(base / "src")
    index = write_report(run, base / "reports")
    return run, index, base


def figures(html):
    return {m.group(1): json.loads(m.group(2).replace("<\\/", "</"))
            for m in re.finditer(r'<script type="application/json" id="(fig-\d+)">(.*?)</script>', html, re.S)}


def test_directory_holds_every_piece(written):
    run, index, base = written
    run_dir = index.parent
    assert run_dir == base / "reports" / run.run_id
    for name in ("index.html", "summary.json", "junit.xml", "events.jsonl", "records/primary-latency.rec",
                 "records/replica-lag.rec", "scenarios/primary-latency.yaml", "scenarios/replica-lag.yaml"):
        assert (run_dir / name).is_file(), name
    assert len((run_dir / "events.jsonl").read_text().splitlines()) == len(run.events)


def test_summary_counts_and_coverage(written):
    _, index, _ = written
    summary = json.loads((index.parent / "summary.json").read_text())
    assert summary["totals"] == {"scenarios": 2, "passed": 1, "failed": 1, "verdicts": 6, "verdicts_failed": 1,
                                 "dashboard_panels_without_data": 1}
    assert summary["ok"] is False
    assert summary["coverage"]["firing"] == ["HighQueryLatency"]
    assert summary["coverage"]["missed"] == ["ReplicationLagHigh"]
    assert summary["coverage"]["receivers_unreached"] == ["backend-team", "slack-warnings"]
    assert summary["records"] == {"primary-latency": "records/primary-latency.rec",
                                  "replica-lag": "records/replica-lag.rec"}


def test_html_is_self_contained_with_a_chart_per_scenario(written):
    run, index, _ = written
    html = index.read_text()
    for i in range(len(run.scenarios)):
        assert f'<div class="chart" id="chart-{i}" data-figure="fig-{i}">' in html
    assert re.search(r"<script[^>]+src=", html) is None, "everything must be inline (opens without a network)"
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.min.js inlined
    figs = figures(html)
    names = {t.get("name") for t in figs["fig-0"]["data"]}
    assert {"requests/s", "error ratio", "p95 latency", "p99 latency", "pending", "firing", "fault",
            "notification"} <= names
    rps = next(t for t in figs["fig-0"]["data"] if t["name"] == "requests/s")
    assert 30 <= max(v for v in rps["y"] if v is not None) <= 55   # 40 req/s synthesised
    assert figs["fig-0"]["layout"]["shapes"][0]["x0"] == pytest.approx(30.0)   # fault at +30s
    # The failing scenario shows its evidence and the empty lane of the alert that never fired.
    assert "pg_replication_lag_bytes &gt; 1e8" in html
    assert "alert · ReplicationLagHigh" in figs["fig-1"]["layout"]["yaxis4"]["categoryarray"]
    assert "Expected to fire, never did (1)" in html
    assert "Audit findings (1)" in html and "1 of 3 dashboard queries returned no data" in html


def test_latest_points_at_the_newest_run(written, tmp_path):
    run, _index, base = written
    reports = base / "reports"
    assert os.readlink(reports / "latest") == run.run_id
    second = write_report(RunReport(run_id="second", kind="pytest"), reports)
    assert (reports / "latest").resolve() == second.parent.resolve()
    assert not [p for p in reports.iterdir() if p.name.startswith(".latest")]


def test_partial_run_never_raises(tmp_path):
    s = ScenarioResult(name="cut short", file=str(tmp_path / "gone.yaml"), started=3.0, ended=3.0, time_scale=60,
                       records_file=str(tmp_path / "missing.rec"), error="KeyboardInterrupt")
    run = RunReport(run_id="partial", interrupted=True, scenarios=[s], mono_start=None)
    index = write_report(run, tmp_path / "reports")
    html = index.read_text()
    assert 'id="chart-0"' in html and "interrupted" in html
    summary = json.loads((index.parent / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert any("missing.rec" in n for n in summary["notes"])
    assert any("gone.yaml" in n for n in summary["notes"])


def test_unreadable_records_become_a_note(tmp_path):
    bad = tmp_path / "torn.rec"
    bad.write_bytes(b"not a records file at all")
    s = ScenarioResult(name="s", file="", started=0.0, ended=10.0, time_scale=1, records_file=str(bad))
    index = write_report(RunReport(run_id="torn", scenarios=[s], mono_start=0.0), tmp_path / "reports")
    summary = json.loads((index.parent / "summary.json").read_text())
    assert any("unreadable" in n for n in summary["notes"])
    assert "records unreadable" in index.read_text()


def test_empty_run(tmp_path):
    index = write_report(RunReport(run_id="empty"), tmp_path / "reports")
    assert "No scenario results were recorded" in index.read_text()


def test_unwritable_reports_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HarnessError, match="cannot create the report directory"):
        write_report(RunReport(run_id="x"), blocker)


def test_rebuild_from_summary_and_events(written, tmp_path):
    _, index, _ = written
    before = figures(index.read_text())
    index.unlink()
    rebuilt = rebuild_index(index.parent)
    after = figures(rebuilt.read_text())
    assert after.keys() == before.keys()
    assert after["fig-0"]["data"][0]["y"] == before["fig-0"]["data"][0]["y"]


def test_cli_prints_path_and_summary(written, capsys):
    _run, index, base = written
    assert report_main(["latest", "--reports-dir", str(base / "reports")]) == 0
    out = capsys.readouterr().out
    # The module fixture's latest may have been moved by another test; either run prints a path + summary.
    assert out.splitlines()[0].endswith("index.html")
    assert report_main([str(index.parent), "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert str(index.resolve()) in out
    assert "1/2 scenarios passed" in out and "FAIL  replica-lag  (fires ReplicationLagHigh)" in out
    assert "Replication Lag: no series matched" in out


def test_cli_unknown_run(tmp_path):
    with pytest.raises(HarnessError, match="no report found for 'nope'"):
        report_main(["nope", "--reports-dir", str(tmp_path)])
