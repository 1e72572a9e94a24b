"""How many events a rule's windows must hold to resolve its threshold, pure.

A ratio or a quantile over a window of N events moves in steps of 1/N: the p95 of 20 samples is the slowest
one, and an error ratio over 100 requests jumps from 0% to 1% with a single error. Compression divides the
events a window holds by the time scale (the load runs in real time, the windows do not), so a verdict on a
compressed window can turn on one slow call or one error that production would average away. A window
*resolves* its threshold when at least ``RESOLVE_EVENTS`` events lie beyond it: a p95 needs 60 samples, a
1% ratio 300 requests, a 99.9% one 3000.

``needs_of`` reads those needs from an alert's expression (a ``histogram_quantile`` over a histogram's
buckets; a ratio of rates compared with a threshold between 0 and 1); each need counts the events of one
counter, per group of the aggregation that reads it (``sum by (endpoint)``: per endpoint). Gauges (a ratio
of two gauges, ``pg_up == 0``) read no events and have no need. The runner uses the needs twice: before a
scenario, to keep its scale low enough for the windows to hold them at its load rate (``limit``); after it,
with the events the windows actually held, to tell a verdict from noise (``unresolved``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import promql_parser as pp

from harness.core.promql import PromQLSyntaxError, parse

RESOLVE_EVENTS = 3
# Below this scale a scenario costs more real time than a suite can give it (a 15 min scenario takes
# 90 s at 10, plus its warm-up): a need that asks for less is reported, and firing on a window that held too
# few events is judged as such after the run, rather than slowing the scenario down. It is also the scale
# at which the audit confirms a failure.
AFFORDABLE_SCALE = 10.0
# A scale is planned for this many times the events a window needs: the count of a window moves with the
# arrivals in it, and the judgement after the run takes the fewest any window held.
PLAN_MARGIN = 1.5
# A pause of the machine (the API's event loop, a disk flush) is a real term too: every call in flight or
# arriving during it takes that much longer, whatever the scale. A quantile's window is kept long enough that
# a pause this long delays at most half of the calls beyond its quantile (2.5% of a p95's window), so a pause
# twice as long still cannot carry a latency over a threshold the fault stays under. In a CI run on 2 cores a
# pause of about 0.45 s put 5% of a 9.4 s window of place_bet over 50 ms (p95 at scale 32).
STALL_S = 0.5

_COMPARISONS = {">", "<", ">=", "<=", "==", "!="}
_COUNTING = {"rate", "irate", "increase"}

Matcher = tuple[str, str, str]      # (label, op, value), op one of = != =~ !~
Group = tuple[tuple[str, str], ...]  # the values of the need's group-by labels


@dataclass(frozen=True)
class Need:
    alert: str
    metric: str                   # the counter whose increase counts the window's events
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]     # events are counted per value of these labels
    window_s: float               # production seconds
    needed: int                   # events per window per group
    what: str                     # "p95 > 0.005", "ratio > 0.01"
    tail: float = 0.0             # a quantile's share of events beyond it (0.05 for a p95); 0 for a ratio

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all(_match(labels.get(name, ""), op, value) for name, op, value in self.matchers)

    def group_of(self, labels: Mapping[str, str]) -> Group:
        return tuple((k, labels.get(k, "")) for k in self.group_by)

    def identity(self, group: Group) -> dict[str, str]:
        """The labels an alert series of this group carries for sure: the group's values and the selector's
        equality matchers on labels the aggregation keeps."""
        out = {name: value for name, op, value in self.matchers if op == "=" and name in self.group_by}
        out.update(dict(group))
        return out

    def count_expr(self, window_real_s: float) -> str:
        """PromQL for the events each group's window held, the window compressed to ``window_real_s``."""
        sel = ",".join(f'{n}{op}"{_escape(v)}"' for n, op, v in self.matchers)
        by = f" by ({', '.join(self.group_by)})" if self.group_by else ""
        return f"sum{by} (increase({self.metric}{{{sel}}}[{max(1, round(window_real_s * 1000))}ms]))"

    def describe(self, group: Group = ()) -> str:
        ident = self.identity(group)
        labels = "{" + ", ".join(f"{k}={v}" for k, v in ident.items()) + "}" if ident else ""
        return f"{self.alert}{labels} ({self.what} over {self.window_s:g} s of {self.metric})"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _match(actual: str, op: str, value: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _matchers(vs: pp.VectorSelector) -> tuple[Matcher, ...]:
    return tuple((m.name, _MATCH_OPS.get(str(m.op), str(m.op)), m.value) for m in vs.matchers.matchers
                 if m.name != "__name__")


def _counted(node: object, group_by: tuple[str, ...] | None = None,
             counting: bool = False) -> list[tuple[pp.MatrixSelector, tuple[str, ...] | None]]:
    """Range selectors read by rate/irate/increase under ``node``, each with the group-by labels of the
    nearest aggregation above it (None: an aggregation ``without`` labels, or none)."""
    if isinstance(node, pp.MatrixSelector):
        return [(node, group_by)] if counting else []
    if isinstance(node, pp.AggregateExpr):
        mod = node.modifier
        by = tuple(mod.labels) if mod is not None and str(mod.type).endswith("By") else None
        return _counted(node.expr, by if by is not None else group_by, counting)
    if isinstance(node, pp.Call):
        inner = counting or node.func.name in _COUNTING
        return [s for a in node.args for s in _counted(a, group_by, inner)]
    if isinstance(node, pp.BinaryExpr):
        return _counted(node.lhs, group_by, counting) + _counted(node.rhs, group_by, counting)
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return _counted(node.expr, group_by, counting)
    return []


def _need(alert: str, sel: pp.MatrixSelector, group_by: tuple[str, ...] | None, needed: int, what: str,
          bucket: bool, tail: float = 0.0) -> Need:
    vs = sel.vector_selector
    metric = str(vs.name or "")
    matchers = _matchers(vs)
    if bucket:
        metric = re.sub(r"_bucket$", "_count", metric)
        matchers = tuple(m for m in matchers if m[0] != "le")
    groups = tuple(g for g in (group_by or ()) if g != "le")
    return Need(alert, metric, matchers, groups, sel.range.total_seconds(), needed, what, tail)


def _number(node: object) -> float | None:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return float(node.val) if isinstance(node, pp.NumberLiteral) else None


def _visit(alert: str, node: object, threshold: tuple[str, float] | None, out: list[Need]) -> None:
    if isinstance(node, pp.ParenExpr):
        _visit(alert, node.expr, threshold, out)
        return
    if isinstance(node, pp.Call) and node.func.name == "histogram_quantile" and len(node.args) == 2:
        q = _number(node.args[0])
        if q is not None and 0 < q < 1:
            needed = math.ceil(RESOLVE_EVENTS / (1 - q) - 1e-9)
            what = f"p{q * 100:g}" + (f" {threshold[0]} {threshold[1]:g}" if threshold else "")
            for sel, by in _counted(node.args[1]):
                if str(sel.vector_selector.name or "").endswith("_bucket"):
                    out.append(_need(alert, sel, by, needed, what, bucket=True, tail=1 - q))
        return
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        if op in _COMPARISONS:
            for side, other in ((node.lhs, node.rhs), (node.rhs, node.lhs)):
                t = _number(other)
                if t is not None and _number(side) is None:
                    _visit(alert, side, (op, t), out)
                    return
        if op == "/" and threshold is not None and 0 < threshold[1] < 1:
            t = threshold[1]
            needed = math.ceil(RESOLVE_EVENTS / min(t, 1 - t) - 1e-9)
            for sel, by in _counted(node.rhs):
                out.append(_need(alert, sel, by, needed, f"ratio {threshold[0]} {t:g}", bucket=False))
            return
        _visit(alert, node.lhs, None, out)
        _visit(alert, node.rhs, None, out)
        return
    if isinstance(node, pp.Call):
        for a in node.args:
            _visit(alert, a, None, out)
    elif isinstance(node, (pp.AggregateExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        _visit(alert, node.expr, None, out)


def needs_of(alert: str, expr: str) -> list[Need]:
    """The event needs of an alert's own expression (recording rules it reads are not followed: their
    thresholds live in the alert, their windows in the record). An expression that does not parse has none:
    `harness check` reports it."""
    try:
        tree = parse(expr)
    except PromQLSyntaxError:
        return []
    out: list[Need] = []
    _visit(alert, tree, None, out)
    unique: dict[tuple[object, ...], Need] = {}
    for n in out:
        unique.setdefault((n.metric, n.matchers, n.group_by, n.window_s), n)
    return list(unique.values())


def relevant(needs: Iterable[Need], labels: Mapping[str, str] | None) -> list[Need]:
    """The needs that can concern alert series carrying ``labels`` (an expectation's `labels:`)."""
    if not labels:
        return list(needs)
    out = []
    for n in needs:
        eq = {name: value for name, op, value in n.matchers if op == "="}
        if all(eq.get(k, v) == v for k, v in labels.items()) and all(
                _match(str(labels[name]), op, value) for name, op, value in n.matchers if name in labels):
            out.append(n)
    return out


@dataclass(frozen=True)
class EventRates:
    """Events per request of every counter series of the API, measured under steady load."""

    per_request: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]

    def per_group(self, need: Need, rate: float) -> dict[Group, float]:
        """Events per second of each group of ``need`` at ``rate`` requests per second."""
        out: dict[Group, float] = {}
        for (metric, labels), share in self.per_request.items():
            lab = dict(labels)
            if metric == need.metric and need.selects(lab):
                g = need.group_of(lab)
                out[g] = out.get(g, 0.0) + share * rate
        return out


def rates_from_counts(before: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
                      after: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
                      requests: float) -> EventRates:
    """Per-request increase of every counter between two scrapes, ``requests`` requests apart."""
    if requests <= 0:
        return EventRates({})
    return EventRates({k: max(0.0, v - before.get(k, 0.0)) / requests for k, v in after.items()})


def filled(calibrated: EventRates, measured: EventRates) -> EventRates:
    """The calibration, with the measured share of every series it lacks: the scale is computed from fixed
    shares wherever there are some, so the same scenario runs at the same scale in every run."""
    out = dict(measured.per_request)
    out.update(calibrated.per_request)
    return EventRates(out)


def deviations(calibrated: EventRates, measured: EventRates, requests: float) -> list[str]:
    """Series whose count over ``requests`` measured requests lies outside what the calibration predicts,
    beyond sampling noise (four standard deviations of a Poisson count) and a tenth of the prediction."""
    out = []
    for key, share in sorted(calibrated.per_request.items()):
        expected = share * requests
        got = measured.per_request.get(key, 0.0) * requests
        if abs(got - expected) > 4 * math.sqrt(expected) + 0.1 * expected:
            metric, labels = key
            out.append(f"{metric}{dict(labels)}: {got:.0f} events over {requests:.0f} requests, "
                       f"{expected:.0f} calibrated")
    return out


def limits(needs: Iterable[Need], rates: EventRates, load_rate: float,
           labels: Mapping[str, str] | None = None) -> list[tuple[float, str]]:
    """(largest scale, why) at which each group's window still holds what its need asks (with
    ``PLAN_MARGIN``), at ``load_rate``; with ``labels`` (an expectation's), only the groups they select. A
    quantile's window also stays long enough for a pause of ``STALL_S`` (``stall_limit``)."""
    out = []
    for need in needs:
        judged = False
        for group, per_s in sorted(rates.per_group(need, load_rate).items()):
            values = dict(group)
            if per_s <= 0 or any(values.get(k, str(v)) != str(v) for k, v in (labels or {}).items()):
                continue
            judged = True
            held = per_s * need.window_s
            out.append((held / (need.needed * PLAN_MARGIN),
                        f"{need.describe(group)}: needs {need.needed} events a window, {held:.0f} at real time "
                        f"({per_s:.2f}/s at {load_rate:g} req/s)"))
        if judged and need.tail > 0:
            out.append(stall_limit(need))
    return out


def stall_limit(need: Need) -> tuple[float, str]:
    """(largest scale, why) at which a pause of ``STALL_S`` delays at most half of the events beyond the
    quantile: the window must last ``2 * STALL_S / tail`` real seconds, whatever the rate."""
    real_s = 2 * STALL_S / need.tail
    return (need.window_s / real_s,
            f"a {STALL_S:g} s pause of the machine under {need.describe()}: it must delay at most "
            f"{need.tail / 2:.1%} of a window's events, so the window lasts >= {real_s:.0f} s")


def unresolved(need: Need, held: Mapping[Group, float]) -> dict[Group, str]:
    """Groups whose windows held fewer events than the need asks (``held``: the fewest any window held)."""
    return {g: f"{need.describe(g)}: its window held {n:.0f} events, {need.needed} needed"
            for g, n in sorted(held.items()) if n < need.needed}
