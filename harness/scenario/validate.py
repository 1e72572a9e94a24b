"""Validate a whole scenario against what it refers to, before anything starts.

The context lists what exists: alert names in the loaded rule packs, receivers in the Alertmanager
config, the stack's proxies and services, and fault kinds with their parameters. Every problem is
collected, so a user fixes a file in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.core.context import ValidationContext
from harness.core.errors import InvalidFile, ValidationError
from harness.core.expectations import problems as expectation_problems
from harness.core.model import FaultSpec, Scenario
from harness.faults.spec import KIND_SPECS, spec_problems


class ScenarioInvalid(InvalidFile):
    what = "scenario files"


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
        errors.extend(expectation_problems(scn, e, ctx))
    return errors


def _may_share_target(a: FaultSpec, b: FaultSpec) -> bool:
    """Whether two faults of one kind may act on one target at once (toxics of different types may)."""
    share = KIND_SPECS[a.kind].may_share_target if a.kind == b.kind and a.kind in KIND_SPECS else None
    return share is not None and share(a.params, b.params)


def _one_at_a_time(fault: FaultSpec) -> bool:
    """A kind the component holds one setting of (the API's calibrated faults)."""
    return fault.kind in KIND_SPECS and KIND_SPECS[fault.kind].one_at_a_time


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
