"""Mutants of alert rules: one-edit copies of a team's rule files, for mutation testing (``harness mutate``).

Each mutant changes one thing in one alerting rule and leaves every other byte of the rule files as written:

  threshold_x10 / threshold_div10   a number compared with an expression, times or divided by 10
  comparison_inverted               a comparison negated (> becomes <=, == becomes !=, ...)
  for_x10                           the rule's `for`, times 10
  matcher_changed                   a label matcher's value: another value the rule files give that label (the
                                    selector then picks other real series), else one no series has
  metric_misspelled                 a selected metric's name, misspelt (the selector then picks nothing)
  branch_removed                    one operand of an `or` / `and` chain removed
  severity_changed                  the `severity` label, to a value the Alertmanager config routes elsewhere

A mutant that is equivalent by construction (it cannot behave differently from the original on any stack)
is not generated; it is listed as skipped, with the reason:
  * `for` x10 when `for` is absent or 0 (0 x 10 is 0);
  * threshold x10 / /10 when the threshold is 0, Inf or NaN (they stay what they are): this covers the
    `pg_up == 0` kind of rule on a 0/1 gauge;
  * severity changed when every other severity routes to the same receivers and no inhibit rule reads
    `severity` (nothing downstream can tell the difference);
  * any edit whose expression prints as the same PromQL as the original (e.g. removing one of two identical
    branches).
Matcher changes have no equivalence rule: the new value always selects other series (or none).

Each mutant also carries its *direction*: whether, by construction, the set of label sets for which it fires
can only shrink (``weaker``: a scenario can kill it only by expecting the alert to fire), only grow
(``stronger``), either, or whether only its labels differ (``labels``: only routing checks can tell). The
runner (harness.scenario.mutate) uses it to offer a mutant only the scenarios that can kill it. Pure: no
services; every mutated expression is parsed with promql-parser.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from harness.core.durations import format_duration
from harness.core.errors import HarnessError
from harness.core.routing import Route, build_route, parse_matcher, receivers_for
from harness.rules.exprtree import (
    AGGREGATE,
    BINARY,
    CALL,
    COMPARISONS,
    NUMBER_LITERAL,
    PAREN,
    SELECTOR,
    SUBQUERY,
    UNARY,
    Node,
    parent_map,
    parse_expr,
)
from harness.rules.packs import Rule
from harness.rules.ruletext import Edited, EditError, RuleText

THRESHOLD_X10 = "threshold_x10"
THRESHOLD_DIV10 = "threshold_div10"
COMPARISON_INVERTED = "comparison_inverted"
FOR_X10 = "for_x10"
MATCHER_CHANGED = "matcher_changed"
METRIC_MISSPELLED = "metric_misspelled"
BRANCH_REMOVED = "branch_removed"
SEVERITY_CHANGED = "severity_changed"
OPERATORS = (THRESHOLD_X10, THRESHOLD_DIV10, COMPARISON_INVERTED, FOR_X10, MATCHER_CHANGED, METRIC_MISSPELLED,
             BRANCH_REMOVED, SEVERITY_CHANGED)

WEAKER = "weaker"        # fires for a subset of the original's label sets and times
STRONGER = "stronger"    # for a superset
EITHER = "either"
LABELS = "labels"        # fires exactly when the original does, with other labels

INVERTED = {">": "<=", "<=": ">", "<": ">=", ">=": "<", "==": "!=", "!=": "=="}
SEVERITIES = ("critical", "warning", "info")
_REGEX_SPECIALS = set("\\.^$*+?()[]{}|")
MISSING_VALUE_SUFFIX = "-mutated"

# Walking up from a changed node: how the change of a child's set of elements shows in its parent.
SHRINK = "shrink"        # the child loses some elements
EMPTIES = "empties"      # the child loses all of them
_ELEMENTWISE = frozenset({
    "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt", "sgn", "clamp", "clamp_min",
    "clamp_max", "label_replace", "label_join", "sort", "sort_desc", "timestamp", "deg", "rad",
})
_FLIPS = frozenset({"absent", "absent_over_time"})
_NOT_VECTORS = frozenset({"vector", "scalar", "time", "pi", "minute", "hour", "day_of_week", "day_of_month",
                          "day_of_year", "days_in_month", "month", "year"})


@dataclass(frozen=True)
class Mutant:
    id: str                          # m01, m02, ... in file, rule and operator order
    alert: str
    operator: str                    # one of OPERATORS
    description: str                 # e.g. "threshold 0.01 -> 0.1 in branch 2 of 3 (or)"
    direction: str                   # WEAKER | STRONGER | EITHER | LABELS
    file: str                        # the rule file it changes
    line: int                        # the changed rule's line in it
    rule_index: int                  # the rule's position among the file's rules
    rule: Rule                       # the changed rule, as read back from the mutated file
    group_interval: str | None
    files: tuple[tuple[str, str], ...]   # (path, text) of every rule file; only ``file``'s text differs
    hint: str                        # what kind of scenario would kill it, should it survive
    # The other rules with the same alert name (rule, its group's interval): a renamed mutant takes them along,
    # so that ``<alert>__<id>`` is the whole alert with this one rule changed (two tiers of one alert).
    siblings: tuple[tuple[Rule, str | None], ...] = ()

    @property
    def renamed(self) -> str:
        """Its alert name when loaded beside the original and other mutants (one healthy-baseline run)."""
        return f"{self.alert}__{self.id}"

    @property
    def where(self) -> str:
        return f"{Path(self.file).name}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "alert": self.alert, "operator": self.operator, "description": self.description,
                "direction": self.direction, "file": self.file, "line": self.line, "expr": self.rule.expr,
                "for_s": self.rule.for_s, "labels": dict(self.rule.labels), "hint": self.hint}


@dataclass(frozen=True)
class Skipped:
    """A mutant not generated: equivalent by construction, or an edit that cannot be made in place."""

    alert: str
    operator: str
    description: str
    reason: str
    file: str
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "operator": self.operator, "description": self.description,
                "reason": self.reason, "file": self.file, "line": self.line}


@dataclass(frozen=True)
class MutantSet:
    mutants: tuple[Mutant, ...]
    skipped: tuple[Skipped, ...]
    alerts: tuple[str, ...]           # the alerts mutated (every alert of the files, or those asked for)

    def by_id(self, mutant_id: str) -> Mutant:
        for m in self.mutants:
            if m.id == mutant_id:
                return m
        raise KeyError(mutant_id)


# -- routing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityRouting:
    """What an Alertmanager config does with an alert's ``severity``: the receivers a label set routes to, and
    whether an inhibit rule reads the label (then a severity change can mute or unmute alerts)."""

    root: Route
    inhibit_reads_severity: bool
    values: tuple[str, ...]           # severities the config names (route and inhibit matchers)

    def receivers(self, labels: Mapping[str, str]) -> list[str]:
        return receivers_for(self.root, labels)


def _inhibit_labels(rule: Mapping[str, Any]) -> dict[str, list[str]]:
    """Label name -> values an inhibit rule's matchers name (value "" for `equal` labels)."""
    out: dict[str, list[str]] = {}
    for key in ("source_match", "target_match", "source_match_re", "target_match_re"):
        for name, value in (rule.get(key) or {}).items():
            out.setdefault(str(name), []).append(str(value))
    for key in ("source_matchers", "target_matchers"):
        for text in rule.get(key) or []:
            m = parse_matcher(str(text))
            out.setdefault(m.name, []).append(m.value)
    for name in rule.get("equal") or []:
        out.setdefault(str(name), []).append("")
    return out


