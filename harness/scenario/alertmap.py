"""An alert and receiver map: the shipped scenarios, which name the reference packs' alerts and receivers,
run against a team's pack with other names.

A map file (``harness verify --map FILE``; ``harness map`` proposes one)::

    alerts:                           # reference alert -> the pack's alert; null: the pack has none
      PostgreSQLDown: PostgresqlDown
      RedisMemoryHigh: null
    records:                          # reference recording rule (error_budget: checks) -> the pack's
      slo:api:error_budget:remaining: slo:availability:budget_left
    receivers:                        # reference receiver -> the pack's receiver; null: none
      pagerduty-critical: oncall-pd
    labels:                           # label values the scenarios expect, in the pack's words
      severity: {critical: page, warning: ticket}

Applying a map is pure: each scenario is rewritten (``dataclasses.replace``) before validation, so
``applicable`` and validation see the pack's names. A name the map leaves out stays as it is; an alert mapped
to null stays the reference's name, so a scenario that needs it stays "not applicable", unless all it asks of
that alert is silence while it exercises another the pack has (then that ``silent`` check is dropped: the
pack has no such alert to stay silent). Lives beside the scenario model (not in ``harness/rules``, which
reads no scenario) because it rewrites scenarios and checks names against the loaded ``Catalog``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from harness.core.catalog import Catalog, load_catalog
from harness.core.errors import InvalidFile, ValidationError
from harness.core.expectations import KINDS, expected_to_fire
from harness.core.expectations.base import MAP, suggest
from harness.core.model import Expectation, Scenario
from harness.core.yamlio import key_line, round_trip_yaml

SECTIONS = ("alerts", "records", "receivers", "labels")
# Expectation fields that name an alert, and those that list receivers (or roles, which need no map).
ALERT_FIELDS = ("by",)
RECEIVER_FIELDS = ("receivers", "not_receivers")


class MapInvalid(InvalidFile):
    what = "the alert map"


@dataclass(frozen=True)
class AlertMap:
    file: str
    alerts: Mapping[str, str | None] = field(default_factory=dict)
    records: Mapping[str, str | None] = field(default_factory=dict)
    receivers: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)   # label -> value -> value
    lines: Mapping[str, int] = field(default_factory=dict)                  # "alerts.RedisDown" -> line

    def alert(self, name: str) -> str | None:
        """The pack's name for a reference alert (itself when the map leaves it out; None: not covered)."""
        return self.alerts.get(name, name)

    def record(self, name: str) -> str | None:
        return self.records.get(name, name)

    def receiver(self, name: str) -> str | None:
        return self.receivers.get(name, name)

    def label_values(self, labels: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.labels.get(k, {}).get(str(v), v) for k, v in labels.items()}

    def describe(self) -> str:
        covered = sum(v is not None for v in self.alerts.values())
        return (f"map {self.file}: {covered} alert(s) mapped, {len(self.alerts) - covered} not covered by the pack, "
                + (f"{len(self.records)} recording rule(s), " if self.records else "")
                + f"{len(self.receivers)} receiver(s)"
                + (f", label values of {', '.join(sorted(self.labels))}" if self.labels else ""))


# -- the file ---------------------------------------------------------------------------------------------

def _names(node: Any, file: str, section: str, errors: list[ValidationError]) -> dict[str, str | None]:
    if node is None:
        return {}
    if not isinstance(node, CommentedMap):
        errors.append(ValidationError(file, None, section, f"expected a mapping of reference name to the pack's "
                                      f"name, got {type(node).__name__}", hint=f"{section}: {{RedisDown: RedisUp}}"))
        return {}
    out: dict[str, str | None] = {}
    for k, v in node.items():
        if v is not None and not isinstance(v, str):
            errors.append(ValidationError(file, key_line(node, k), f"{section}.{k}", f"expected a name or null, "
                                          f"got {type(v).__name__}", hint="null: the pack has none"))
            continue
        out[str(k)] = v
    return out


def _label_values(node: Any, file: str, errors: list[ValidationError]) -> dict[str, dict[str, str]]:
    if node is None:
        return {}
    hint = "labels: {severity: {critical: page, warning: ticket}}"
    if not isinstance(node, CommentedMap):
        errors.append(ValidationError(file, None, "labels", "expected a mapping of label to value map", hint=hint))
        return {}
    out: dict[str, dict[str, str]] = {}
    for label, values in node.items():
        where = key_line(node, label)
        if not isinstance(values, CommentedMap) or not all(isinstance(v, str | int | float) for v in values.values()):
            errors.append(ValidationError(file, where, f"labels.{label}", "expected a mapping of the reference's "
                                          "value to the pack's value", hint=hint))
            continue
        out[str(label)] = {str(a): str(b) for a, b in values.items()}
    return out


