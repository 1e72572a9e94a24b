"""Mutant generation: one edit each, the rest of the files byte for byte, equivalence reasons, directions."""

from __future__ import annotations

import difflib
from pathlib import Path

import promql_parser
import pytest

from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.errors import HarnessError
from harness.core.routing import build_route
from harness.rules.exprtree import BINARY, SELECTOR, parse_expr
from harness.rules.mutants import (
    BRANCH_REMOVED,
    COMPARISON_INVERTED,
    EITHER,
    FOR_X10,
    LABELS,
    MATCHER_CHANGED,
    METRIC_MISSPELLED,
    SEVERITY_CHANGED,
    STRONGER,
    THRESHOLD_DIV10,
    THRESHOLD_X10,
    WEAKER,
    SeverityRouting,
    generate_from_texts,
    generate_mutants,
    misspell,
    renamed_pack,
)
from harness.rules.packs import parse_rules

RULES = """\
groups:
  - name: g
    interval: 30s
    rules:
      # a comment that must survive
      - alert: Down
        expr: up{job="redis"} == 0 or redis_up == 0
        for: 1m
        labels:
          severity: critical
      - alert: Slow
        expr: |
          histogram_quantile(0.95, sum by (le) (rate(d_bucket{q="a"}[5m]))) > 0.05  # 50 ms
        labels: {severity: warning}
      - record: r:x
        expr: sum(rate(x{q="b"}[5m]))
"""

SAME_ROUTE = SeverityRouting(build_route({"receiver": "all"}), inhibit_reads_severity=False, values=())
SPLIT_ROUTE = SeverityRouting(build_route({"receiver": "default", "routes": [
    {"match": {"severity": "critical"}, "receiver": "pager"}]}), inhibit_reads_severity=False, values=("critical",))


def _gen(routing: SeverityRouting | None = SPLIT_ROUTE, text: str = RULES, **kw):
    return generate_from_texts({"rules.yml": text}, routing, **kw)


def _one(ms, operator: str, alert: str, contains: str = ""):
    found = [m for m in ms.mutants if m.operator == operator and m.alert == alert and contains in m.description]
    assert len(found) == 1, [m.description for m in found]
    return found[0]


def _diff(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("---", "+++"))]


def test_each_mutant_is_one_edit_of_one_rule() -> None:
    ms = _gen()
    assert ms.mutants
    for m in ms.mutants:
        (path, text), = m.files
        diff = _diff(RULES, text)
        assert len(diff) == 2, (m.description, diff)              # one line out, one line in
        assert "# a comment that must survive" in text
        before, after = parse_rules(RULES, path).rules, parse_rules(text, path).rules
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert changed == [m.rule_index]
        promql_parser.parse(m.rule.expr)                          # every mutated expression parses


def test_other_files_stay_byte_identical() -> None:
    other = "groups:\n  - name: h\n    rules:\n      - alert: Other\n        expr: vector(1) > 0  # keep\n"
    ms = generate_from_texts({"a.yml": RULES, "b.yml": other}, None, alerts=["Down"])
    for m in ms.mutants:
        assert dict(m.files)["b.yml"] == other
        assert m.file == "a.yml"


def test_thresholds_scale_both_ways_with_direction() -> None:
    ms = _gen()
    up = _one(ms, THRESHOLD_X10, "Slow")
    down = _one(ms, THRESHOLD_DIV10, "Slow")
    assert up.description == "threshold 0.05 -> 0.5" and up.direction == WEAKER
    assert down.description == "threshold 0.05 -> 0.005" and down.direction == STRONGER
    assert "> 0.5  # 50 ms" in up.rule.expr
    assert "between the threshold 0.05 and 0.5 that must fire" in up.hint
    assert "near-miss" in down.hint


def test_zero_threshold_is_equivalent_with_reason() -> None:
    ms = _gen()
    zero = [s for s in ms.skipped if s.alert == "Down" and s.operator in (THRESHOLD_X10, THRESHOLD_DIV10)]
    assert len(zero) == 4          # two comparisons with 0, x10 and /10 each
    assert all("0 scaled is still 0" in s.reason for s in zero)


