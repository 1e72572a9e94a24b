"""Alertmanager's routing tree, evaluated in Python: which receivers an alert with given labels reaches.

Mirrors Alertmanager's dispatcher: a route matches when all its matchers do; children are tried in
order, a matching child stops the search unless it has ``continue: true``; a route with no matching
child delivers to its own receiver (inherited from its parent when unset). Tested against
``amtool config routes test`` on every alert of the seed packs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.errors import ValidationError

_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.name, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = re.fullmatch(self.value, v) is not None
        return hit if self.op == "=~" else not hit


def parse_matcher(text: str, source: str = "", line: int | None = None) -> Matcher:
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    m = _MATCHER_RE.match(s)
    if not m:
        raise ValidationError(source, line, "matchers", f"cannot parse matcher {text!r}",
                              hint='write e.g. severity="critical" or team=~"db.*"')
    value = m.group(3)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].encode().decode("unicode_escape")
    return Matcher(m.group(1), m.group(2), value)


@dataclass
class Route:
    receiver: str
    matchers: list[Matcher] = field(default_factory=list)
    continue_: bool = False
    routes: list[Route] = field(default_factory=list)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


def build_route(node: Mapping[str, Any], parent_receiver: str = "", source: str = "") -> Route:
    receiver = str(node.get("receiver") or parent_receiver)
    matchers: list[Matcher] = []
    for k, v in (node.get("match") or {}).items():
        matchers.append(Matcher(str(k), "=", str(v)))
    for k, v in (node.get("match_re") or {}).items():
        matchers.append(Matcher(str(k), "=~", str(v)))
    for text in node.get("matchers") or []:
        matchers.append(parse_matcher(str(text), source))
    route = Route(receiver, matchers, bool(node.get("continue", False)))
    route.routes = [build_route(child, receiver, source) for child in node.get("routes") or []]
    return route


def _match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    if not route.matches(labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        hits = _match(child, labels)
        found.extend(hits)
        if hits and not child.continue_:
            break
    return found or [route]


def receivers_for(root: Route, labels: Mapping[str, str]) -> list[str]:
    """Receivers in the order Alertmanager would notify them (the root always matches)."""
    out: list[str] = []
    for r in _match(root, labels) or [root]:
        if r.receiver not in out:
            out.append(r.receiver)
    return out


def every_route_groups_by(node: Mapping[str, Any], label: str, inherited: tuple[str, ...] = ()) -> bool:
    """Whether every route of the tree (``node`` is the config's ``route:``) groups alerts by ``label`` (or by
    every label, ``...``): with ``alertname``, two alerts of different names never share a notification."""
    group_by = tuple(str(x) for x in node.get("group_by") or inherited)
    if label not in group_by and "..." not in group_by:
        return False
    return all(every_route_groups_by(child, label, group_by) for child in node.get("routes") or [])