def parse_map(text: str, file: str = "<string>") -> AlertMap:
    """A map from its YAML text; every problem of the file raised together (MapInvalid)."""
    try:
        doc = round_trip_yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MapInvalid([ValidationError(file, mark.line + 1 if mark is not None else None, "(syntax)",
                                          str(getattr(exc, "problem", exc)))]) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise MapInvalid([ValidationError(file, 1, "(document)", "expected a mapping with alerts:, receivers:, "
                                          "labels:", hint="`harness map` writes one to start from")])
    errors: list[ValidationError] = []
    for key in doc:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, n=1)
            errors.append(ValidationError(file, key_line(doc, key), str(key), "unknown section",
                                          hint=(f"did you mean {close[0]}? " if close else "")
                                          + f"sections: {', '.join(SECTIONS)}"))
    alerts = _names(doc.get("alerts"), file, "alerts", errors)
    records = _names(doc.get("records"), file, "records", errors)
    receivers = _names(doc.get("receivers"), file, "receivers", errors)
    labels = _label_values(doc.get("labels"), file, errors)
    if errors:
        raise MapInvalid(errors)
    lines = {f"{s}.{k}": line for s in SECTIONS if isinstance(doc.get(s), CommentedMap)
             for k in doc[s] if (line := key_line(doc[s], k)) is not None}
    lines |= {s: line for s in SECTIONS if s in doc and (line := key_line(doc, s)) is not None}
    return AlertMap(file, alerts, records, receivers, labels, lines)


def load_map(path: str | Path) -> AlertMap:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MapInvalid([ValidationError(str(path), None, "(file)", f"cannot read: {exc.strerror}",
                                          hint="`harness map --rules ... --alertmanager-config ... --out FILE` "
                                          "writes one")]) from None
    return parse_map(text, str(path))


# -- against the packs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """The names the scenarios may use: those of the packs and Alertmanager configs shipped with the harness."""

    alerts: frozenset[str]
    records: frozenset[str]
    receivers: frozenset[str]


@functools.cache
def shipped_names() -> Reference:
    from harness.config import RULES_DIR, STACK_DIR

    packs = load_catalog(sorted(RULES_DIR.glob("*.yml")))
    receivers = frozenset(r for p in sorted((STACK_DIR / "alertmanager").glob("*.yml"))
                          for r in load_catalog([], p).receivers)
    return Reference(frozenset(packs.alerts), packs.records, receivers)


def map_problems(amap: AlertMap, catalog: Catalog, reference: Reference) -> list[ValidationError]:
    """Names of the map that neither side knows: a key must be a reference name, a value a name of the loaded
    pack (rule files, Alertmanager config)."""
    errors: list[ValidationError] = []
    sides = (("alerts", amap.alerts, reference.alerts, frozenset(catalog.alerts), "alert", "the loaded rule files"),
             ("records", amap.records, reference.records, catalog.records, "recording rule", "the loaded rule files"),
             ("receivers", amap.receivers, reference.receivers, catalog.receivers, "receiver",
              "the Alertmanager config"))
    for section, names, ours, theirs, what, where in sides:
        for ref, mine in names.items():
            line = amap.lines.get(f"{section}.{ref}")
            if ref not in ours:
                errors.append(ValidationError(amap.file, line, section, f"{ref!r} is no {what} of the reference "
                                              "packs the scenarios name", hint=suggest(ref, ours)))
            if mine is not None and theirs and mine not in theirs:
                errors.append(ValidationError(amap.file, line, f"{section}.{ref}", f"{what} {mine!r} is not in "
                                              f"{where}", hint=suggest(mine, theirs)))
    return errors


# -- applying it ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mapped:
    scenarios: list[Scenario]
    notes: list[str]