def _route_values(node: Mapping[str, Any], label: str) -> list[str]:
    found = [str(v) for k, v in (node.get("match") or {}).items() if k == label]
    found += [m.value for m in (parse_matcher(str(t)) for t in node.get("matchers") or []) if m.name == label
              and m.op == "="]
    for child in node.get("routes") or []:
        found += _route_values(child, label)
    return found


def load_severity_routing(alertmanager_config: Path | str) -> SeverityRouting:
    path = Path(alertmanager_config)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"cannot read the Alertmanager config {path}: {exc}",
                           hint="check --alertmanager-config; `harness check` validates it") from None
    route = doc.get("route")
    if not isinstance(route, Mapping):
        raise HarnessError(f"{path}: an Alertmanager config needs a top-level `route:`")
    reads, values = False, list(_route_values(route, "severity"))
    for rule in doc.get("inhibit_rules") or []:
        named = _inhibit_labels(rule)
        if "severity" in named:
            reads = True
            values += [v for v in named["severity"] if v]
    return SeverityRouting(build_route(route, source=str(path)), reads, tuple(dict.fromkeys(values)))


# -- generation ----------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    operator: str
    description: str
    direction: str = EITHER
    hint: str = ""
    edited: Edited | None = None      # the mutated file and rule, or None when skipped
    reason: str = ""                  # why skipped


