"""The expectation-kind registry: every kind's example is a valid scenario entry, its fields are documented,
unknown fields are named with their line, and the checked-in format reference is the generated one."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from harness.core.context import ValidationContext
from harness.core.errors import ValidationError
from harness.core.expectations import KINDS, kind_names
from harness.core.model import parse_scenario
from harness.scenario.reference import expectation_markdown
from harness.scenario.validate import ScenarioInvalid, scenario_errors, validate_scenarios

ALERTS = frozenset({"RedisDown", "PostgreSQLDown", "ReplicationLagHigh", "ConnectionPoolNearLimit", "BackupFailed"})
CTX = ValidationContext(alerts=ALERTS, receivers=frozenset({"pagerduty-critical", "slack-warnings"}),
                        receiver_roles={"pager": ("pagerduty-critical",), "chat": ("slack-warnings",)},
                        slo_names=frozenset({"api-availability-5xx"}),
                        records=frozenset({"slo:api:error_budget:remaining"}))
HEAD = """
duration: 20m
history: {window: 30d, good_ratio: 0.9998}
faults:
  - {id: f1, kind: crash, target: redis, start: 5m, duration: 5m}
expect:
"""


def _yaml_entry(example: dict) -> str:
    import io

    out = io.StringIO()
    YAML().dump([example], out)
    return "".join(f"  {line}\n" for line in out.getvalue().splitlines())


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kinds_example_parses_and_validates(name: str) -> None:
    scn = parse_scenario(HEAD + _yaml_entry(dict(KINDS[name].example)), file="example.yaml")
    assert [e.kind for e in scn.expectations] and {e.kind for e in scn.expectations} == {name}
    assert scenario_errors(scn, CTX) == []


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_field_is_documented_and_the_example_uses_only_declared_fields(name: str) -> None:
    kind = KINDS[name]
    assert kind.doc and all(f.doc for f in kind.fields)
    assert set(kind.example) - {name} <= {f.name for f in kind.fields}
    assert next(iter(kind.example)) == name


def test_an_unknown_field_names_its_line_and_the_close_one() -> None:
    text = HEAD + "  - notified: RedisDown\n    recievers: [slack-warnings]\n"
    with pytest.raises(ValidationError) as exc:
        parse_scenario(text, file="s.yaml")
    assert exc.value.line == text.count("\n", 0, text.index("recievers")) + 1
    assert exc.value.field == "expect[0].recievers"
    assert "did you mean receivers?" in exc.value.hint


def test_durations_are_parsed_from_the_fields_the_kind_declares() -> None:
    scn = parse_scenario(HEAD + "  - fires: RedisDown\n    within: 2m\n  - silent: BackupFailed\n    during_to: 90s\n")
    assert scn.expectations[0].params["within"] == 120.0
    assert scn.expectations[1].params["during_to"] == 90.0


def test_a_star_is_only_allowed_where_the_kind_says_so() -> None:
    scn = parse_scenario(HEAD + '  - fires: "*"\n  - silent: "*"\n', file="s.yaml")
    errors = scenario_errors(scn, CTX)
    assert [(e.field, e.problem) for e in errors] == [("fires", '"*" is only allowed in `silent:`')]


def test_kind_flags_drive_the_runner_sets() -> None:
    assert kind_names(expects_firing=True) == {"fires", "notified"}
    assert kind_names(judges_state=True) == {"fires", "silent", "resolves", "notified"}
    assert {k for k in KINDS if KINDS[k].bound} == {"fires", "resolves", "notified"}


def test_a_bad_kind_specific_value_is_reported_with_the_others() -> None:
    scn = parse_scenario(HEAD + "  - latency: /api/meta\n    percentile: 120\n  - inhibited: RedisDown\n",
                         file="s.yaml")
    with pytest.raises(ScenarioInvalid) as exc:
        validate_scenarios([scn], CTX)
    fields = [e.field for e in exc.value.errors]
    assert fields == ["latency.budget", "latency.percentile", "inhibited.by"]


def test_the_checked_in_format_reference_is_the_generated_one() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md"
    from harness.scenario.reference import format_markdown

    assert doc.read_text(encoding="utf-8") == format_markdown(), \
        "docs/scenario-format.md is stale: regenerate it with `harness kinds --markdown > docs/scenario-format.md`"
    assert expectation_markdown() in doc.read_text(encoding="utf-8")
