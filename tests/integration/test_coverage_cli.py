"""`harness coverage` end to end on the local stack, kept short: two failure modes of a few production minutes
against one gauge rule (no event needs, so the run goes at scale 60). A crashed Redis fires and pages; a crashed
redis_exporter leaves `redis_up == 0` without a sample, so nothing fires, and the criteria that want someone told
make the run exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import REFERENCE_ALERTMANAGER, REPO_ROOT

pytestmark = pytest.mark.integration

RULES = """\
groups:
  - name: cache
    rules:
      - alert: RedisDown
        expr: redis_up == 0
        for: 1m
        labels: {severity: critical}
"""

CATALOGUE = """\
modes:
  - name: redis_crashed
    duration: 5m
    warmup: 2m
    faults: [{kind: crash, target: redis, start: 1m, duration: 3m}]
  - name: redis_exporter_crashed
    duration: 5m
    warmup: 2m
    faults: [{kind: crash, target: redis_exporter, start: 1m, duration: 3m}]
"""

CRITERIA = """\
page:
  redis_crashed: 3m
notify:
  redis_exporter_crashed: ~
"""


def test_coverage_maps_modes_to_alerts_and_pages_and_exits_1_on_a_blind_spot(tmp_path: Path) -> None:
    files = {"rules.yml": RULES, "modes.yaml": CATALOGUE, "criteria.yaml": CRITERIA}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "coverage", "--rules", str(tmp_path / "rules.yml"),
         "--alertmanager-config", str(REFERENCE_ALERTMANAGER), "--catalogue", str(tmp_path / "modes.yaml"),
         "--criteria", str(tmp_path / "criteria.yaml"), "--time-scale", "60", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "HARNESS_REPORTS_DIR": str(tmp_path / "reports")})
    assert proc.returncode == 1, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    crashed, blind = doc["failure_modes"]
    assert crashed["name"] == "redis_crashed" and crashed["error"] is None
    assert crashed["fired"] == ["RedisDown"] and crashed["paged"] is True
    assert "pagerduty-critical" in crashed["receivers"]
    assert 60 <= crashed["time_to_page_s"] <= 180          # for: 1m, then group_wait; production seconds
    assert blind["name"] == "redis_exporter_crashed" and blind["error"] is None
    assert blind["fired"] == [] and blind["paged"] is False and blind["receivers"] == []
    assert doc["alerts"] == [{"name": "RedisDown", "severity": ["critical"], "exercised_by": ["redis_crashed"],
                              "fires_on_healthy": False, "healthy_in": []}]
    assert doc["headlines"]["no_alert"] == ["redis_exporter_crashed"]
    assert [(v["mode"], v["observed"]) for v in doc["criteria"]["violations"]] == [
        ("redis_exporter_crashed", "notified nobody: no alert fired")]
    assert "FAIL redis_exporter_crashed must notify someone" in proc.stderr
    summary = json.loads((Path(doc["report"]).parent / "summary.json").read_text())
    assert summary["kind"] == "coverage" and summary["failure_modes"]["failure_modes"][0]["paged"] is True