@dataclass
class _Context:
    """What every rule's operators may consult: the other files' label values and metric names."""

    label_values: dict[str, list[str]] = field(default_factory=dict)   # label -> values of `=` matchers
    names: set[str] = field(default_factory=set)                       # metric and record names
    routing: SeverityRouting | None = None


def generate_mutants(rule_files: Sequence[Path | str], alertmanager_config: Path | str | None = None, *,
                     alerts: Collection[str] = ()) -> MutantSet:
    """Every one-edit mutant of the alerting rules in ``rule_files`` (only those of ``alerts``, if given).
    Raises HarnessError when an alert asked for is in none of the files."""
    paths = [str(p) for p in rule_files]
    texts: dict[str, str] = {}
    for p in paths:
        try:
            texts[p] = Path(p).read_text(encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"cannot read rule file {p}: {exc.strerror or exc}",
                               hint="check the paths given to --rules") from None
    return generate_from_texts(texts, load_severity_routing(alertmanager_config) if alertmanager_config else None,
                               alerts=alerts)


def generate_from_texts(texts: Mapping[str, str], routing: SeverityRouting | None = None, *,
                        alerts: Collection[str] = ()) -> MutantSet:
    """``generate_mutants`` on file texts (path -> text), with the Alertmanager config's routing already read."""
    docs = {path: RuleText(text, path) for path, text in texts.items()}
    ctx = _Context(routing=routing)
    known: list[str] = []
    for doc in docs.values():
        for site in doc.sites:
            ctx.names.add(site.name)
            if site.rule.kind == "alert" and site.name not in known:
                known.append(site.name)
            try:
                tree = parse_expr(site.rule.expr)
            except ValueError:
                continue
            for n in tree.walk():
                if n.kind == SELECTOR:
                    ctx.names.add(n.text)
                    for m in n.matchers:
                        if m.op == "=" and m.value not in ctx.label_values.setdefault(m.label, []):
                            ctx.label_values[m.label].append(m.value)
    unknown = sorted(set(alerts) - set(known))
    if unknown:
        raise HarnessError(f"no alert named {', '.join(unknown)} in the rule files",
                           hint=f"alerts there: {', '.join(known)}")
    wanted = [a for a in known if not alerts or a in alerts]
    mutants: list[tuple[Any, ...]] = []
    skipped: list[Skipped] = []
    for path, doc in docs.items():
        for site in doc.sites:
            if site.rule.kind != "alert":
                continue
            for c in _candidates(doc, site.index, ctx):
                if c.edited is None:
                    skipped.append(Skipped(site.name, c.operator, c.description, c.reason, path, site.rule.line))
                    continue
                rule = c.edited.rule
                reason = _not_a_mutant(site.rule.expr, rule.expr, c.operator)
                if reason:
                    skipped.append(Skipped(site.name, c.operator, c.description, reason, path, site.rule.line))
                    continue
                files = tuple((p, c.edited.text if p == path else t) for p, t in texts.items())
                mutants.append((site, path, c, rule, files))
    # Ids count every alert's mutants, so a mutant keeps its id when a run is restricted to some alerts.
    width = max(2, len(str(len(mutants))))
    every = [(path, site) for path, doc in docs.items() for site in doc.sites if site.rule.kind == "alert"]

    def siblings(path: str, index: int, name: str) -> tuple[tuple[Rule, str | None], ...]:
        return tuple((x.rule, x.group_interval) for p, x in every
                     if x.name == name and (p, x.index) != (path, index))

    out = tuple(Mutant(id=f"m{i + 1:0{width}d}", alert=site.name, operator=c.operator, description=c.description,
                       direction=c.direction, file=path, line=site.rule.line, rule_index=site.index, rule=rule,
                       group_interval=site.group_interval, files=files, hint=c.hint,
                       siblings=siblings(path, site.index, site.name))
                for i, (site, path, c, rule, files) in enumerate(mutants))
    return MutantSet(tuple(m for m in out if m.alert in wanted), tuple(s for s in skipped if s.alert in wanted),
                     tuple(wanted))


