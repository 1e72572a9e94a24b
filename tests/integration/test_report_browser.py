"""The report in a real browser: headless Chromium loads a real run's index.html (the demo's: `harness demo`
run here exactly as `make demo` runs it) from disk with no network; every scenario's chart draws (plotly
created its svg and drew the metric lines and lanes), the console stays clean, and a screenshot is taken."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.core.errors import HarnessError
from harness.core.result import ScenarioResult
from harness.report import RunReport, write_report
from harness.report.browser import check_page, find_chromium
from harness.scenario.tour import PUBLISHED_TOUR, REFERENCE_TOUR

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.solo]

# Set HARNESS_KEEP_SCREENSHOTS=DIR to keep the PNGs for a look.
KEEP = os.environ.get("HARNESS_KEEP_SCREENSHOTS")


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return find_chromium()
    except HarnessError:
        # The test set-up installs Debian's chromium, as `make setup` does.
        subprocess.run(["bash", str(REPO_ROOT / "stack" / "install-os-packages.sh"), "chromium"], check=True,
                       timeout=600)
        return find_chromium()


def _keep(png: Path) -> None:
    if KEEP:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(KEEP) / png.name)


def _own_chromium_processes(profile_prefix: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if profile_prefix in line]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`harness demo` once (about 2-3 min), its reports written to a directory of this test's own."""
    reports = tmp_path_factory.mktemp("demo-reports")
    env = {**os.environ, "HARNESS_REPORTS_DIR": str(reports)}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "demo"], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=600)
    return proc, reports / "latest"


def test_the_demo_behaves_as_expected_and_says_where_its_report_is(demo):
    proc, run_dir = demo
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    assert "Tour as expected" in proc.stdout
    assert f"Report: {run_dir.resolve() / 'index.html'}" in proc.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["kind"] == "demo"
    assert [s["name"] for s in summary["scenarios"]] == [
        Path(f).stem for f in (*REFERENCE_TOUR, *PUBLISHED_TOUR)]


def test_the_demo_report_draws_every_chart_without_console_errors(chromium, demo):
    _, run_dir = demo
    index = run_dir / "index.html"
    n_scenarios = len(json.loads((run_dir / "summary.json").read_text())["scenarios"])
    assert n_scenarios == len(REFERENCE_TOUR) + len(PUBLISHED_TOUR)
    shot = run_dir / "report.png"
    started = time.monotonic()
    page = check_page(index, shot, chromium=chromium)
    elapsed = time.monotonic() - started
    _keep(shot)

    assert [c["id"] for c in page.charts] == [f"chart-{i}" for i in range(n_scenarios)]
    for chart in page.charts:
        assert chart["drawn"], chart
        assert chart["svgs"] >= 2, chart        # plotly's main-svg layers
        assert chart["traces"] >= 4, chart      # the metric lines and the lanes, not an empty frame
        assert chart["height"] > 400, chart
    assert page.console_errors == []
    # Self-contained: the page itself is the only thing loaded.
    assert [u for u in page.requests if not u.startswith(("file://", "data:"))] == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert elapsed < 45
    assert _own_chromium_processes("harness-chromium-") == []


def test_partial_report_still_draws(chromium, tmp_path):
    # An interrupted run: one scenario without records, no events, no coverage inputs.
    s = ScenarioResult(name="interrupted scenario", file="", started=0.0, ended=4.0, time_scale=60,
                       error="KeyboardInterrupt")
    index = write_report(RunReport(run_id="partial", interrupted=True, scenarios=[s]), tmp_path / "reports")
    shot = tmp_path / "partial.png"
    before = set(Path(tempfile.gettempdir()).glob("org.chromium.Chromium.*"))
    page = check_page(index, shot, chromium=chromium)
    _keep(shot)
    assert len(page.charts) == 1 and page.charts[0]["drawn"] and page.charts[0]["svgs"] >= 2
    assert page.console_errors == []
    # Nothing left behind: not even Chromium's singleton directory.
    assert set(Path(tempfile.gettempdir()).glob("org.chromium.Chromium.*")) - before == set()


def test_the_checks_can_fail(chromium, tmp_path):
    # The same probe on a broken page reports the console error and the chart that did not draw.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                   '<div class="chart" id="chart-0"></div>'
                   "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    page = check_page(bad, chromium=chromium, timeout=3.0)
    assert page.charts == [{"id": "chart-0", "svgs": 0, "drawn": False, "traces": 0, "height": 0}]
    assert not page.all_drawn
    assert any("boom" in e for e in page.console_errors)
    assert any("undefinedFunction" in e for e in page.console_errors)
