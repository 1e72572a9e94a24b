"""The failure-mode catalogue: the shipped one holds every fault the stack offers; bad catalogues fail with
file, line and field."""

import pytest

from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.catalog import load_catalog
from harness.core.errors import HarnessError, ValidationError
from harness.faults.spec import KIND_SPECS
from harness.scenario.failure_modes import (
    CatalogueInvalid,
    is_baseline,
    load_failure_modes,
    observing_every_alert,
    parse_failure_modes,
    untouched,
)
from harness.scenario.suite import validation_context
from harness.scenario.validate import validate_scenarios

TWO = """\
history: {window: 30d, good_ratio: 0.9998}
modes:
  - name: healthy
    duration: 10m
  - name: redis_crashed
    description: Redis is killed.
    duration: 15m
    history: {window: 7d, good_ratio: 0.99}
    faults: [{kind: crash, target: redis, start: 2m, duration: 10m}]
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(CatalogueInvalid) as info:
        parse_failure_modes(text, file="fm.yaml")
    return [str(e) for e in info.value.errors]


def test_modes_parse_with_the_catalogue_history_unless_their_own():
    fm = parse_failure_modes(TWO, file="fm.yaml")
    assert fm.names == ["healthy", "redis_crashed"]
    healthy, crashed = fm.modes
    assert is_baseline(healthy) and not is_baseline(crashed)
    assert healthy.history is not None and healthy.history.window_s == 30 * 86400
    assert crashed.history is not None and crashed.history.window_s == 7 * 86400
    assert crashed.faults[0].start == 120 and crashed.faults[0].duration == 600
    assert crashed.expectations == ()


def test_a_mode_with_expectations_is_refused_at_its_line():
    text = TWO + "    expect:\n      - fires: RedisDown\n"
    assert _errors(text) == [e for e in _errors(text) if e.startswith("fm.yaml:10: modes[1].expect: a failure "
                                                                      "mode states no expectations")]


def test_duplicate_names_and_unknown_fields_are_all_reported():
    text = TWO.replace("name: healthy", "name: redis_crashed").replace("history:", "histroy:", 1)
    errs = _errors(text)
    assert any(e.startswith("fm.yaml:1: histroy: unknown field") for e in errs)
    assert any(e.startswith("fm.yaml:5: modes[1].name: duplicate failure mode 'redis_crashed' (also line 3)")
               for e in errs)


def test_a_bad_field_inside_a_mode_names_its_line():
    errs = _errors(TWO.replace("duration: 15m", "duration: fifteen"))
    assert len(errs) == 1 and errs[0].startswith("fm.yaml:7: duration: not a duration")


def test_no_modes_and_syntax_errors():
    assert _errors("history: {window: 30d, good_ratio: 0.9}\n")[-1].startswith("fm.yaml:1: modes: expected a "
                                                                                "non-empty list")
    with pytest.raises(ValidationError, match=r"fm.yaml:3: \(syntax\)"):
        parse_failure_modes("modes:\n  - name: x\n    duration: : 5m\n", file="fm.yaml")


def test_select_keeps_catalogue_order_and_suggests_for_typos():
    fm = parse_failure_modes(TWO, file="fm.yaml")
    assert fm.select(["redis_crashed", "healthy"]).names == ["healthy", "redis_crashed"]
    with pytest.raises(HarnessError, match="did you mean redis_crashed"):
        fm.select(["redis_crash"])


def test_untouched_names_what_no_mode_injects():
    fm = parse_failure_modes(TWO, file="fm.yaml")
    missing = untouched(fm.modes)
    assert "fault kind crash" not in missing and "fault kind freeze" in missing
    assert "service redis" not in missing and "service api" in missing
    assert "proxy pg_primary" in missing
    assert "service prometheus" not in missing     # deliberately not targeted, with a reason


def test_the_shipped_catalogue_holds_every_fault_and_validates_against_the_reference_packs():
    fm = load_failure_modes()
    assert untouched(fm.modes) == []
    assert {f.kind for m in fm.modes for f in m.faults} == set(KIND_SPECS)
    assert [m.name for m in fm.modes if is_baseline(m)] == ["healthy_baseline"]
    catalog = load_catalog(reference_rule_files(), REFERENCE_ALERTMANAGER)
    validate_scenarios([observing_every_alert(m) for m in fm.modes], validation_context(catalog))


def test_observing_every_alert_watches_all_and_names_none():
    mode = parse_failure_modes(TWO, file="fm.yaml").modes[1]
    watched = observing_every_alert(mode)
    assert [(e.kind, e.subject) for e in watched.expectations] == [("silent", "*")]
    assert watched.faults == mode.faults and watched.name == mode.name