def _not_a_mutant(original: str, mutated: str, operator: str) -> str:
    """Why a mutated expression is no mutant ("" when it is one): it does not parse, or it is the same PromQL."""
    import promql_parser

    try:
        after = str(promql_parser.parse(mutated))
    except Exception as exc:  # promql-parser raises its own error types
        return f"the edited expression does not parse ({exc}); a harness bug, please report it"
    if operator in (FOR_X10, SEVERITY_CHANGED):
        return ""
    try:
        before = str(promql_parser.parse(original))
    except Exception as exc:
        return f"the original expression does not parse with promql-parser ({exc})"
    return "equivalent: it prints as the same PromQL as the original" if before == after else ""


def _candidates(doc: RuleText, index: int, ctx: _Context) -> list[_Candidate]:
    site = doc.sites[index]
    expr = site.rule.expr
    out: list[_Candidate] = []
    try:
        root = parse_expr(expr)
    except ValueError as exc:
        return [_Candidate(op, "any edit of the expression", reason=f"the expression could not be read: {exc}")
                for op in (THRESHOLD_X10, COMPARISON_INVERTED, MATCHER_CHANGED, METRIC_MISSPELLED, BRANCH_REMOVED)]

    def edit(c: _Candidate, start: int, end: int, new: str) -> _Candidate:
        try:
            c.edited = doc.replace_expr(index, start, end, new)
        except EditError as exc:
            c.reason = f"cannot be edited in place: {exc}"
        return c

    chain = root.chain() if root.kind == BINARY else [root]

    def where(node: Node) -> str:
        if len(chain) < 2:
            return ""
        k = next((i for i, b in enumerate(chain) if b.start <= node.start and node.end <= b.end), None)
        return "" if k is None else f" in branch {k + 1} of {len(chain)} ({root.op})"

    comparisons = sorted((n for n in root.walk() if n.kind == BINARY and n.op in COMPARISONS),
                         key=lambda n: n.op_start)
    for cmp_node in comparisons:
        out += [edit(c, s, e, new) if c.reason == "" else c
                for c, s, e, new in _threshold_candidates(expr, root, cmp_node, where(cmp_node))]
    for cmp_node in comparisons:
        new = INVERTED[cmp_node.op]
        out.append(edit(_Candidate(COMPARISON_INVERTED, f"comparison {cmp_node.op} -> {new}{where(cmp_node)}",
                                   EITHER, "a bracketing pair for this comparison: a scenario where the alert "
                                   "must fire and a near miss (or the healthy baseline) where it must stay silent"),
                        cmp_node.op_start, cmp_node.op_end, new))
    out.append(_for_candidate(doc, index))
    selectors = sorted((n for n in root.walk() if n.kind == SELECTOR), key=lambda n: n.start)
    for sel in selectors:
        for m in sel.matchers:
            if m.label == "__name__":
                continue
            c, new_value = _matcher_candidate(root, sel, m, ctx, expr, where(sel))
            quoted = m.quote + (new_value.replace("\\", "\\\\").replace(m.quote, "\\" + m.quote)
                                if m.quote != "`" else new_value) + m.quote
            out.append(edit(c, m.value_start, m.value_end, quoted))
    named = [s for s in selectors if s.text]
    for sel in named:
        new_name = misspell(sel.text, ctx.names)
        direction = _direction(path_effect(root, sel, EMPTIES))
        same = [s for s in named if s.text == sel.text]
        which = f" (occurrence {same.index(sel) + 1} of {len(same)})" if len(same) > 1 else ""
        out.append(edit(_Candidate(METRIC_MISSPELLED, f"metric {sel.text} -> {new_name}{which}{where(sel)}",
                                   direction,
                                   f"any fires scenario of {site.name} that {sel.text} drives"
                                   + ("" if direction == WEAKER else " (or a silent one: the selector's "
                                      "emptiness does not only mute the alert here)")),
                        sel.name_start, sel.name_end, new_name))
    for node in root.walk():
        out += [c if c.reason else edit(c, s, e, "") for c, s, e in _branch_candidates(expr, root, node)]
    out.append(_severity_candidate(doc, index, ctx))
    return out


