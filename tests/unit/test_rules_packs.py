"""Rule packs load with line numbers; bad files name file, line and field; metric extraction."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import RULES_DIR
from harness.core.errors import ValidationError
from harness.core.promql import metric_names
from harness.rules.exported import exported_by
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


SEED_PETFORCE = Path("/work/shared/seeds/000_838bd9fe73f0b976.txt")


def test_alertmanager_config_is_the_guide_verbatim() -> None:
    lines = SEED_BETTING.read_text().splitlines(keepends=True)
    assert (RULES_DIR.parent.parent / "alertmanager" / "alertmanager.yml").read_text() == "".join(lines[409:474])


def test_slo_pack_rules_are_the_guide_verbatim() -> None:
    # The guide prints two documents, each under its own `groups:`; the pack joins them under one.
    lines = SEED_PETFORCE.read_text().splitlines(keepends=True)
    first, second = "".join(lines[1027:1051]), "".join(lines[1057:1076])
    pack = (RULES_DIR / "petforce-slo.yml").read_text()
    assert first in pack and second in pack


def test_reference_slo_pack_keeps_the_alerts_and_records() -> None:
    seed, ref = load_rules(RULES_DIR / "petforce-slo.yml"), load_rules(RULES_DIR / "reference-slo.yml")
    assert [(a.name, a.labels, a.for_s, a.expr) for a in ref.alerts] == \
        [(a.name, a.labels, a.for_s, a.expr) for a in seed.alerts]
    assert [r.name for r in ref.records] == [r.name for r in seed.records]
    for rule in ref.rules:
        for m in metric_names(rule.expr):
            assert exported_by(m) is not None or m.startswith("slo:"), f"{rule.name}: {m}"


def test_budget_alerts_inherit_the_window_of_the_records_they_read() -> None:
    from harness.core.catalog import load_catalog

    cat = load_catalog([RULES_DIR / "reference.yml", RULES_DIR / "reference-slo.yml"])
    assert cat.effective_window_s("ErrorBudgetExhausted") == 30 * 86400
    assert cat.effective_window_s("RedisDown") == 0
    # At scale 120 a 60 s quiet wait drains 2 h of production windows: only the 30-day budget alerts outlast it.
    assert cat.sticky_alerts(60 * 120) == {"ErrorBudgetExhausted", "ErrorBudgetNearlyExhausted"}
