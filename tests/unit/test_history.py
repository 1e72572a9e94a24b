"""Backfilled history: the samples it writes, the counts it holds, the budget verdicts and the scenario field."""

import itertools
import re

import pytest

from harness.core.catalog import Catalog
from harness.core.errors import ValidationError
from harness.core.history import Backfill, BudgetLevels, History, budget_remaining, judge_budget
from harness.core.model import parse_scenario
from harness.core.result import FAIL, PASS
from harness.scenario.suite import validation_context
from harness.scenario.validate import scenario_errors

MONTH = 30 * 86400.0


def plan(good=0.9998, scale=10.0, interval=7.5, end=1_800_000_000.0) -> Backfill:
    return Backfill.plan(History(MONTH, good), load_rate=30.0, scale=scale, end=end, interval_s=interval)


def test_the_window_is_compressed_and_the_rate_is_the_loads():
    p = plan()
    assert p.end - p.start == MONTH / 10          # three days of real time at scale 10
    assert p.rate == 30.0
    total, bad = p.counts(p.start, p.end)
    assert total == pytest.approx(30 * MONTH / 10)
    assert bad == pytest.approx(total * 0.0002)
    # A window that slid past part of the history holds the rest of it.
    half = p.start + (p.end - p.start) / 2
    assert p.counts(half, p.end + 1000)[0] == pytest.approx(total / 2)
    assert p.counts(p.end, p.end + 1000) == (0.0, 0.0)


def test_openmetrics_counters_rise_at_the_rate_with_timestamps_and_end_marker():
    p = plan(interval=3600.0)
    text = p.openmetrics()
    assert text.startswith("# HELP http_requests ") and "# TYPE http_requests counter\n" in text
    assert text.endswith("# EOF\n")
    samples = re.findall(r'^http_requests_total\{([^}]*)\} (\S+) (\S+)$', text, re.M)
    good = [(float(v), float(t)) for labels, v, t in samples if 'status="200"' in labels]
    bad = [(float(v), float(t)) for labels, v, t in samples if 'status="500"' in labels]
    assert len(good) == len(bad) == 73              # 72 hours of hourly samples, both ends included
    assert good[0] == (0.0, p.start) and good[-1][1] == p.end
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(good))
    assert good[-1][0] + bad[-1][0] == pytest.approx(30 * MONTH / 10)
    assert 'job="api",instance="history"' in samples[0][0]


def test_budget_left_is_bad_over_all_against_the_objectives_allowance():
    assert budget_remaining(1_000_000, 790, 0.999) == pytest.approx(0.21)
    assert budget_remaining(1000, 2, 0.999) == pytest.approx(-1.0)
    assert budget_remaining(0, 0, 0.999) == 1.0


def test_a_budget_check_holds_ground_truth_to_the_statement_and_the_record_to_ground_truth():
    levels = BudgetLevels(truth_start=0.21, truth_end=0.181, rule_start=0.2102, rule_end=0.1815)
    start, consumed, follows = judge_budget("b", levels, consumed=0.0285, tolerance=0.01, start=0.21)
    assert start.status == consumed.status == follows.status == PASS
    assert consumed.observed.startswith("2.90% consumed")
    # A record that does not move while ground truth spends 3 points (an average that ignores the burst).
    stuck = BudgetLevels(0.21, 0.18, 0.21, 0.21)
    assert [v.status for v in judge_budget("b", stuck, consumed=0.03, tolerance=0.01)] == [PASS, FAIL]
    # A scenario whose fault spent far less than it claims fails its own premise.
    weak = BudgetLevels(0.21, 0.205, 0.21, 0.205)
    assert judge_budget("b", weak, consumed=0.03, tolerance=0.01)[0].status == FAIL
    missing = judge_budget("b", BudgetLevels(0.21, 0.18, None, 0.18), consumed=0.03, tolerance=0.01)
    assert missing[-1].status == FAIL and "returned nothing" in missing[-1].observed


SCN = """\
name: burn
duration: 15m
history: {window: 30d, good_ratio: 99.921%}
faults:
  - {kind: proxy_down, target: pg_primary, start: 3m, duration: 5m}
expect:
  - error_budget: slo:api:error_budget:remaining
    objective: 0.999
    consumed: 2.85%
"""


def test_history_and_budget_parse_and_validate():
    scn = parse_scenario(SCN, file="burn.yaml")
    assert scn.history == History(MONTH, pytest.approx(0.99921))
    ctx = validation_context(Catalog(alerts={}, records=frozenset({"slo:api:error_budget:remaining"})))
    assert scenario_errors(scn, ctx) == []
    wrong = scenario_errors(parse_scenario(SCN.replace("remaining", "remainig").replace("2.85%", "lots"),
                                           file="burn.yaml"), ctx)
    assert [e.field for e in wrong] == ["error_budget", "error_budget.consumed"]
    assert "did you mean" in wrong[0].hint or "remaining" in wrong[0].hint
    no_history = scenario_errors(parse_scenario(SCN.replace("history: {window: 30d, good_ratio: 99.921%}\n", ""),
                                                file="burn.yaml"), ctx)
    assert [e.field for e in no_history] == ["error_budget"] and "history" in no_history[0].problem


@pytest.mark.parametrize("history, field", [
    ("{window: 30d}", "history.good_ratio"),
    ("{window: 30d, good_ratio: 1.5}", "history.good_ratio"),
    ("{window: soon, good_ratio: 0.99}", "history.window"),
    ("{window: 30d, good_ratio: 0.99, rate: -3}", "history.rate"),
    ("{window: 30d, good_ratio: 0.99, ratio: 1}", "history.ratio"),
])
def test_a_bad_history_names_file_line_and_field(history, field):
    with pytest.raises(ValidationError) as err:
        parse_scenario(SCN.replace("{window: 30d, good_ratio: 99.921%}", history), file="burn.yaml")
    assert err.value.field == field and err.value.file == "burn.yaml" and err.value.line == 3