def _number(text: str) -> Decimal | None:
    t = text.strip().replace(" ", "")
    try:
        if t.lower().lstrip("+-").startswith("0x"):
            return Decimal(int(t, 16))
        d = Decimal(t)
    except (InvalidOperation, ValueError):
        return None
    return d


def format_number(d: Decimal) -> str:
    """``d`` as PromQL writes a number: no exponent, no trailing zeros (0.1, 900000)."""
    return format(d.normalize(), "f")


def _threshold_candidates(expr: str, root: Node, cmp_node: Node,
                          where: str) -> list[tuple[_Candidate, int, int, str]]:
    lhs, rhs = cmp_node.children

    def literal(n: Node) -> Node | None:
        if n.kind == NUMBER_LITERAL:
            return n
        if n.kind == UNARY and n.children[0].kind == NUMBER_LITERAL:
            return n
        return None

    lit, other = (literal(rhs), lhs) if literal(rhs) is not None else (literal(lhs), rhs)
    if lit is None or literal(other) is not None:
        return []          # no threshold: both sides are expressions (or both are numbers)
    on_left = lit is lhs
    text = expr[lit.start:lit.end]
    value = _number(text)
    out: list[tuple[_Candidate, int, int, str]] = []
    for operator, factor, verb in ((THRESHOLD_X10, Decimal(10), "x10"), (THRESHOLD_DIV10, Decimal("0.1"), "/10")):
        if value is None or not value.is_finite():
            c = _Candidate(operator, f"threshold {text.strip()} {verb}{where}",
                           reason=f"equivalent: the threshold {text.strip()} stays {text.strip()} when scaled")
            out.append((c, 0, 0, ""))
            continue
        if value == 0:
            c = _Candidate(operator, f"threshold 0 {verb}{where}",
                           reason="equivalent: the threshold is 0, and 0 scaled is still 0 (a `== 0` on a 0/1 "
                           "gauge such as up or pg_up stays the same rule)")
            out.append((c, 0, 0, ""))
            continue
        new = value * factor
        new_text = format_number(new)
        old_text = format_number(value)
        direction = _threshold_direction(root, cmp_node, on_left, new > value)
        c = _Candidate(operator, f"threshold {old_text} -> {new_text}{where}", direction,
                       _threshold_hint(direction, old_text, new_text))
        out.append((c, lit.start, lit.end, new_text))
    return out


def _threshold_direction(root: Node, cmp_node: Node, on_left: bool, increased: bool) -> str:
    if cmp_node.bool_modifier or cmp_node.op in ("==", "!="):
        return EITHER
    # x > t filters out more as t grows; x < t lets more through; t on the left mirrors the operator.
    grows_filter = cmp_node.op in (">", ">=")
    if on_left:
        grows_filter = not grows_filter
    local = 1 if grows_filter == increased else -1        # +1: the comparison keeps fewer elements
    return _direction(local * path_effect(root, cmp_node, SHRINK))


def _threshold_hint(direction: str, old: str, new: str) -> str:
    if direction == WEAKER:
        return (f"a scenario with the effect between the threshold {old} and {new} that must fire (the original "
                "fires there, the mutant does not)")
    if direction == STRONGER:
        return (f"a near-miss scenario with the effect between {new} and the threshold {old}, on the silent side, "
                "that must stay silent")
    return f"a scenario with the effect between {old} and {new}, with a fires or a silent check"


def _for_candidate(doc: RuleText, index: int) -> _Candidate:
    rule = doc.sites[index].rule
    if rule.for_s <= 0:
        return _Candidate(FOR_X10, "for x10", reason="equivalent: `for` is absent or 0, and 0 x 10 is still 0")
    old, new = format_duration(rule.for_s), format_duration(rule.for_s * 10)
    c = _Candidate(FOR_X10, f"for {old} -> {new}", WEAKER,
                   f"a fires check whose deadline is shorter than 10x `for` ({new}), or a fault that lasts longer "
                   f"than {old} but shorter than {new} and must fire")
    try:
        c.edited = doc.replace_for(index, rule.for_s * 10)
    except EditError as exc:
        c.reason = f"cannot be edited in place: {exc}"
    return c


