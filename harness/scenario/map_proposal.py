"""``harness map``: propose an alert and receiver map (harness.scenario.alertmap) from what each rule reads.

For each alert of the reference packs, the pack's alert that watches the same thing: the metrics it reads
(recording rules expanded; ``up`` counts with its ``job``), then the comparison's direction, the threshold, the
``for``, the severity, and the name as a tie-break. Every line comes with its reason, for the user to confirm:
the proposal is a starting point, never applied unread. Receivers follow the alerts: a reference receiver maps to
the pack's receiver that the mapped alerts' labels route to, else to a receiver with the same role (integration).
Severity values map the same way: a reference value to what the mapped alerts carry in the pack.

Pure over two ``Catalog``s and two routing trees; the command reads the files.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import REFERENCE_ALERTMANAGER, reference_rule_files
from harness.core.catalog import AlertRule, Catalog, expand_records, load_catalog
from harness.core.durations import format_duration
from harness.core.promql import Reading, read
from harness.core.roles import receiver_roles
from harness.core.routing import Route, build_route, receivers_for

COMPARISONS = {">": "above", ">=": "above", "<": "below", "<=": "below", "==": "equal", "!=": "not equal"}
# A pairing below this score is no pairing: sharing one metric of several, with nothing else alike, is not enough.
MIN_SCORE = 0.5


@dataclass(frozen=True)
class Watch:
    """What an alert watches, as far as a pairing cares."""

    name: str
    metrics: frozenset[str]                    # metric names (``up{job="redis"}`` for up), records expanded
    comparisons: tuple[tuple[str, float], ...]  # (operator, number) of each comparison with a number
    for_s: float
    severity: str | None

    @property
    def directions(self) -> frozenset[str]:
        return frozenset(COMPARISONS[op] for op, _ in self.comparisons)


def metrics_read(r: Reading) -> frozenset[str]:
    """The metric names a reading selects; ``up`` with its job, since every target has one."""
    metrics = set()
    for s in r.selectors:
        if not s.metric:
            continue
        job = next((m.value for m in s.matchers if m.name == "job" and m.op == "="), None)
        metrics.add(f'up{{job="{job}"}}' if s.metric == "up" and job else s.metric)
    return frozenset(metrics)


def watch(rule: AlertRule, records: Mapping[str, str]) -> Watch:
    r = read(expand_records(rule.expr, records))
    comparisons = [(b.op, n) for b in r.binaries if b.op in COMPARISONS
                   for n in (b.rhs.number, b.lhs.number) if n is not None]
    return Watch(rule.name, metrics_read(r), tuple(dict.fromkeys(comparisons)), rule.for_s,
                 rule.labels.get("severity"))


@dataclass(frozen=True)
class Pairing:
    reference: str
    theirs: str | None
    reason: str
    score: float = 0.0


def _threshold_close(a: Watch, b: Watch) -> bool:
    for op, x in a.comparisons:
        for op2, y in b.comparisons:
            if COMPARISONS[op] == COMPARISONS[op2] and (x == y or (x * y > 0 and 0.5 <= x / y <= 2)):
                return True
    return False


def score(ref: Watch, cand: Watch) -> float:
    """How alike two alerts' watches are: shared metrics first, the rest refines."""
    shared = ref.metrics & cand.metrics
    if not shared:
        return 0.0
    s = len(shared) / len(ref.metrics | cand.metrics)
    if ref.directions and cand.directions:
        s += 0.3 if ref.directions & cand.directions else -0.3
    s += 0.2 * _threshold_close(ref, cand)
    s += 0.1 * (ref.for_s == cand.for_s) + 0.1 * (ref.severity == cand.severity)
    return s + 0.2 * difflib.SequenceMatcher(None, ref.name.lower(), cand.name.lower()).ratio()


def _for(seconds: float) -> str:
    return format_duration(seconds) if seconds > 0 else "0s"


def _number(n: float) -> str:
    return str(int(n)) if n.is_integer() and abs(n) < 1e15 else f"{n:g}"


def _comparisons(w: Watch) -> str:
    return ", ".join(f"{op} {_number(n)}" for op, n in w.comparisons)


def reason(ref: Watch, cand: Watch) -> str:
    shared = sorted(ref.metrics & cand.metrics)
    comps = _comparisons(cand)
    text = f"{cand.name}: reads {', '.join(shared)}{f' {comps}' if comps else ''} as {ref.name} does ("
    aspects = ["same metric" + ("s" if len(shared) > 1 else "") if ref.metrics == cand.metrics else
               f"{len(shared)} of its {len(ref.metrics)} metrics"]
    if ref.directions and cand.directions and not ref.directions & cand.directions:
        aspects.append(f"other comparison: {_comparisons(ref)} there")
    elif ref.directions and cand.directions:
        aspects.append("same comparison" + ("" if set(ref.comparisons) == set(cand.comparisons) else
                                            f", threshold {_comparisons(ref)} there"
                                            + (" (close)" if _threshold_close(ref, cand) else "")))
    aspects.append(f"same for {_for(ref.for_s)}" if ref.for_s == cand.for_s else
                   f"for {_for(cand.for_s)}, {_for(ref.for_s)} there")
    if ref.severity != cand.severity:
        aspects.append(f"severity {cand.severity or 'none'}, {ref.severity or 'none'} there")
    return text + "; ".join(aspects) + ")"


