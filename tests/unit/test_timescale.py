"""The time-scale rewrite: every duration scaled, nothing else touched, errors named."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.config import RULES_DIR
from harness.core.errors import ValidationError
from harness.core.promql import durations, parse, print_expr, structure
from harness.rules.packs import parse_rules
from harness.rules.timescale import rewrite_rules, scale_duration, scale_expr

SEED_PACKS = sorted(RULES_DIR.glob("*.yml"))


def test_seed_packs_present() -> None:
    names = {p.name for p in SEED_PACKS}
    assert {"betting-alerts.yml", "petforce-slo.yml", "petforce-golden-signals.yml", "reference.yml"} <= names


@pytest.mark.parametrize(("text", "scale", "want"), [
    ("5m", 60, "5s"), ("1h", 60, "1m"), ("30s", 60, "500ms"), ("10s", 60, "167ms"), ("30d", 60, "12h"),
    ("1h30m", 2, "45m"), ("0s", 60, "0s"), ("5m", 1, "5m"), ("250ms", 0.5, "500ms"),
])
def test_scale_duration(text: str, scale: float, want: str) -> None:
    assert scale_duration(text, scale) == want


def test_scale_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        scale_duration("5 minutes", 60)


@pytest.mark.parametrize(("expr", "want"), [
    ("rate(x[5m]) > 300", "rate(x[5s]) > 300"),
    ('rate(x{a="[5m]"}[5m])', 'rate(x{a="[5m]"}[5s])'),
    ("max_over_time(rate(x[5m])[30m:1m])", "max_over_time(rate(x[5s])[30s:1s])"),
    ("max_over_time(rate(x[5m])[30m:])", "max_over_time(rate(x[5s])[30s:])"),
    ("x offset 1h", "x offset 1m"),
    ("rate(x[5m] offset -1h)", "rate(x[5s] offset -1m)"),
    ('x{offset="5m"} offset 5m', 'x{offset="5m"} offset 5s'),
    ("sum by (offset) (x)", "sum by (offset) (x)"),
    ("time() - t > 90000  # 25h [5m]", "time() - t > 90000  # 25h [5m]"),
    ("predict_linear(x[1h], 3600) < 0", "predict_linear(x[1m], 3600) < 0"),
    ("rate(x[1h30m])", "rate(x[1m30s])"),
    ('x{re=~`a\\[5m]`}[10m]', 'x{re=~`a\\[5m]`}[10s]'),
    ("x @ 1609746000", "x @ 1609746000"),
])
def test_scale_expr(expr: str, want: str) -> None:
    assert scale_expr(expr, 60)[0] == want


@pytest.mark.parametrize("pack", SEED_PACKS, ids=lambda p: p.name)
@pytest.mark.parametrize("scale", [1, 10, 60])
def test_rewrite_seed_pack_scales_every_duration_and_nothing_else(pack: Path, scale: int) -> None:
    text = pack.read_text()
    out = rewrite_rules(text, scale, scrape_interval_s=15 / scale / 4, source=str(pack))
    before, after = parse_rules(text, str(pack)), parse_rules(out, "rewritten")
    assert [g.name for g in before.groups] == [g.name for g in after.groups]
    for g0, g1 in zip(before.groups, after.groups, strict=True):
        if g0.interval_s is None:
            assert g1.interval_s is None
        else:
            assert g1.interval_s == pytest.approx(g0.interval_s / scale, abs=0.0005)
    assert len(before.rules) == len(after.rules)
    scaled = 0
    for r0, r1 in zip(before.rules, after.rules, strict=True):
        assert (r0.name, r0.kind, r0.group, r0.labels, r0.annotations) == (r1.name, r1.kind, r1.group, r1.labels,
                                                                           r1.annotations)
        assert r1.for_s == pytest.approx(r0.for_s / scale, abs=0.0005)
        # The same tree, every duration divided: nothing else changed (layout aside).
        assert structure(r1.expr) == structure(r0.expr, scale), f"{pack.name} {r0.name}: not only durations changed"
        d0, d1 = durations(r0.expr), durations(r1.expr)
        assert [role for role, _ in d0] == [role for role, _ in d1]
        for (_, x0), (_, x1) in zip(d0, d1, strict=True):
            scaled += 1
            assert x1 == pytest.approx(x0 / scale, abs=0.0005)
        if scale == 1:
            assert r1.expr == r0.expr
    assert scaled > 0
    # An oracle independent of the parser under test: every range, subquery step and offset literal.
    literals = sum(len(re.findall(r"\[\s*\d|:\s*\d+(?:ms|[smhdwy])+\s*\]|\boffset\s+-?\d", r.expr))
                   for r in before.rules)
    assert scaled == literals, f"{pack.name}: {scaled} durations scaled, {literals} in the text"


def test_backup_threshold_against_time_is_not_scaled() -> None:
    text = (RULES_DIR / "betting-alerts.yml").read_text()
    out = parse_rules(rewrite_rules(text, 60, scrape_interval_s=0.25, source="b"), "b")
    backup = out.alert("BackupFailed")
    assert "> 90000" in backup.expr
    assert backup.for_s == 60.0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is an OS package of the stack")
@pytest.mark.parametrize("pack", SEED_PACKS, ids=lambda p: p.name)
@pytest.mark.parametrize("scale", [1, 10, 60, 120])
def test_rewritten_packs_pass_promtool(pack: Path, scale: int, tmp_path: Path) -> None:
    out = tmp_path / pack.name
    out.write_text(rewrite_rules(pack.read_text(), scale, scrape_interval_s=15 / scale / 4, source=str(pack)))
    for rule in parse_rules(out.read_text(), str(out)).rules:
        parse(rule.expr)
    proc = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_window_below_four_scrapes_names_file_rule_line_and_largest_scale() -> None:
    pack = RULES_DIR / "betting-alerts.yml"
    with pytest.raises(ValidationError) as err:
        # 15s scrapes: [5m] windows need scale <= 5; the seed's smallest window is 5m.
        rewrite_rules(pack.read_text(), 60, scrape_interval_s=15, source=str(pack))
    e = err.value
    assert e.file == str(pack)
    assert e.line == 8  # QueryLatencyHigh's expr line
    assert "QueryLatencyHigh" in e.field
    assert "largest usable time scale for this file is 5" in e.problem
    assert "--time-scale 5" in e.hint


def test_largest_scale_reported_is_usable() -> None:
    pack = RULES_DIR / "betting-alerts.yml"
    rewrite_rules(pack.read_text(), 5, scrape_interval_s=15, source=str(pack))


def test_bad_for_duration_is_named() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: soon\n"
    with pytest.raises(ValidationError) as err:
        rewrite_rules(text, 60, scrape_interval_s=0.25, source="x.yml")
    assert (err.value.file, err.value.line) == ("x.yml", 6)
    assert "'A'" in err.value.field and "for" in err.value.field


def test_unterminated_string_in_expr_is_named() -> None:
    text = 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x{a="b} == 0\n'
    with pytest.raises(ValidationError) as err:
        rewrite_rules(text, 60, scrape_interval_s=0.25, source="x.yml")
    assert err.value.line == 5 and "unterminated string" in err.value.problem


def test_not_a_rule_file() -> None:
    with pytest.raises(ValidationError) as err:
        rewrite_rules("foo: 1\n", 60, scrape_interval_s=0.25, source="x.yml")
    assert err.value.field == "groups"


def test_seed_expressions_round_trip_through_the_printer() -> None:
    for pack in SEED_PACKS:
        for rule in parse_rules(pack.read_text(), str(pack)).rules:
            printed = print_expr(parse(rule.expr))
            assert structure(printed) == structure(rule.expr)
            assert print_expr(parse(printed)) == printed
            assert scale_expr(rule.expr, 1)[0] == rule.expr