def _matcher_candidate(root: Node, sel: Node, m: Any, ctx: _Context, expr: str,
                       where: str) -> tuple[_Candidate, str]:
    def selects(value: str) -> bool:
        if m.op in ("=", "!="):
            return value == m.value
        try:
            return re.fullmatch(m.value, value) is not None
        except re.error:
            return False

    others = [v for v in ctx.label_values.get(m.label, [])
              if not selects(v) and (m.op in ("=", "!=") or not set(v) & _REGEX_SPECIALS)]
    shown = f"{sel.text}{{{m.label}{m.op}\"{m.value}\"}}"
    if others:
        new = others[0]
        c = _Candidate(MATCHER_CHANGED, f"matcher {shown} -> \"{new}\"{where}", EITHER,
                       f"a scenario where only the series {shown} selects changes: a fault on it that must fire, "
                       f"and one on {m.label}=\"{new}\" that must stay silent")
        return c, new
    new = m.value + MISSING_VALUE_SUFFIX
    positive = m.op in ("=", "=~")
    direction = _direction(path_effect(root, sel, EMPTIES)) if positive else EITHER
    what = "selects no series" if positive else "selects every series"
    hint = (f"a fires scenario driven by the series {shown} selects" if positive else
            f"a scenario where a series {shown} excludes changes and the alert must stay silent")
    return _Candidate(MATCHER_CHANGED, f"matcher {shown} -> \"{new}\" ({what}){where}",
                      direction, hint), new


def misspell(name: str, taken: Collection[str]) -> str:
    """A misspelling of ``name`` that names no metric or record in ``taken``: its last character dropped, else
    its last two swapped, else a letter doubled."""
    tries = [name[:-1], name[:-2] + name[-1:] + name[-2:-1], name + name[-1:]]
    for t in tries:
        if t and t != name and t not in taken and not t.endswith(":") and not t[0].isdigit():
            return t
    return name + "_x"


def _branch_candidates(expr: str, root: Node, node: Node) -> list[tuple[_Candidate, int, int]]:
    """Each operand of an `or` / `and` chain whose top is ``node``, removed."""
    if node.kind != BINARY or node.op not in ("or", "and"):
        return []
    parents = parent_map(root)
    parent = parents.get(id(node))
    if parent is not None and parent.kind == BINARY and parent.op == node.op and parent.children[0] is node:
        return []   # inside a longer chain: its top takes it
    chain = node.chain()
    growth = path_effect(root, node, SHRINK)
    out: list[tuple[_Candidate, int, int]] = []
    printed = [_canonical(expr[b.start:b.end]) for b in chain]
    for k, branch in enumerate(chain):
        start, end = (chain[0].start, chain[1].start) if k == 0 else (chain[k - 1].end, branch.end)
        shown = _abbrev(expr[branch.start:branch.end])
        twin = next((j for j, p in enumerate(printed) if j != k and p is not None and p == printed[k]), None)
        if twin is not None:
            out.append((_Candidate(BRANCH_REMOVED, f"{node.op} branch {k + 1} of {len(chain)} removed ({shown})",
                                   reason=f"equivalent: branch {twin + 1} is the same expression (x {node.op} x "
                                   "is x)"), 0, 0))
            continue
        if node.op == "or":
            direction = _direction(growth)
            hint = f"a fires scenario for that branch ({shown}), checked with labels: only it produces"
        else:
            direction = EITHER if k == 0 else _direction(-growth)
            hint = (f"a near-miss scenario where only that condition ({shown}) is false, which must stay silent")
        c = _Candidate(BRANCH_REMOVED, f"{node.op} branch {k + 1} of {len(chain)} removed ({shown})", direction, hint)
        out.append((c, start, end))
    return out


def _canonical(text: str) -> str | None:
    import promql_parser

    try:
        return str(promql_parser.parse(text))
    except Exception:  # promql-parser raises its own error types
        return None


def _abbrev(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 3] + "..."


