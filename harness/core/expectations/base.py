"""What an expectation kind is: its fields, its validation and its verdicts, declared in one place.

Each kind lives in its own module of this package and declares one ``ExpectKind``. The scenario parser
reads the fields (which exist, which are durations, which are lists or maps), validation calls the kind's
``validate``, the runner calls its ``evaluate`` through the small ``Judge`` protocol, and the scenario
format's reference (``harness kinds``) is generated from the same entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.core.errors import ValidationError
from harness.core.roles import ROLE_PREFIX, role_of, role_problem

if TYPE_CHECKING:
    import numpy as np

    from harness.core.catalog import Catalog
    from harness.core.context import ValidationContext
    from harness.core.model import Expectation, Scenario
    from harness.core.result import Verdict
    from harness.core.timing import Timing

# What a field holds; the parser converts durations and checks the shape of lists and maps.
DURATION, SHARE, NUMBER, TEXT, LIST, MAP = "duration", "share", "number", "text", "list", "map"

# Which default bound a kind checks (harness.core.timing): time to fire, to resolve, to notify.
FIRE, RESOLVE, NOTIFY = "fire", "resolve", "notify"


@dataclass(frozen=True)
class Field:
    name: str
    value: str                    # DURATION, SHARE, NUMBER, TEXT, LIST or MAP
    doc: str
    default: Any = None           # None: no default (optional unless required)
    required: bool = False


class Judge(Protocol):
    """What a kind's verdicts need from the runner that observed the scenario."""

    catalog: Catalog
    timing: Timing

    def within(self, scn: Scenario, e: Expectation) -> float: ...

    def silent(self, events: list[Any], alert: str, labels: Any, start: float, stop: float, *,
               pinned: bool) -> Verdict: ...

    def poll_interval(self) -> float: ...

    def sparse_firing(self, events: list[Any], alert: str, labels: Any, start: float,
                      stop: float) -> list[tuple[dict[str, str], str]]:
        """(labels, why) of each firing series whose condition began on a window too sparse to judge."""
        ...

    def bound_for(self, scn: Scenario, bound: str, alert: str) -> float:
        """Real seconds of the default ``bound`` (FIRE, RESOLVE, NOTIFY) for ``alert`` in this scenario."""
        ...

    def latencies(self, records_path: Path, endpoint: str, t0: float, end: float) -> np.ndarray: ...

    def slo_verdicts(self, scn: Scenario, e: Expectation, records_path: Path, t0: float,
                     end: float) -> list[Verdict]: ...

    def budget_verdicts(self, scn: Scenario, e: Expectation, records_path: Path, t0: float,
                        end: float) -> list[Verdict]: ...


@dataclass(frozen=True)
class Observed:
    """One scenario as observed: its events, its window on the run clock, its faults' real start and end."""

    scenario: Scenario
    events: list[Any]
    t0: float
    end: float
    fault_times: Mapping[str, tuple[float, float | None]]
    records_path: Path
    expected_to_fire: frozenset[str]


Validate = Callable[["Scenario", "Expectation", "ValidationContext"], list[ValidationError]]
Evaluate = Callable[[Judge, "Expectation", Observed], list["Verdict"]]


def no_problems(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    return []


@dataclass(frozen=True)
class ExpectKind:
    name: str
    subject: str                  # what the value after the kind's key names: "alert", "endpoint", ...
    doc: str
    fields: Sequence[Field]
    example: Mapping[str, Any]    # one entry of a scenario's `expect:` list
    evaluate: Evaluate
    validate: Validate = no_problems
    names_alert: bool = False     # the subject is an alert of the loaded packs ("*" where allowed)
    judges_state: bool = False    # reads the alert's state over a window (event needs apply)
    expects_firing: bool = False  # the subject is expected to fire (not judged by `silent: "*"`)
    bound: str | None = None      # FIRE, RESOLVE or NOTIFY: the default bound it checks
    wildcard: bool = False        # "*" stands for every alert not expected to fire
    subject_value: str = TEXT     # TEXT, or MAP: the subject is a label map, kept in params["match"]
    # The alerts an expectation of this kind expects to fire, when that depends on the packs (by meaning).
    expected: Callable[[Expectation, Catalog], Iterable[str]] | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# Fields several kinds share.
LABELS = Field("labels", MAP, "only series with these labels (one branch of a multi-branch alert)")
AFTER = Field("after", TEXT, "the id of the fault to measure from", default="the first fault")
WITHIN = Field("within", DURATION, "the bound, in production time",
               default="from the timing model (the rule's `for`, windows, evaluation and measured real terms)")


def share(value: Any, where: Any, field_: str) -> float:
    """A share written 0.8 or "80%", in [0, 1]; ``where`` is a ``Located`` for the error."""
    try:
        x = float(value[:-1]) / 100 if isinstance(value, str) and value.strip().endswith("%") else float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not 0 <= x <= 1:
        raise where.error(field_, f"must be a share between 0 and 1 (or 0% and 100%), got {value!r}")
    return x


def suggest(name: str, known: Iterable[str]) -> str:
    """The hint for an unknown name: the closest known ones, or all of them."""
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or '(none)'}"


