"""The fault-kind registry: every kind declared once, with a valid example and documented parameters."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from harness.core.context import ValidationContext
from harness.core.model import parse_scenario
from harness.faults import FAULT_KINDS, KIND_SPECS, Faults, spec_problems
from harness.faults.kinds import KINDS, reference, render_markdown
from harness.faults.kinds.schema import GROUPS, SERVICE
from harness.scenario.validate import scenario_errors

REFS = reference()


def test_the_spec_views_are_the_registry():
    assert list(KIND_SPECS) == list(FAULT_KINDS) == list(KINDS) == [r.name for r in REFS]


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_every_kind_is_declared_completely(kind):
    assert kind.group in GROUPS and kind.doc
    assert (kind.service is not None) == (kind.group == SERVICE)
    assert kind.example["kind"] == kind.name
    assert not [name for name, p in kind.params.items() if not p.doc], "every parameter says what it means"
    assert not [name for name, p in kind.params.items() if p.required and p.default is not None]


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_every_example_validates_cleanly(kind):
    ex = kind.example
    assert spec_problems(ex["kind"], ex.get("target"), ex.get("params")) == []


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_every_default_passes_its_own_check(kind):
    defaults = {name: p.default for name, p in kind.params.items() if p.default is not None}
    params = {**kind.example.get("params", {}), **defaults}
    assert spec_problems(kind.name, kind.example.get("target"), params) == []


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_every_example_builds_its_kind(kind):
    stack = SimpleNamespace(urls={"toxiproxy": "http://127.0.0.1:9"}, proxies={})
    ex = kind.example
    fault = Faults(stack).from_spec(ex["kind"], ex.get("target"), ex.get("params"))  # type: ignore[arg-type]
    assert fault.kind == kind.name and fault.state == "pending"
    assert fault.target_name == kind.target(ex.get("target"))


def test_the_markdown_documents_every_kind_and_parameter():
    text = render_markdown(REFS)
    for ref in REFS:
        assert f"### `{ref.name}` ({ref.group})" in text
        for p in ref.params:
            assert f"| `{p.name}` | {p.type} | {'yes' if p.required else 'no'} |" in text
    assert "| `timeout` | float | no | `10.0` |" in text  # stop's default


def test_the_markdown_examples_are_valid_scenario_entries():
    blocks = re.findall(r"```yaml\n(.*?)```", render_markdown(REFS), re.S)
    assert len(blocks) == len(REFS)
    ctx = ValidationContext(alerts=frozenset())
    for block in blocks:
        scn = parse_scenario("name: example\nduration: 30m\n" + block)
        assert scenario_errors(scn, ctx) == [], block


def test_a_kind_with_no_parameters_says_so():
    text = render_markdown(r for r in REFS if r.name == "crash")
    assert "No parameters." in text and "| param |" not in text


def _overlap_errors(*entries: str) -> list[str]:
    scn = parse_scenario("name: x\nduration: 30m\nfaults:\n" + "".join(f"  - {e}\n" for e in entries))
    return [str(e) for e in scenario_errors(scn, ValidationContext(alerts=frozenset())) if "overlaps" in str(e)]


def test_toxics_of_different_types_may_share_a_proxy_but_not_two_of_one_type():
    latency = "{kind: toxic, target: redis, start: 1m, duration: 5m, params: {type: latency, latency: 100}}"
    timeout = "{kind: toxic, target: redis, start: 2m, duration: 5m, params: {type: timeout}}"
    assert _overlap_errors(latency, timeout) == []
    assert len(_overlap_errors(latency, latency)) == 1


def test_the_services_a_scenario_takes_down_are_those_of_its_down_kinds():
    from harness.scenario.runner import down_services

    scn = parse_scenario("name: x\nduration: 30m\nfaults:\n"
                         "  - {kind: crash, target: redis, start: 1m, duration: 1m}\n"
                         "  - {kind: stop, target: api, start: 3m, duration: 1m}\n"
                         "  - {kind: restart, target: postgres_replica, start: 5m, duration: 1m}\n"
                         "  - {kind: freeze, target: postgres_primary, start: 7m, duration: 1m}\n")
    assert down_services(scn) == ["api", "postgres_replica", "redis"]


def test_every_named_query_has_the_endpoint_its_ground_truth_reads():
    from harness.core.topology import API_QUERIES
    from harness.faults.kinds.query_latency import QUERY_ENDPOINTS

    assert set(QUERY_ENDPOINTS) == set(API_QUERIES)