def _expectation(e: Expectation, amap: AlertMap) -> tuple[Expectation, list[str]]:
    """The expectation in the pack's names, and what changed beyond a rename."""
    kind = KINDS[e.kind]
    subject = e.subject
    if kind.names_alert and subject != "*":
        subject = amap.alert(subject) or subject      # not covered: the reference's name, so it stays n/a
    elif kind.subject == "recording rule":
        subject = amap.record(subject) or subject
    params = dict(e.params)
    notes: list[str] = []
    for name in ALERT_FIELDS:
        if params.get(name):
            params[name] = amap.alert(str(params[name])) or params[name]
    for name in RECEIVER_FIELDS:
        if name in params:
            refs = [str(r) for r in params[name] or []]
            if name == "receivers" and (gone := [r for r in refs if amap.receiver(r) is None]):
                notes.append(f"receivers {', '.join(gone)} dropped: {amap.file} says the pack has no such receiver")
            params[name] = list(dict.fromkeys(m for r in refs if (m := amap.receiver(r)) is not None))
    for f in kind.fields:
        if f.value == MAP and isinstance(params.get(f.name), Mapping):
            params[f.name] = amap.label_values(params[f.name])
    if kind.subject_value == MAP and isinstance(params.get("match"), Mapping):   # `notifies: {severity: ...}`
        params["match"] = amap.label_values(params["match"])
        subject = ",".join(f"{k}={v}" for k, v in params["match"].items())
    # Two reference receivers the pack merged into one (slack-critical and slack-warnings in one channel): the
    # receiver that must be notified cannot also be one that must not.
    both = [r for r in params.get("not_receivers", []) if r in params.get("receivers", [])]
    if both:
        notes.append(f"not_receivers {', '.join(both)} dropped: the map makes it a receiver the alert must also "
                     "notify")
        params["not_receivers"] = [r for r in params["not_receivers"] if r not in both]
    return replace(e, subject=subject, params=params), notes


def _uncovered(e: Expectation, amap: AlertMap) -> bool:
    return KINDS[e.kind].names_alert and e.subject in amap.alerts and amap.alerts[e.subject] is None


def map_scenario(scn: Scenario, amap: AlertMap) -> tuple[Scenario, list[str]]:
    """One scenario in the pack's names, and what changed beyond a rename."""
    notes: list[str] = []
    exps = list(scn.expectations)
    if any(KINDS[e.kind].names_alert and e.subject != "*" and not _uncovered(e, amap) for e in exps):
        dropped = [e for e in exps if e.kind == "silent" and _uncovered(e, amap)]
        if dropped:
            notes.append(f"{scn.name}: silent {', '.join(e.subject for e in dropped)} dropped: "
                         f"{amap.file} says the pack has no such alert")
        exps = [e for e in exps if e not in dropped]
    mapped = []
    for e in exps:
        m, changed = _expectation(e, amap)
        notes += [f"{scn.name}: {e.kind} {m.subject}: {c}" for c in changed]
        mapped.append(m)
    # Two reference alerts the pack watches with one rule (an error rate and an availability SLO): the scenario
    # cannot want it both to fire and to stay silent. Silence of one series (``labels:``) may still hold.
    fire = expected_to_fire(replace(scn, expectations=tuple(mapped)))
    clash = [m for m in mapped if m.kind == "silent" and m.subject in fire and not m.params.get("labels")]
    if clash:
        notes.append(f"{scn.name}: silent {', '.join(m.subject for m in clash)} dropped: the map makes it the alert "
                     "the scenario expects to fire")
    return replace(scn, expectations=tuple(m for m in mapped if m not in clash)), notes


def apply_map(scenarios: Sequence[Scenario], amap: AlertMap) -> Mapped:
    """Every scenario in the pack's names (pure)."""
    out: list[Scenario] = []
    notes = [f"applied {amap.describe()}"]
    for scn in scenarios:
        s, n = map_scenario(scn, amap)
        out.append(s)
        notes += n
    return Mapped(out, notes)


def map_scenarios(scenarios: Sequence[Scenario], amap: AlertMap, catalog: Catalog,
                  reference: Reference | None = None) -> Mapped:
    """Check the map against the reference names (default: the shipped packs') and the loaded packs, then apply
    it."""
    errors = map_problems(amap, catalog, reference or shipped_names())
    if errors:
        raise MapInvalid(errors)
    return apply_map(scenarios, amap)


def map_items(items: Sequence[Any], map_file: str | Path, catalog: Catalog) -> list[str]:
    """The pytest plugin's hook: each collected scenario item's ``scenario`` in the pack's names; the notes."""
    mapped = map_scenarios([i.scenario for i in items], load_map(map_file), catalog)
    for item, scn in zip(items, mapped.scenarios, strict=True):
        item.scenario = scn
    return mapped.notes
