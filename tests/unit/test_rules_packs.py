"""Rule packs load with line numbers; bad files name file, line and field; metric extraction."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import RULES_DIR
from harness.errors import ValidationError
from harness.rules.exported import exported_by
from harness.rules.metrics import metric_names
from harness.rules.packs import load_rules, parse_rules

SEED_BETTING = Path("/work/shared/seeds/004_6250824e744069c1.txt")


def test_betting_pack_is_the_guide_verbatim() -> None:
    lines = SEED_BETTING.read_text().splitlines(keepends=True)
    assert (RULES_DIR / "betting-alerts.yml").read_text() == "".join(lines[257:402])


def test_betting_pack_lines() -> None:
    pack = load_rules(RULES_DIR / "betting-alerts.yml")
    assert [g.name for g in pack.groups] == ["database", "cache", "application"]
    assert len(pack.alerts) == 11
    assert pack.alert("BackupFailed").line == 43 and pack.alert("BackupFailed").for_s == 3600


def test_slo_pack_has_both_groups() -> None:
    pack = load_rules(RULES_DIR / "petforce-slo.yml")
    assert [g.name for g in pack.groups] == ["slos", "slo_alerts"]
    assert len(pack.records) == 3 and len(pack.alerts) == 2


def test_reference_pack_keeps_names_and_labels() -> None:
    seed, ref = load_rules(RULES_DIR / "betting-alerts.yml"), load_rules(RULES_DIR / "reference.yml")
    ref_alerts = [(a.name, a.labels, a.for_s) for a in ref.alerts]
    # Every published alert is kept as it was named and labelled; the only addition is the critical tier
    # of ConnectionPoolNearLimit that the inhibit rule needs (scenarios/inhibition.yaml).
    added = [r for r in ref_alerts if r not in [(a.name, a.labels, a.for_s) for a in seed.alerts]]
    assert added == [("ConnectionPoolNearLimit", {"severity": "critical", "team": "dbre"}, 300.0)]
    assert [r for r in ref_alerts if r not in added] == [(a.name, a.labels, a.for_s) for a in seed.alerts]


def test_reference_pack_reads_only_exported_metrics() -> None:
    for rule in load_rules(RULES_DIR / "reference.yml").rules:
        for m in metric_names(rule.expr):
            assert exported_by(m) is not None, f"{rule.name}: {m}"


@pytest.mark.parametrize(("text", "line", "field"), [
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 min\n", 6, "for"),
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        exp: up\n", 4, "rule 'A'"),
    ("groups:\n  - name: g\n    rules:\n      - expr: up\n", 4, "rules[0]"),
    ("groups:\n  - rules: []\n", 2, "name"),
    ("groups: [\n", None, "yaml"),
])
def test_errors_name_line_and_field(text: str, line: int | None, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rules(text, "bad.yml")
    assert err.value.file == "bad.yml"
    if line is not None:
        assert err.value.line == line
    assert field in err.value.field


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        load_rules(tmp_path / "nope.yml")
    assert "nope.yml" in str(err.value)


def test_metric_names_skip_functions_labels_and_grouping() -> None:
    expr = 'sum by (job) (rate(a{x="y"}[5m])) / on (job) group_left (z) b > 0 and slo:x:y'
    assert metric_names(expr) == ["a", "b", "slo:x:y"]