def pair_alerts(reference: Catalog, theirs: Catalog) -> list[Pairing]:
    ours = [watch(r, reference.record_exprs) for _, r in sorted(reference.alerts.items())]
    cands = [watch(r, theirs.record_exprs) for _, r in sorted(theirs.alerts.items())]
    out = []
    for ref in ours:
        scored = sorted(((score(ref, c), c) for c in cands), key=lambda x: -x[0])
        if scored and scored[0][0] >= MIN_SCORE:
            best_score, best = scored[0]
            text = reason(ref, best)
            runner_up = next((c for s, c in scored[1:] if s >= MIN_SCORE), None)
            if runner_up is not None:
                text += f"; next best {runner_up.name}"
            out.append(Pairing(ref.name, best.name, text, best_score))
        else:
            near = [c for s, c in scored if s > 0]
            text = f"no rule reads {', '.join(sorted(ref.metrics)) or 'what it reads'}" + "".join(
                f"; {c.name} reads only {', '.join(sorted(ref.metrics & c.metrics))} of it" for c in near[:2])
            out.append(Pairing(ref.name, None, text))
    return out


def pair_records(reference: Catalog, theirs: Catalog) -> list[Pairing]:
    """Each reference recording rule -> the pack's recording rule that reads the same metrics (through the recording
    rules it reads), the name breaking ties."""
    def reads(name: str, records: Mapping[str, str]) -> frozenset[str]:
        return metrics_read(read(expand_records(records[name], records))) - {name}

    out = []
    for ref in sorted(reference.record_exprs):
        mine = reads(ref, reference.record_exprs)
        scored = []
        for cand in sorted(theirs.record_exprs):
            got = reads(cand, theirs.record_exprs)
            if mine & got:
                scored.append((len(mine & got) / len(mine | got)
                               + 0.2 * difflib.SequenceMatcher(None, ref, cand).ratio(), cand, got))
        if scored:
            _, best, got = max(scored)
            same = "same metrics" if got == mine else f"{len(mine & got)} of its {len(mine)} metrics"
            out.append(Pairing(ref, best, f"{best}: reads {', '.join(sorted(mine & got))} as {ref} does ({same})"))
        else:
            out.append(Pairing(ref, None, f"no recording rule reads {', '.join(sorted(mine))}"))
    return out


def _route(doc: Mapping[str, Any], source: str) -> Route:
    return build_route(doc.get("route") or {}, source=source)


def _labels(rule: AlertRule) -> dict[str, str]:
    return {**rule.labels, "alertname": rule.name}


def pair_receivers(reference: Catalog, ref_doc: Mapping[str, Any], theirs: Catalog, their_doc: Mapping[str, Any],
                   alerts: Sequence[Pairing]) -> list[Pairing]:
    """Each reference receiver -> the pack's receiver its mapped alerts route to, else one of the same role."""
    ref_route, their_route = _route(ref_doc, "reference"), _route(their_doc, "theirs")
    roles = {str(r.get("name")): receiver_roles(r) for r in theirs.receiver_configs}
    out = []
    for recv in reference.receiver_configs:
        name = str(recv.get("name"))
        role = receiver_roles(recv)
        got: Counter[str] = Counter()
        via: dict[str, None] = {}   # the pack's alerts that led here, each once
        for p in alerts:
            if p.theirs is None or name not in receivers_for(ref_route, _labels(reference.alerts[p.reference])):
                continue
            here = receivers_for(their_route, _labels(theirs.alerts[p.theirs]))
            # Of the receivers it reaches there, those of the same role first (PagerDuty for PagerDuty).
            same = [r for r in here if set(roles.get(r, ())) & set(role)] or here
            got.update(same)
            via[p.theirs] = None
        if got:
            best = max(got, key=lambda r: (got[r], difflib.SequenceMatcher(None, r, name).ratio()))
            text = (f"{best}: where {', '.join(via)} go, as their reference alerts go to {name}"
                    f"; role {', '.join(roles.get(best, ())) or 'none'}")
            out.append(Pairing(name, best, text))
            continue
        same_role = [r for r, rs in roles.items() if set(rs) & set(role)]
        if same_role:
            out.append(Pairing(name, same_role[0], f"{same_role[0]}: no mapped alert routes to {name}; the same "
                               f"role ({', '.join(role)})"))
        else:
            out.append(Pairing(name, None, f"no mapped alert routes to {name}, and no receiver has its role "
                               f"({', '.join(role) or 'none'})"))
    return out


