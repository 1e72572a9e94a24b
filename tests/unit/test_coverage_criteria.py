"""The coverage criteria: parsed and validated with file/line errors, and held against a matrix."""

import pytest

from harness.core.errors import ValidationError
from harness.core.matrix import Firing, Matrix, ModeRow
from harness.scenario.criteria import (
    DEFAULT_CRITERIA,
    CriteriaInvalid,
    criteria_errors,
    judge,
    load_criteria,
    parse_criteria,
)
from harness.scenario.failure_modes import load_failure_modes, parse_failure_modes

CATALOGUE = parse_failure_modes("""\
modes:
  - name: healthy
    duration: 10m
  - name: db_down
    duration: 15m
    faults: [{kind: crash, target: postgres_primary, start: 2m, duration: 10m}]
  - name: disk_full
    duration: 15m
    faults: [{kind: fill_disk, start: 2m, duration: 10m, params: {fraction: 0.95}}]
""", file="fm.yaml")

GOOD = """\
page:
  db_down: 5m
notify:
  disk_full: ~
"""


def _parse_errors(text: str) -> list[str]:
    with pytest.raises(CriteriaInvalid) as info:
        parse_criteria(text, file="c.yaml")
    return [str(e) for e in info.value.errors]


def test_requirements_keep_their_lines_and_limits():
    c = parse_criteria(GOOD, file="c.yaml")
    assert [(r.mode, r.reach, r.within_s, r.line) for r in c.requirements] == [
        ("db_down", "page", 300.0, 2), ("disk_full", "notify", None, 4)]
    assert [r.describe() for r in c.requirements] == ["page someone within 5m", "notify someone"]
    assert criteria_errors(c, CATALOGUE) == []


def test_shape_errors_name_file_line_and_field():
    errs = _parse_errors("page:\n  db_down: soon\nnotfy:\n  disk_full: ~\n")
    assert errs[0].startswith("c.yaml:2: page.db_down: not a duration: 'soon'")
    assert errs[1].startswith("c.yaml:3: notfy: unknown field")
    assert _parse_errors("page: [db_down]\n")[0].startswith("c.yaml:1: page: expected a mapping")
    assert _parse_errors("page:\n  db_down: 0s\n")[0].startswith("c.yaml:2: page.db_down: must be > 0")


def test_a_mode_listed_twice_is_an_error_at_the_second():
    errs = _parse_errors("page:\n  db_down: 5m\nnotify:\n  db_down: ~\n")
    assert errs == ["c.yaml:4: notify.db_down: already listed under page (line 2)\n"
                    "Hint: name each mode once; page implies notify"]


def test_modes_are_checked_against_the_catalogue():
    c = parse_criteria("page:\n  db_dwn: 5m\n  healthy: ~\nnotify:\n  disk_full: 20m\n", file="c.yaml")
    errs = [str(e) for e in criteria_errors(c, CATALOGUE)]
    assert errs[0].startswith("c.yaml:2: page.db_dwn: no failure mode 'db_dwn' in fm.yaml")
    assert "did you mean db_down" in errs[0]
    assert errs[1].startswith("c.yaml:3: page.healthy: healthy has no fault")
    assert errs[2].startswith("c.yaml:5: notify.disk_full: 20m cannot be met: the mode lasts 13m")


def test_empty_file_and_syntax_error():
    assert parse_criteria("", file="c.yaml").requirements == ()
    with pytest.raises(ValidationError, match=r"c.yaml:2: \(syntax\)"):
        parse_criteria("page:\n  db_down: : 5m\n", file="c.yaml")


def _matrix(*rows: ModeRow) -> Matrix:
    return Matrix(tuple(rows), ())


CRITERIA = parse_criteria(GOOD, file="c.yaml")
FIRED = (Firing("PostgreSQLDown", ("critical",), 40.0),)


def test_paged_in_time_and_notified_meet_the_criteria():
    m = judge(CRITERIA, _matrix(
        ModeRow("db_down", firings=FIRED, receivers=("pagerduty",), paged=True, time_to_page_s=70.0,
                time_to_notify_s=70.0),
        ModeRow("disk_full", firings=FIRED, receivers=("slack",), time_to_notify_s=900.0)))
    assert m.ok and m.violations == () and m.criteria_file == "c.yaml"


def test_paging_nobody_late_or_not_running_are_violations_with_what_happened():
    m = judge(CRITERIA, _matrix(
        ModeRow("db_down", firings=FIRED, receivers=("slack",), time_to_notify_s=70.0),
        ModeRow("disk_full")))
    assert not m.ok
    assert [(v.mode, v.requirement, v.observed, v.line) for v in m.violations] == [
        ("db_down", "page someone within 5m",
         "paged nobody: fired PostgreSQLDown; notified slack, none of which pages", 2),
        ("disk_full", "notify someone", "notified nobody: no alert fired", 4)]
    late = judge(CRITERIA, _matrix(ModeRow("db_down", firings=FIRED, receivers=("pd",), paged=True,
                                           time_to_page_s=420.0, time_to_notify_s=420.0)))
    assert late.violations[0].observed == "paged 7m after the fault began, later than 5m"
    broken = judge(CRITERIA, _matrix(ModeRow("db_down", error="FaultError: crash failed")))
    assert broken.violations[0].observed == "the mode did not run: FaultError: crash failed"


def test_refused_notifications_are_said_and_modes_not_run_are_not_judged():
    m = judge(CRITERIA, _matrix(ModeRow("db_down", firings=FIRED, refused=("pagerduty",))))
    assert m.violations[0].observed == ("paged nobody: fired PostgreSQLDown; no receiver was notified "
                                        "(pagerduty refused the notification)")
    assert m.unjudged == ("disk_full",)


def test_the_shipped_criteria_fit_the_shipped_catalogue():
    c = load_criteria(DEFAULT_CRITERIA, load_failure_modes())
    assert {"postgres_primary_crashed", "errors_2pct"} <= {r.mode for r in c.requirements if r.reach == "page"}