def missing(e: Expectation, *names: str, hint: str = "") -> list[ValidationError]:
    """An error for each required field the expectation lacks."""
    return [e.where.error(f"{e.kind}.{n}", "missing", hint=hint) for n in names if n not in e.params]


def alert_problems(e: Expectation, name: str, ctx: ValidationContext, field_: str) -> list[ValidationError]:
    if name == "*" or name in ctx.alerts:
        return []
    where = e.at(field_.split(".")[-1]) if "." in field_ else e.where
    return [where.error(field_, f"alert {name!r} is not in the loaded rule packs", hint=suggest(name, ctx.alerts))]


def after_problems(scn: Scenario, e: Expectation) -> list[ValidationError]:
    """``after`` must name a fault; without it, the scenario needs a fault to measure from."""
    if "after" in e.params:
        if scn.fault(str(e.params["after"])) is None:
            ids = ", ".join(f.id for f in scn.faults) or "(none)"
            return [e.at("after").error(f"{e.kind}.after", f"no fault with id {e.params['after']!r}",
                                        hint=f"fault ids: {ids}")]
    elif not scn.faults:
        return [e.where.error(e.kind, "needs a fault to measure from; this scenario has none")]
    return []


def receiver_problems(e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    """Receiver names must be in the Alertmanager config; ``role:X`` must be a known role, and a role an
    expectation needs notified must belong to at least one receiver."""
    errors: list[ValidationError] = []
    for key in ("receivers", "not_receivers"):
        for r in e.params.get(key, []) or []:
            ref = str(r)
            where, what = e.at(key), f"{e.kind}.{key}"
            problem = role_problem(ref)
            role = role_of(ref)
            if problem is not None:
                errors.append(where.error(what, problem, hint="a role is written role:pager, role:chat, role:email "
                                          "or role:webhook; a receiver is named as in the Alertmanager config"))
            elif role is not None:
                if key == "receivers" and ctx.receivers and not ctx.receiver_roles.get(role):
                    have = ", ".join(ROLE_PREFIX + k for k in sorted(ctx.receiver_roles)) or "(none)"
                    errors.append(where.error(what, f"no receiver of the Alertmanager config has role {role!r}",
                                              hint=f"roles present: {have}"))
            elif ctx.receivers and ref not in ctx.receivers:
                errors.append(where.error(what, f"receiver {ref!r} is not in the Alertmanager config",
                                          hint=suggest(ref, ctx.receivers)))
    return errors


def fault_time(scn: Scenario, e: Expectation, times: Mapping[str, tuple[float, float | None]], which: int) -> float:
    """When the fault the expectation measures from (``after``, else the first) started (``which`` 0) or
    ended (1), on the run clock."""
    fault = scn.fault(e.params.get("after"))
    if fault is None or fault.id not in times:
        raise RuntimeError("the fault this expectation measures from never started")
    t = times[fault.id][which]
    if t is None:
        raise RuntimeError(f"fault {fault.id} never ended")
    return t


def notify_bounds(judge: Judge, scn: Scenario, e: Expectation, alerts: Iterable[str]) -> tuple[float, dict[str, float]]:
    """For a check by meaning over ``alerts``: the real seconds allowed (the scenario's ``within``, else the
    largest default notification bound among them) and each alert's earliest possible notification."""
    alerts = list(alerts)
    if "within" in e.params:
        within = judge.timing.real(float(e.params["within"]))
    else:
        within = max((judge.bound_for(scn, NOTIFY, a) for a in alerts), default=0.0)
    catalog = judge.catalog
    return within, {a: judge.timing.min_notify(catalog.rule(a), catalog.group_wait_s) for a in alerts}
