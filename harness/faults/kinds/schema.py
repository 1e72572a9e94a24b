"""What a fault kind declares: its parameters, its target, its documentation and how to build it.

Every kind module of this package holds one ``FaultKind``; validation (harness.faults.spec), the factory
(``Faults.from_spec``) and the scenario-format reference (harness.faults.kinds.reference) read those entries
and know no kind by name. Parameters are taken literally, never time-scaled: a 200 ms latency is 200 ms at any
time scale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.core.errors import HarnessError

if TYPE_CHECKING:
    from harness.faults.fault import Fault
    from harness.faults.injector import Faults
    from harness.load.records import RequestRecords

# Groups: what ``target`` names. A network fault acts on a proxy, a process fault on any service; a service
# fault acts on the one service its kind names, so its target is implied.
NETWORK, PROCESS, SERVICE = "network", "process", "service"
GROUPS = (NETWORK, PROCESS, SERVICE)


class FaultSpecError(HarnessError):
    """A fault spec is wrong; ``field`` is ``kind``, ``target`` or ``params.<name>``."""

    def __init__(self, field: str, problem: str, *, hint: str = "") -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"fault spec: {field}: {problem}", hint=hint)


Check = Callable[[Any], str | None]
# Builds (does not start) the fault from validated parameters, their defaults filled in; the id is final.
Build = Callable[["Faults", "str | None", Mapping[str, Any], str], "Fault"]


@dataclass(frozen=True)
class Param:
    type: type | tuple[type, ...]
    required: bool = False
    check: Check | None = None
    doc: str = ""
    default: Any = None                          # None: no default (the doc says what its absence means)


@dataclass(frozen=True)
class FaultKind:
    """One fault kind, declared once."""

    name: str
    group: str                                   # network | process | service
    doc: str                                     # one line, for the reference
    build: Build
    example: Mapping[str, Any]                   # a scenario ``faults:`` entry that uses it
    params: Mapping[str, Param] = field(default_factory=dict)
    service: str | None = None                   # the one service a service fault acts on
    # Checks across parameters, after each parameter passed its own (a slicer's size_variation < average_size).
    more_problems: Callable[[Mapping[str, Any]], list[FaultSpecError]] | None = None
    # Two faults of this kind on one target at overlapping times, allowed when this says so (by their params).
    may_share_target: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None
    one_at_a_time: bool = False                  # the component holds one setting of this kind (the API)
    takes_down: bool = False                     # the target is down while the fault lasts
    # What the raw request records of the fault's window say it achieved (harness.faults.achieved).
    ground_truth: Callable[[Mapping[str, Any], RequestRecords], dict[str, Any]] | None = None

    def target(self, given: str | None) -> str | None:
        """The target the fault acts on: a service fault's is implied by its kind."""
        return self.service if self.group == SERVICE else given

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with every unset parameter that has a default, coerced to the declared type (YAML's
        ``timeout: 5`` is a float 5.0)."""
        values = {name: p.default for name, p in self.params.items() if p.default is not None}
        values.update(params)
        return {name: _coerce(v, self.params[name].type) if name in self.params else v
                for name, v in values.items()}


def _coerce(value: Any, typ: type | tuple[type, ...]) -> Any:
    return float(value) if typ is float else int(value) if typ is int else value


# -- checks shared by several kinds ------------------------------------------------------------------------
def fraction(v: Any) -> str | None:
    return None if 0 < v <= 1 else f"must be in (0, 1], got {v!r}"


def ratio_or_zero(v: Any) -> str | None:
    return None if 0 <= v <= 1 else f"must be in [0, 1], got {v!r}"


def positive(v: Any) -> str | None:
    return None if v > 0 else f"must be > 0, got {v!r}"


def non_negative(v: Any) -> str | None:
    return None if v >= 0 else f"must be >= 0, got {v!r}"


def choice(options: tuple[str, ...]) -> Check:
    def check(v: Any) -> str | None:
        return None if v in options else f"must be one of {', '.join(options)}, got {v!r}"
    return check