def pair_severities(reference: Catalog, theirs: Catalog, alerts: Sequence[Pairing]) -> list[Pairing]:
    """Each reference severity value -> the value the mapped alerts carry in the pack (when it differs)."""
    got: dict[str, Counter[str]] = {}
    for p in alerts:
        if p.theirs is None:
            continue
        a, b = reference.alerts[p.reference].labels.get("severity"), theirs.alerts[p.theirs].labels.get("severity")
        if a is not None and b is not None:
            got.setdefault(a, Counter())[b] += 1
    out = []
    for value, counts in sorted(got.items()):
        best, n = counts.most_common(1)[0]
        if best != value or len(counts) > 1:
            others = ", ".join(f"{v} {c}" for v, c in counts.items() if v != best)
            out.append(Pairing(value, best, f"{best}: carried by {n} of the {sum(counts.values())} mapped alerts that "
                               f"are {value} in the reference" + (f" (also: {others})" if others else "")))
    return out


@dataclass(frozen=True)
class Proposal:
    alerts: list[Pairing]
    records: list[Pairing]
    receivers: list[Pairing]
    severities: list[Pairing]
    source: str

    def as_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alerts": {p.reference: p.theirs for p in self.alerts},
                               "records": {p.reference: p.theirs for p in self.records},
                               "receivers": {p.reference: p.theirs for p in self.receivers}}
        if self.severities:
            out["labels"] = {"severity": {p.reference: p.theirs for p in self.severities}}
        return out


def propose(reference: Catalog, ref_doc: Mapping[str, Any], theirs: Catalog,
            their_doc: Mapping[str, Any], source: str = "") -> Proposal:
    alerts = pair_alerts(reference, theirs)
    return Proposal(alerts, pair_records(reference, theirs),
                    pair_receivers(reference, ref_doc, theirs, their_doc, alerts),
                    pair_severities(reference, theirs, alerts), source)


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.\-]*$")


def _scalar(value: str | None) -> str:
    if value is None:
        return "null"
    return value if _PLAIN.match(value) and value not in ("null", "true", "false", "yes", "no") else json.dumps(value)


def render(p: Proposal) -> str:
    """The proposal as a map file, each line under the comment that gives its reason."""
    lines = [f"# Proposed by `harness map` {p.source}".rstrip(),
             "# Confirm each line (the reason is above it), correct what is wrong, then:",
             "#   harness verify --rules ... --alertmanager-config ... --map THIS_FILE",
             "# null: the pack has no such alert (or receiver); scenarios that need it stay not applicable."]

    def section(title: str, pairs: Sequence[Pairing], indent: str = "  ") -> None:
        lines.append(title)
        for x in pairs:
            lines.append(f"{indent}# {x.reason}")
            lines.append(f"{indent}{_scalar(x.reference)}: {_scalar(x.theirs)}")

    section("alerts:", p.alerts)
    section("records:", p.records)
    section("receivers:", p.receivers)
    if p.severities:
        lines += ["labels:", "  severity:"]
        section("", p.severities, "    ")
        lines.remove("")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    import yaml

    ap = argparse.ArgumentParser(prog="harness map", description="Propose an alert and receiver map from the "
                                 "metrics, comparisons, labels and routes of your rules, with a reason for each "
                                 "line, to confirm and pass to `harness verify --map`.")
    ap.add_argument("--rules", nargs="+", metavar="FILE", required=True, help="your rule files")
    ap.add_argument("--alertmanager-config", metavar="FILE", required=True, help="your Alertmanager config")
    ap.add_argument("--out", metavar="FILE", help="write the map here (default: print it)")
    args = ap.parse_args(argv)
    # Lazy: `harness map --help` and usage errors answer without loading the suite (437 ms, measured).
    from harness.scenario.suite import load_packs

    rules, theirs = load_packs(args.rules, args.alertmanager_config)
    reference = load_catalog(reference_rule_files(), REFERENCE_ALERTMANAGER)
    ref_doc = yaml.safe_load(Path(REFERENCE_ALERTMANAGER).read_text(encoding="utf-8")) or {}
    their_doc = yaml.safe_load(Path(args.alertmanager_config).read_text(encoding="utf-8")) or {}
    source = (f"from rules {', '.join(p.name for p in rules)} and Alertmanager config "
              f"{Path(args.alertmanager_config).name}")
    proposal = propose(reference, ref_doc, theirs, their_doc, source)
    text = render(proposal)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        counts = [f"{sum(x.theirs is not None for x in xs)} of {len(xs)} {what}" for what, xs in
                  (("alerts", proposal.alerts), ("recording rules", proposal.records),
                   ("receivers", proposal.receivers))]
        print(f"wrote {args.out}: {', '.join(counts)} mapped; read the reason above each line before using it")
    else:
        print(text, end="")
    return 0
