"""`harness check` on rule files in every accepted format: promtool passes on what they become, and the
report says what was understood of each file and the role of each receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import STACK_DIR
from harness.rules.check import main
from tests.unit.test_rules_formats import K8S, MIMIR, NAMESPACES, THANOS_FILE

pytestmark = pytest.mark.integration


def test_check_reports_each_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for name, text in (("k8s.yml", K8S), ("mimir.yml", MIMIR), ("ns.yml", NAMESPACES), ("thanos.yml", THANOS_FILE)):
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
    rc = main(["--rules", *files, "--alertmanager-config", str(STACK_DIR / "alertmanager" / "reference.yml"),
               "--time-scale", "10"])
    out = capsys.readouterr().out
    assert "Kubernetes PrometheusRule: 2 group(s), 2 alerting rule(s), 1 recording rule(s)" in out
    assert "Mimir/Cortex rule file (mimirtool/cortextool): 1 group(s), 1 alerting rule(s)" in out
    assert "Mimir/Cortex ruler namespace map: 2 group(s)" in out
    assert "Thanos ruler file: 1 group(s)" in out
    assert "note: dropped `source_tenants` from group(s) db" in out
    assert out.count("(promtool ran on the plain Prometheus file it becomes)") == 4
    assert "FAIL" not in out
    assert "pagerduty-critical           role:pager" in out
    assert rc == 0


def test_check_names_a_bad_file_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = tmp_path / "bad.yml", tmp_path / "good.yml"
    bad.write_text(MIMIR.replace("    interval: 1m\n", "    intervl: 1m\n"))
    good.write_text(K8S)
    rc = main(["--rules", str(bad), str(good), "--alertmanager-config",
               str(STACK_DIR / "alertmanager" / "reference.yml")])
    out = capsys.readouterr().out
    assert f"FAIL {bad}" in out and f"{bad}:4: group 'db': intervl: unknown group field" in out
    assert f"OK   {good}" in out
    assert rc == 1
