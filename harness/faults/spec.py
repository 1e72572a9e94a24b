"""Validation of one fault spec that needs no running stack, read from the fault kinds' declarations.

Each kind is declared once, in its module of harness.faults.kinds. ``KIND_SPECS`` maps each kind to that
declaration and ``FAULT_KINDS`` to ``{param: python type}`` for the scenario validator. ``spec_problems`` lists
every problem in one fault spec, ``validate_spec`` raises the first as ``FaultSpecError`` naming the field.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Mapping
from typing import Any

from harness.core.topology import API_QUERIES, API_ROUTES, PROXIES, SERVICES
from harness.faults.kinds.registry import KINDS
from harness.faults.kinds.schema import (
    NETWORK,
    PROCESS,
    SERVICE,
    FaultKind,
    FaultSpecError,
    Param,
)

__all__ = ["API_CONTROL_KINDS", "API_QUERIES", "API_ROUTES", "FAULT_KINDS", "KIND_SPECS", "NETWORK", "PROCESS",
           "PROXIES", "SERVICE", "SERVICES", "FaultKind", "FaultSpecError", "Param", "spec_problems",
           "validate_spec"]

KIND_SPECS: Mapping[str, FaultKind] = KINDS

# Faults set through the API's control interface: one of each kind at a time.
API_CONTROL_KINDS = tuple(k.name for k in KINDS.values() if k.one_at_a_time)

FAULT_KINDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    kind: {name: p.type for name, p in spec.params.items()} for kind, spec in KINDS.items()
}


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known)) or '(none)'}"


def _type_ok(value: Any, typ: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # YAML `true` is not a number
        return typ is bool
    if typ is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, typ)


def _type_name(typ: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__


def _target_problems(spec: FaultKind, target: str | None, proxies: Collection[str],
                     services: Collection[str]) -> list[FaultSpecError]:
    if spec.group == SERVICE:
        if target in (None, spec.service):
            return []
        return [FaultSpecError("target", f"{spec.name} acts on {spec.service!r}, not {target!r}",
                               hint="omit target or set it to " + str(spec.service))]
    what, known = ("proxy", proxies) if spec.group == NETWORK else ("service", services)
    if not target:
        return [FaultSpecError("target", f"{spec.name} needs a {what} name", hint=_suggest("", known))]
    if target not in known:
        return [FaultSpecError("target", f"unknown {what} {target!r}", hint=_suggest(target, known))]
    return []


def _param_problem(kind: str, spec: FaultKind, name: str, value: Any) -> FaultSpecError | None:
    p = spec.params.get(name)
    if p is None:
        return FaultSpecError(f"params.{name}", f"not a parameter of {kind}",
                              hint=f"accepted: {', '.join(sorted(spec.params)) or '(none)'}")
    if not _type_ok(value, p.type):
        return FaultSpecError(f"params.{name}", f"expected {_type_name(p.type)}, got {value!r}")
    problem = p.check(value) if p.check is not None else None
    return FaultSpecError(f"params.{name}", problem) if problem else None


def spec_problems(kind: str, target: str | None, params: Mapping[str, Any] | None, *,
                  proxies: Collection[str] = PROXIES,
                  services: Collection[str] = SERVICES) -> list[FaultSpecError]:
    """Every problem in one fault spec (empty when it is valid). Needs no running stack."""
    if kind not in KINDS:
        return [FaultSpecError("kind", f"unknown fault kind {kind!r}", hint=_suggest(str(kind), KINDS))]
    spec = KINDS[kind]
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        return [FaultSpecError("params", f"expected a mapping, got {type(params).__name__}")]
    problems = _target_problems(spec, target, proxies, services)
    problems += [p for p in (_param_problem(kind, spec, name, value) for name, value in params.items()) if p]
    problems += [FaultSpecError(f"params.{name}", "missing", hint=p.doc)
                 for name, p in spec.params.items() if p.required and name not in params]
    if spec.more_problems is not None:
        problems += spec.more_problems(params)
    return problems


def validate_spec(kind: str, target: str | None, params: Mapping[str, Any] | None, *,
                  proxies: Collection[str] = PROXIES, services: Collection[str] = SERVICES) -> str | None:
    """Raise the first problem as FaultSpecError; return the effective target (service faults imply it)."""
    problems = spec_problems(kind, target, params, proxies=proxies, services=services)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            more = "; ".join(f"{p.field}: {p.problem}" for p in problems[1:])
            raise FaultSpecError(first.field, f"{first.problem} (also: {more})", hint=first.hint)
        raise first
    return KINDS[kind].target(target)