def test_absent_for_is_equivalent_and_present_for_scales() -> None:
    ms = _gen()
    assert any(s.alert == "Slow" and s.operator == FOR_X10 and "0 x 10 is still 0" in s.reason for s in ms.skipped)
    m = _one(ms, FOR_X10, "Down")
    assert m.description == "for 1m -> 10m" and m.rule.for_s == 600 and m.direction == WEAKER


def test_comparison_inverted() -> None:
    ms = _gen()
    m = _one(ms, COMPARISON_INVERTED, "Slow")
    assert "<= 0.05" in m.rule.expr and m.direction == EITHER
    assert len([x for x in ms.mutants if x.operator == COMPARISON_INVERTED and x.alert == "Down"]) == 2


def test_or_branches_removed_each() -> None:
    ms = _gen()
    first = _one(ms, BRANCH_REMOVED, "Down", "branch 1 of 2")
    second = _one(ms, BRANCH_REMOVED, "Down", "branch 2 of 2")
    assert first.rule.expr.strip() == "redis_up == 0"
    assert second.rule.expr.strip() == 'up{job="redis"} == 0'
    assert first.direction == second.direction == WEAKER
    assert "checked with labels:" in first.hint


def test_and_branch_removal_directions() -> None:
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "a / b > 0.9 and on (instance) b > 0")
    ms = _gen(text=text, alerts=["Down"])
    assert _one(ms, BRANCH_REMOVED, "Down", "branch 2 of 2").direction == STRONGER   # a filter gone
    assert _one(ms, BRANCH_REMOVED, "Down", "branch 2 of 2").rule.expr.strip() == "a / b > 0.9"
    assert _one(ms, BRANCH_REMOVED, "Down", "branch 1 of 2").direction == EITHER


def test_matcher_takes_another_value_of_the_files_else_one_no_series_has() -> None:
    ms = _gen()
    m = _one(ms, MATCHER_CHANGED, "Slow")
    assert 'd_bucket{q="b"}' in m.rule.expr          # q="b" is the recording rule's value
    assert m.direction == EITHER
    nothing = _one(ms, MATCHER_CHANGED, "Down")
    assert 'up{job="redis-mutated"}' in nothing.rule.expr and "selects no series" in nothing.description
    assert nothing.direction == WEAKER


def test_metric_misspelled_names_nothing_known() -> None:
    ms = _gen()
    m = _one(ms, METRIC_MISSPELLED, "Down", "redis_up")
    assert "redis_u == 0" in m.rule.expr and m.direction == WEAKER
    assert misspell("up", {"u"}) == "pu"
    assert misspell("abc", set()) == "ab"


def test_misspelling_under_absent_makes_the_alert_fire_more() -> None:
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "absent(redis_up)")
    ms = _gen(text=text, alerts=["Down"])
    assert _one(ms, METRIC_MISSPELLED, "Down").direction == STRONGER


def test_threshold_under_unless_flips() -> None:
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "a unless b > 5")
    ms = _gen(text=text, alerts=["Down"])
    assert _one(ms, THRESHOLD_X10, "Down").direction == STRONGER     # b > 50 removes fewer of a


def test_less_than_threshold_directions() -> None:
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "hits / total < 0.8")
    ms = _gen(text=text, alerts=["Down"])
    assert _one(ms, THRESHOLD_X10, "Down").direction == STRONGER
    assert _one(ms, THRESHOLD_DIV10, "Down").direction == WEAKER
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "0.8 > hits / total")
    ms = _gen(text=text, alerts=["Down"])
    assert _one(ms, THRESHOLD_X10, "Down").direction == STRONGER


def test_severity_changes_to_a_value_routed_elsewhere() -> None:
    ms = _gen(SPLIT_ROUTE)
    m = _one(ms, SEVERITY_CHANGED, "Down")
    assert m.description == "severity critical -> warning" and m.rule.labels["severity"] == "warning"
    assert m.direction == LABELS and "pager" in m.hint
    flow = _one(ms, SEVERITY_CHANGED, "Slow")
    assert flow.rule.labels["severity"] == "critical"
    assert "labels: {severity: critical}" in dict(flow.files)["rules.yml"]


def test_severity_routed_the_same_everywhere_is_equivalent() -> None:
    ms = _gen(SAME_ROUTE)
    assert not [m for m in ms.mutants if m.operator == SEVERITY_CHANGED]
    reasons = [s.reason for s in ms.skipped if s.operator == SEVERITY_CHANGED]
    assert len(reasons) == 2 and all("routes" in r and "no inhibit rule reads severity" in r for r in reasons)


