"""What the loaded rule packs and Alertmanager config offer a scenario: alert names, their ``for`` and
range windows (for the theoretical minimum detection latency), labels (for routing) and receivers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.durations import parse_duration
from harness.core.errors import HarnessError
from harness.core.promql import PromQLSyntaxError, metric_names, parse, read
from harness.core.roles import receivers_by_role, resolve
from harness.core.routing import Route, build_route, receivers_for
from harness.core.rule_formats import load_rule_doc


def widest_window_s(exprs: str | Iterable[str]) -> float:
    """Largest range window (or subquery range) in PromQL expressions (production seconds), 0 for
    instant-only ones."""
    return max(read(exprs).windows_s, default=0.0)


def range_selectors(exprs: str | Iterable[str]) -> list[tuple[str, float]]:
    """(metric name, production seconds) of every range selector in PromQL expressions: ``x[5m]``, and a
    subquery taken directly over a selector (``x[1h:1m]``)."""
    return [(s.metric, s.range_s) for s in read(exprs).selectors if s.metric and s.range_s is not None]


def expand_records(expr: str, records: Mapping[str, str], depth: int = 3) -> tuple[str, ...]:
    """The expression, then the expressions of the recording rules it reads (they are part of it), and of
    those they read, ``depth`` levels down; each once."""
    out = [expr]
    if depth > 0:
        used = set(metric_names(expr))
        for name, record_expr in records.items():
            if name in used:
                out.extend(expand_records(record_expr, records, depth - 1))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    for_s: float                      # production seconds
    labels: Mapping[str, str]
    group: str
    interval_s: float | None          # the group's evaluation interval (production seconds)
    file: str

    @property
    def max_window_s(self) -> float:
        """Largest range window in the expression (production seconds), 0 for instant-only rules."""
        return widest_window_s(self.expr)


@dataclass(frozen=True)
class Catalog:
    alerts: Mapping[str, AlertRule]
    receivers: frozenset[str] = frozenset()
    group_wait_s: float = 30.0        # Alertmanager's route-level group_wait (production seconds)
    rule_files: tuple[str, ...] = ()
    records: frozenset[str] = field(default_factory=frozenset)
    record_exprs: Mapping[str, str] = field(default_factory=dict)
    receiver_configs: tuple[Mapping[str, Any], ...] = ()
    route: Route | None = None        # the Alertmanager config's routing tree (None: no config loaded)
    # Every rule's static labels, by alert name (``alerts`` keeps the first rule of a name; a pack may define
    # one alert in several tiers, a warning and a critical rule).
    label_sets: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)

    def routed_to(self, name: str) -> list[str]:
        """Receivers the routing tree sends ``name`` to, by its name and static labels (a route matching a
        label the expression sets is not seen); empty without an Alertmanager config."""
        if self.route is None:
            return []
        rule = self.rule(name)
        return receivers_for(self.route, {**rule.labels, "alertname": name})

    def lacks_series(self, name: str, labels: Mapping[str, Any]) -> list[str]:
        """``label=value`` pairs of ``labels`` that no rule of alert ``name`` can carry, because each of its rules
        sets that label to another value, while some rule of the packs (of any alert) sets it to this one: the
        pack speaks of it but has no such tier of ``name``. Empty when one rule can carry them all, and for a
        value no rule sets (a typo is judged, not excused)."""
        sets = self.label_sets.get(name) or ((self.alerts[name].labels,) if name in self.alerts else ())
        wanted = {str(k): str(v) for k, v in labels.items()}
        if not sets or any(all(s.get(k, v) == v for k, v in wanted.items()) for s in sets):
            return []
        known = {(k, v) for tiers in self.label_sets.values() for s in tiers for k, v in s.items()}
        return [f"{k}={v}" for k, v in sorted(wanted.items())
                if all(s.get(k, v) != v for s in sets) and (k, v) in known]

    def matching(self, labels: Mapping[str, str]) -> list[str]:
        """Alerts whose static labels (and name, as ``alertname``) include every one of ``labels``."""
        return sorted(n for n, r in self.alerts.items()
                      if all({**r.labels, "alertname": n}.get(k) == str(v) for k, v in labels.items()))

    @property
    def receivers_by_role(self) -> dict[str, tuple[str, ...]]:
        """Role (pager, chat, email, webhook, ...) -> receivers with that integration (harness.core.roles)."""
        return receivers_by_role(self.receiver_configs)

    def resolve_receivers(self, refs: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each receiver reference of a scenario (a name, or ``role:X``) -> the receiver names it stands for."""
        by_role = self.receivers_by_role
        return {ref: resolve(ref, by_role) for ref in refs}

    def effective_window_s(self, name: str) -> float:
        """Largest range window an alert depends on (production seconds): its own, and those of the recording
        rules it reads. An alert on a 30-day budget record is a 30-day alert."""
        return widest_window_s(expand_records(self.rule(name).expr, self.record_exprs))

    def sticky_alerts(self, drain_s: float) -> frozenset[str]:
        """Alerts whose windows outlast ``drain_s`` production seconds: once firing they cannot resolve between
        two scenarios (a spent 30-day budget stays spent), so the wait for quiet does not wait for them."""
        return frozenset(n for n in self.alerts if self.effective_window_s(n) > drain_s)

    def windows(self) -> list[tuple[str, str, float]]:
        """(alert, metric, production seconds) of every range window an alert reads, through the recording
        rules it uses."""
        return [(name, metric, w) for name, rule in sorted(self.alerts.items())
                for metric, w in range_selectors(expand_records(rule.expr, self.record_exprs))]

    def rule(self, name: str) -> AlertRule:
        try:
            return self.alerts[name]
        except KeyError:
            raise HarnessError(f"alert {name!r} is not in the loaded rule packs") from None


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"cannot read {path}: {exc}", hint="check the path and `harness check`") from None


