"""Validate a whole scenario against what it refers to, before anything starts.

The context lists what exists: alert names in the loaded rule packs, receivers in the Alertmanager
config, the stack's proxies and services, and fault kinds with their parameters. Every problem is
collected, so a user fixes a file in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.errors import InvalidFile, ValidationError
from harness.faults.spec import KIND_SPECS, PROXIES, SERVICES, spec_problems
from harness.rules.roles import ROLE_PREFIX, role_of, role_problem
from harness.scenario.model import Expectation, FaultSpec, Scenario, share


class ScenarioInvalid(InvalidFile):
    what = "scenario files"


@dataclass(frozen=True)
class ValidationContext:
    alerts: frozenset[str]
    receivers: frozenset[str] = frozenset()
    proxies: frozenset[str] = frozenset(PROXIES)
    services: frozenset[str] = frozenset(SERVICES)
    # Fault specs are checked by harness.faults.spec (kinds, targets, parameter types and ranges).
    check_faults: bool = True
    slo_names: frozenset[str] = field(default_factory=frozenset)
    # role -> receivers with that role in the Alertmanager config (harness.rules.roles.receivers_by_role)
    receiver_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: frozenset[str] = frozenset()   # recording rules of the loaded packs (empty: not checked)


def suggest(name: str, known: Iterable[str]) -> str:
    """The hint for an unknown name: the closest known ones, or all of them."""
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or '(none)'}"


def scenario_errors(scn: Scenario, ctx: ValidationContext) -> list[ValidationError]:
    errors: list[ValidationError] = []
    f = scn.file
    if scn.duration <= 0:
        errors.append(ValidationError(f, 1, "duration", "must be > 0"))
    for i, fault in enumerate(scn.faults):
        w = fault.where
        if ctx.check_faults:
            for problem in spec_problems(fault.kind, fault.target, fault.params,
                                         proxies=ctx.proxies, services=ctx.services):
                top = problem.field.split(".")[0]
                errors.append(fault.at(top).error(f"faults[{i}].{problem.field}", problem.problem,
                                                  hint=problem.hint))
        if fault.duration <= 0:
            errors.append(w.error(f"faults[{i}].duration", "must be > 0"))
        if fault.end > scn.duration:
            errors.append(w.error(f"faults[{i}]", f"ends at {fault.end:g}s, after the scenario's duration "
                                  f"{scn.duration:g}s", hint="lengthen `duration` or shorten the fault"))
    # Conflicting faults: two faults on the same target at overlapping times.
    for i, a in enumerate(scn.faults):
        for j in range(i + 1, len(scn.faults)):
            b = scn.faults[j]
            if a.target is not None and a.target == b.target and a.start < b.end and b.start < a.end:
                if _may_share_target(a, b):
                    continue
                errors.append(b.where.error(f"faults[{j}]", f"overlaps faults[{i}] ({a.kind}) on the same "
                                            f"target {a.target!r}", hint="separate them in time"))
            elif a.kind == b.kind and _one_at_a_time(a) and a.start < b.end and b.start < a.end:
                # One setting per kind inside the API: the second would replace the first.
                errors.append(b.where.error(f"faults[{j}]", f"overlaps faults[{i}]: two {a.kind} faults at once "
                                            "(the API holds one of each kind)", hint="separate them in time"))
    ids = [x.id for x in scn.faults]
    for dup in {x for x in ids if ids.count(x) > 1}:
        errors.append(ValidationError(f, None, "faults.id", f"duplicate fault id {dup!r}"))
    for e in scn.expectations:
        w = e.where
        names_alert = e.kind in ("fires", "silent", "resolves", "notified", "inhibited", "unsupported")
        if names_alert and e.subject != "*" and e.subject not in ctx.alerts:
            errors.append(w.error(e.kind, f"alert {e.subject!r} is not in the loaded rule packs",
                                  hint=suggest(e.subject, ctx.alerts)))
        if e.kind == "inhibited":
            by = e.params.get("by")
            if not by:
                errors.append(w.error("inhibited.by", "missing: the alert that inhibits it"))
            elif by not in ctx.alerts:
                errors.append(e.at("by").error("inhibited.by", f"alert {by!r} is not in the loaded rule packs",
                                      hint=suggest(str(by), ctx.alerts)))
        if e.kind in ("notified", "inhibited"):
            errors.extend(_receiver_errors(e, ctx))
        if e.kind in ("fires", "resolves", "notified") and "after" in e.params \
                and scn.fault(str(e.params["after"])) is None:
            errors.append(w.error(f"{e.kind}.after", f"no fault with id {e.params['after']!r}",
                                  hint=f"fault ids: {', '.join(ids) or '(none)'}"))
        if e.kind in ("fires", "resolves") and not scn.faults and "after" not in e.params:
            errors.append(w.error(e.kind, "needs a fault to measure from; this scenario has none"))
        if e.kind == "latency":
            if "budget" not in e.params:
                errors.append(w.error("latency.budget", "missing", hint="e.g. budget: 50ms"))
            pct = e.params.get("percentile", 95)
            if not isinstance(pct, int | float) or not 0 < pct < 100:
                errors.append(w.error("latency.percentile", f"must be in (0, 100), got {pct!r}"))
        if e.kind == "slo" and ctx.slo_names and "spec" not in e.params and e.subject not in ctx.slo_names:
            errors.append(w.error("slo", f"unknown SLO {e.subject!r}", hint=suggest(e.subject, ctx.slo_names)))
        if e.kind == "error_budget":
            errors.extend(_budget_errors(scn, e, ctx))
        if e.kind == "unsupported" and not e.params.get("reason"):
            errors.append(w.error("unsupported.reason", "say why this alert cannot be exercised here"))
    return errors


def _may_share_target(a: FaultSpec, b: FaultSpec) -> bool:
    """Whether two faults of one kind may act on one target at once (toxics of different types may)."""
    share = KIND_SPECS[a.kind].may_share_target if a.kind == b.kind and a.kind in KIND_SPECS else None
    return share is not None and share(a.params, b.params)


def _one_at_a_time(fault: FaultSpec) -> bool:
    """A kind the component holds one setting of (the API's calibrated faults)."""
    return fault.kind in KIND_SPECS and KIND_SPECS[fault.kind].one_at_a_time


def _budget_errors(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    """An error_budget check reads a recording rule of the packs, on a scenario with a backfilled history."""
    errors: list[ValidationError] = []
    if scn.history is None:
        errors.append(e.where.error("error_budget", "needs the scenario's `history:` (the budget's window before "
                                    "the run)", hint="e.g. history: {window: 30d, good_ratio: 0.9998}"))
    if ctx.records and e.subject not in ctx.records:
        errors.append(e.where.error("error_budget", f"recording rule {e.subject!r} is not in the loaded rule packs",
                                    hint=suggest(e.subject, ctx.records)))
    for key, required in (("objective", True), ("consumed", True), ("start", False), ("tolerance", False)):
        if key not in e.params:
            if required:
                errors.append(e.where.error(f"error_budget.{key}", "missing",
                                            hint="e.g. objective: 0.999, consumed: 3%, tolerance: 1%"))
            continue
        try:
            share(e.params[key], e.at(key), f"error_budget.{key}")
        except ValidationError as exc:
            errors.append(exc)
    return errors


def _receiver_errors(e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    """Receiver names must be in the Alertmanager config; ``role:X`` must be a known role, and a role an
    expectation needs notified must belong to at least one receiver."""
    errors: list[ValidationError] = []
    for key in ("receivers", "not_receivers"):
        for r in e.params.get(key, []) or []:
            ref = str(r)
            where, what = e.at(key), f"{e.kind}.{key}"
            problem = role_problem(ref)
            if problem is not None:
                errors.append(where.error(what, problem, hint="a role is written role:pager, role:chat, role:email "
                                          "or role:webhook; a receiver is named as in the Alertmanager config"))
            elif role_of(ref) is not None:
                role = role_of(ref)
                if key == "receivers" and ctx.receivers and not ctx.receiver_roles.get(str(role)):
                    have = ", ".join(ROLE_PREFIX + k for k in sorted(ctx.receiver_roles)) or "(none)"
                    errors.append(where.error(what, f"no receiver of the Alertmanager config has role {role!r}",
                                              hint=f"roles present: {have}"))
            elif ctx.receivers and ref not in ctx.receivers:
                errors.append(where.error(what, f"receiver {ref!r} is not in the Alertmanager config",
                                          hint=suggest(ref, ctx.receivers)))
    return errors


def validate_scenarios(scenarios: Sequence[Scenario], ctx: ValidationContext) -> None:
    errors: list[ValidationError] = []
    names: dict[str, str] = {}
    for scn in scenarios:
        errors.extend(scenario_errors(scn, ctx))
        if scn.name in names:
            errors.append(ValidationError(scn.file, 1, "name", f"duplicate scenario name (also {names[scn.name]})"))
        names[scn.name] = scn.file
    if errors:
        raise ScenarioInvalid(errors)