def test_severity_read_by_an_inhibit_rule_is_not_equivalent() -> None:
    inhibiting = SeverityRouting(SAME_ROUTE.root, inhibit_reads_severity=True, values=("critical", "warning"))
    m = _one(_gen(inhibiting), SEVERITY_CHANGED, "Down")
    assert "inhibit" in m.hint


def test_unknown_alert_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match="no alert named Nope") as err:
        _gen(alerts=["Nope"])
    assert "Down" in str(err.value)


def test_quoted_expression_is_skipped_with_a_hint() -> None:
    text = RULES.replace('expr: up{job="redis"} == 0 or redis_up == 0', "expr: 'redis_up == 0'")
    ms = _gen(text=text, alerts=["Down"])
    assert any("quoted string" in s.reason for s in ms.skipped)
    assert _one(ms, FOR_X10, "Down")            # `for` and labels are still edited


def test_identical_branches_are_equivalent() -> None:
    text = RULES.replace('up{job="redis"} == 0 or redis_up == 0', "redis_up == 0 or redis_up == 0")
    ms = _gen(text=text, alerts=["Down"])
    assert not [m for m in ms.mutants if m.operator == BRANCH_REMOVED]
    assert [s.reason for s in ms.skipped if s.operator == BRANCH_REMOVED] == [
        "equivalent: branch 2 is the same expression (x or x is x)",
        "equivalent: branch 1 is the same expression (x or x is x)"]


def test_renamed_pack_renames_each_mutant_and_loads() -> None:
    ms = _gen()
    text = renamed_pack(ms.mutants)
    pack = parse_rules(text, "mutants.yml")
    assert [r.name for r in pack.alerts] == [m.renamed for m in ms.mutants]
    assert pack.groups[0].interval_s == 30
    assert pack.alerts[0].labels == ms.mutants[0].rule.labels


def test_reference_packs() -> None:
    ms = generate_mutants(reference_rule_files(), REFERENCE_ALERTMANAGER)
    assert len(ms.mutants) > 100
    # Every skip is an equivalence, none an edit the harness could not make.
    assert all(s.reason.startswith("equivalent") for s in ms.skipped), [s.reason for s in ms.skipped]
    # The reference config routes critical and warning apart and its inhibit rule reads severity.
    assert {m.alert for m in ms.mutants if m.operator == SEVERITY_CHANGED} == set(ms.alerts)
    for m in ms.mutants:
        promql_parser.parse(m.rule.expr)
        for path, text in m.files:
            if path != m.file:
                assert text == Path(path).read_text()
    ids = [m.id for m in ms.mutants]
    assert len(set(ids)) == len(ids)


def test_span_tree_reads_the_structure() -> None:
    root = parse_expr('sum by (x) (rate(a{b="c"}[5m])) / on (x) group_left max(d) > bool 0.5 or -e offset 5m')
    assert root.kind == BINARY and root.op == "or"
    cmp_node = root.children[0]
    assert cmp_node.op == ">" and cmp_node.bool_modifier
    selectors = [n.text for n in root.walk() if n.kind == SELECTOR]
    assert selectors == ["a", "d", "e"]


def test_a_renamed_mutant_takes_the_rules_sharing_its_alert_name_along() -> None:
    tiers = RULES + ("      - alert: Slow\n        expr: |\n          histogram_quantile(0.95, sum by (le) "
                     "(rate(d_bucket[5m])))\n            > 0.5\n        labels: {severity: critical}\n")
    ms = generate_from_texts({"rules.yml": tiers}, SPLIT_ROUTE, alerts=["Slow"])
    m = _one(ms, THRESHOLD_X10, "Slow", "0.05 -> 0.5")
    assert [r.labels["severity"] for r, _ in m.siblings] == ["critical"]
    pack = parse_rules(renamed_pack([m]), "mutants.yml")
    assert [(r.name, r.labels["severity"]) for r in pack.alerts] == [(m.renamed, "warning"), (m.renamed, "critical")]
    assert "expr: |" in renamed_pack([m])          # multi-line expressions stay blocks