def _load_rule_doc(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc}", hint="check the path given to --rules") from None
    return load_rule_doc(text, str(path))


def _check_expr(rule: Any, file: str) -> None:
    """Every expression parses: what the catalog reads of them (windows, metrics) comes from the tree."""
    expr = str(rule.get("expr", ""))
    try:
        parse(expr)
    except PromQLSyntaxError as exc:
        name = rule.get("alert") or rule.get("record")
        raise HarnessError(f"{file}: rule {name!r}: the expression is not valid PromQL: {exc}",
                           detail=f"expr: {expr}", hint=f"`harness check --rules {file}` shows every problem "
                                                         "of the file") from None


def load_catalog(rule_files: Iterable[str | Path], alertmanager_config: str | Path | None = None) -> Catalog:
    alerts: dict[str, AlertRule] = {}
    label_sets: dict[str, tuple[Mapping[str, str], ...]] = {}
    records: dict[str, str] = {}
    files = [str(p) for p in rule_files]
    for f in files:
        doc = _load_rule_doc(Path(f))
        for group in doc.get("groups", []) or []:
            interval = group.get("interval")
            for rule in group.get("rules", []) or []:
                _check_expr(rule, f)
                if "record" in rule:
                    records[str(rule["record"])] = str(rule.get("expr", ""))
                    continue
                name = str(rule.get("alert"))
                labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
                label_sets[name] = (*label_sets.get(name, ()), labels)
                alerts.setdefault(name, AlertRule(
                    name=name, expr=str(rule.get("expr", "")), for_s=parse_duration(rule.get("for", "0s")),
                    labels=labels,
                    group=str(group.get("name", "")),
                    interval_s=parse_duration(interval) if interval else None, file=f))
    receivers: frozenset[str] = frozenset()
    receiver_configs: tuple[Mapping[str, Any], ...] = ()
    group_wait = 30.0
    route: Route | None = None
    if alertmanager_config is not None:
        am = _load_yaml(Path(alertmanager_config)) or {}
        receiver_configs = tuple(am.get("receivers", []) or [])
        receivers = frozenset(str(r.get("name")) for r in receiver_configs)
        group_wait = parse_duration((am.get("route") or {}).get("group_wait", "30s"))
        route = build_route(am.get("route") or {}, source=str(alertmanager_config))
    return Catalog(alerts=alerts, receivers=receivers, group_wait_s=group_wait, rule_files=tuple(files),
                   records=frozenset(records), record_exprs=records, receiver_configs=receiver_configs,
                   route=route, label_sets=label_sets)