def _severity_candidate(doc: RuleText, index: int, ctx: _Context) -> _Candidate:
    rule = doc.sites[index].rule
    current = rule.labels.get("severity")
    if current is None:
        return _Candidate(SEVERITY_CHANGED, "severity", reason="no `severity` label to change")
    routing = ctx.routing
    candidates = [v for v in dict.fromkeys([*(routing.values if routing else ()), *SEVERITIES]) if v != current]
    labels = {**rule.labels, "alertname": rule.name}
    chosen, hint = candidates[0], ""
    if routing is not None:
        before = routing.receivers(labels)
        differ = [v for v in candidates if routing.receivers({**labels, "severity": v}) != before]
        if differ:
            chosen = differ[0]
            after = routing.receivers({**labels, "severity": chosen})
            hint = (f"a notified check on {', '.join(before)} (where severity {current} routes; the mutant's "
                    f"{chosen} routes to {', '.join(after)}), with not_receivers: {', '.join(after)}")
        elif routing.inhibit_reads_severity:
            hint = (f"an inhibited check: severity {current} -> {chosen} routes the same ({', '.join(before)}) but "
                    "an inhibit rule reads severity")
        else:
            return _Candidate(SEVERITY_CHANGED, f"severity {current} -> another",
                              reason=f"equivalent: every severity ({', '.join([current, *candidates])}) routes "
                              f"{rule.name} to {', '.join(before)} and no inhibit rule reads severity")
    c = _Candidate(SEVERITY_CHANGED, f"severity {current} -> {chosen}", LABELS,
                   hint or "a notified check on the receiver the severity routes to")
    try:
        c.edited = doc.replace_label(index, "severity", chosen)
    except EditError as exc:
        c.reason = f"cannot be edited in place: {exc}"
    return c


# -- direction -----------------------------------------------------------------------------------------


def _direction(effect: int) -> str:
    return WEAKER if effect > 0 else STRONGER if effect < 0 else EITHER


def path_effect(root: Node, node: Node, mode: str) -> int:
    """How the alert's set of firing label sets follows when ``node``'s output loses elements (``mode`` SHRINK:
    some; EMPTIES: all): +1 it can only shrink, -1 it can only grow, 0 either (not known by construction)."""
    parents = parent_map(root)
    effect, cur = 1, node
    while cur is not root:
        parent = parents[id(cur)]
        effect *= _step(parent, cur, mode)
        if effect == 0:
            return 0
        cur = parent
    return effect


def _step(parent: Node, child: Node, mode: str) -> int:
    if parent.kind in (PAREN, UNARY):
        return 1
    if parent.kind == BINARY:
        if parent.op == "unless":
            return 1 if child is parent.children[0] else -1
        if parent.op in ("or", "and"):
            return 1
        if parent.bool_modifier and mode == SHRINK:
            return 0
        return 1     # arithmetic and filtering comparisons: an element gone from an operand is gone from the result
    name = parent.op.lower()
    if parent.kind == CALL:
        if name in _FLIPS:
            return -1
        if name in _NOT_VECTORS:
            return 0
        return 1 if mode == EMPTIES or name in _ELEMENTWISE else 0
    if parent.kind in (AGGREGATE, SUBQUERY):
        return 1 if mode == EMPTIES else 0   # an aggregate of nothing is nothing; of less, another value
    return 0


# -- mutants renamed, to run many at once ---------------------------------------------------------------


def renamed_pack(mutants: Sequence[Mutant]) -> str:
    """One rule file holding each mutant's alert under its new name (``Mutant.renamed``): the changed rule and the
    unchanged rules that share its alert name, each grouped like the original (same evaluation interval). Loaded
    beside the original files (the recording rules the mutants read are there); Prometheus evaluates every rule on
    its own, so one run judges them all."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for m in mutants:
        for rule, interval in ((m.rule, m.group_interval), *m.siblings):
            key = (Path(rule.file).stem, rule.group)
            if key not in groups:
                g: dict[str, Any] = {"name": f"{key[0]}/{rule.group}__mutants"}
                if interval:
                    g["interval"] = interval
                g["rules"] = []
                groups[key] = g
            groups[key]["rules"].append(_renamed_rule(rule, m.renamed))
    header = "# Mutants renamed <alert>__<mutant id>, loaded beside the original rule files (harness mutate).\n"
    return header + yaml.dump({"groups": list(groups.values())}, Dumper=_BlockDumper, sort_keys=False, width=4096)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (expressions) as `|` blocks, as rule files write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip() and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _renamed_rule(rule: Rule, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"alert": name, "expr": rule.expr}
    if rule.for_s:
        out["for"] = format_duration(rule.for_s)
    if rule.keep_firing_for_s:
        out["keep_firing_for"] = format_duration(rule.keep_firing_for_s)
    if rule.labels:
        out["labels"] = dict(rule.labels)
    if rule.annotations:
        out["annotations"] = dict(rule.annotations)
    return out
