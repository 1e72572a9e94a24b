"""Rule packs: a rule file (any format ``harness.core.rule_formats`` accepts) loaded with the line of every rule,
for errors and reports, and with what was understood of it (format, notes on dropped or kept fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from harness.core.durations import parse_duration
from harness.core.errors import ValidationError
from harness.core.promql import PromQLSyntaxError, parse
from harness.core.rule_formats import PLAIN, normalise_rules

_RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str                      # "alert" or "record"
    expr: str
    group: str
    file: str
    line: int
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    expr_line: int = 0

    @property
    def for_(self) -> float:
        return self.for_s


@dataclass(frozen=True)
class Group:
    name: str
    interval_s: float | None
    file: str
    line: int


@dataclass(frozen=True)
class RulePack:
    path: str
    groups: list[Group]
    rules: list[Rule]
    format: str = PLAIN
    notes: tuple[str, ...] = ()

    @property
    def alerts(self) -> list[Rule]:
        return [r for r in self.rules if r.kind == "alert"]

    @property
    def records(self) -> list[Rule]:
        return [r for r in self.rules if r.kind == "record"]

    def alert(self, name: str) -> Rule:
        for r in self.alerts:
            if r.name == name:
                return r
        raise KeyError(f"{self.path}: no alert named {name!r}; known: {', '.join(a.name for a in self.alerts)}")


def _line(node: Any, key: str | None = None) -> int:
    try:
        if key is not None:
            return int(node.lc.key(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _duration(node: CommentedMap, key: str, source: str, what: str) -> float:
    if key not in node:
        return 0.0
    try:
        return parse_duration(str(node[key]))
    except ValueError as exc:
        raise ValidationError(source, _line(node, key), f"{what}: {key}", str(exc),
                              hint="use a Prometheus duration such as 30s, 5m or 1h") from exc


def _str_map(node: Any, source: str, line: int, what: str) -> dict[str, str]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise ValidationError(source, line, what, "must be a mapping of names to strings")
    return {str(k): str(v) for k, v in node.items()}


def parse_rules(text: str, source: str) -> RulePack:
    understood = normalise_rules(text, source)
    doc = understood.doc
    groups: list[Group] = []
    rules: list[Rule] = []
    seen_groups: set[str] = set()
    for gi, g in enumerate(doc["groups"]):
        if not isinstance(g, CommentedMap):
            raise ValidationError(source, _line(doc["groups"]), f"groups[{gi}]", "a group must be a mapping")
        gline = _line(g)
        name = g.get("name")
        if not name:
            raise ValidationError(source, gline, f"groups[{gi}].name", "every group needs a name")
        if name in seen_groups:
            raise ValidationError(source, gline, f"group {name!r}", "duplicate group name in this file")
        seen_groups.add(str(name))
        interval = _duration(g, "interval", source, f"group {name!r}") if "interval" in g else None
        groups.append(Group(str(name), interval, source, gline))
        for ri, r in enumerate(g.get("rules") or []):
            if not isinstance(r, CommentedMap):
                raise ValidationError(source, gline, f"group {name!r}: rules[{ri}]", "a rule must be a mapping")
            rline = _line(r)
            kind = "alert" if "alert" in r else "record" if "record" in r else ""
            if not kind or ("alert" in r and "record" in r):
                raise ValidationError(source, rline, f"group {name!r}: rules[{ri}]",
                                      "a rule needs exactly one of `alert:` or `record:`")
            rname = str(r[kind])
            what = f"rule {rname!r}"
            unknown = set(r) - _RULE_KEYS
            if unknown:
                raise ValidationError(source, rline, what, f"unknown field(s): {', '.join(sorted(unknown))}")
            if "expr" not in r or str(r["expr"]).strip() == "":
                raise ValidationError(source, rline, f"{what}: expr", "missing expression")
            expr = str(r["expr"])
            try:
                parse(expr)
            except PromQLSyntaxError as exc:
                raise ValidationError(source, _line(r, "expr"), f"{what}: expr", str(exc)) from exc
            if kind == "record" and ("for" in r or "annotations" in r):
                raise ValidationError(source, rline, what, "recording rules take no `for` or `annotations`")
            rules.append(Rule(
                name=rname, kind=kind, expr=expr, group=str(name), file=source, line=rline,
                for_s=_duration(r, "for", source, what),
                keep_firing_for_s=_duration(r, "keep_firing_for", source, what),
                labels=_str_map(r.get("labels"), source, _line(r, "labels") or rline, f"{what}: labels"),
                annotations=_str_map(r.get("annotations"), source, _line(r, "annotations") or rline,
                                     f"{what}: annotations"),
                expr_line=_line(r, "expr"),
            ))
    return RulePack(path=source, groups=groups, rules=rules, format=understood.format, notes=understood.notes)


def load_rules(path: Path | str) -> RulePack:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(str(p), None, "file", f"cannot read rule file: {exc.strerror or exc}",
                              hint="check the path given to --rules") from exc
    return parse_rules(text, str(p))
