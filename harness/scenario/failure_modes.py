"""The failure-mode catalogue of ``harness coverage``: every fault the stack can inject, each a short scenario
with load and faults and no expectations. What ought to happen is the criteria file's business
(harness.scenario.criteria); what did happen is the matrix's (harness.core.matrix). So the catalogue
names no alert and fits any team's rules.

The catalogue is one YAML file (stack/failure-modes.yaml)::

    history: {window: 30d, good_ratio: 0.9998}   # optional: every mode starts from this month of traffic
    modes:
      - name: redis_crashed
        description: Redis is killed for 10 minutes, then started again.
        duration: 15m
        faults: [{kind: crash, target: redis, start: 2m, duration: 10m}]

Each mode takes every scenario field but ``expect``. A mode without faults is a healthy baseline: what fires
there fires on a healthy stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from harness.config import STACK_DIR
from harness.core.errors import HarnessError, InvalidFile, ValidationError
from harness.core.expectations import suggest
from harness.core.model import Expectation, Located, Scenario, parse_history, scenario_from_node, yaml_line
from harness.core.topology import PROXIES, SERVICES
from harness.faults.spec import KIND_SPECS, PROCESS

CATALOGUE = STACK_DIR / "failure-modes.yaml"

# Services no failure mode targets, and why. Every other service and proxy of the stack is some mode's target.
NOT_TARGETED: dict[str, str] = {
    "prometheus": "the harness reads every alert state through it; its own loss needs a dead man's switch "
                  "outside the stack",
    "alertmanager": "the harness reads every notification through it",
    "toxiproxy": "every network fault goes through it; each proxy is cut off on its own instead",
    "grafana": "optional (absent here), and no alert reads it",
}


class CatalogueInvalid(InvalidFile):
    what = "the failure-mode catalogue"


@dataclass(frozen=True)
class FailureModes:
    file: str
    modes: tuple[Scenario, ...]

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.modes]

    def mode(self, name: str) -> Scenario | None:
        return next((m for m in self.modes if m.name == name), None)

    def select(self, names: Iterable[str]) -> FailureModes:
        """Only the named modes, in catalogue order; an unknown name is an error with suggestions."""
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if self.mode(n) is None]
        if unknown:
            hints = [f"{n}: {suggest(n, self.names)}" for n in unknown]
            raise HarnessError(f"no failure mode named {', '.join(map(repr, unknown))} in {self.file}",
                               hint="; ".join(hints) + " (`harness coverage --list` lists them)")
        return FailureModes(self.file, tuple(m for m in self.modes if m.name in wanted))


def is_baseline(mode: Scenario) -> bool:
    """A mode without faults: whatever fires there fires on a healthy stack."""
    return not mode.faults


def parse_failure_modes(text: str, *, file: str = "<string>") -> FailureModes:
    """Parse a catalogue; every problem is collected and raised at once, each naming file, line and field."""
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationError(file, mark.line + 1 if mark is not None else None, "(syntax)",
                              str(getattr(exc, "problem", exc))) from None
    if not isinstance(doc, CommentedMap):
        raise ValidationError(file, 1, "(document)", "expected a mapping with `modes:`",
                              hint="modes: [{name: redis_crashed, duration: 15m, faults: [...]}]")
    errors: list[ValidationError] = []
    for key in doc:
        if key not in ("modes", "history"):
            errors.append(ValidationError(file, yaml_line(doc, key), str(key), "unknown field",
                                          hint="allowed here: history, modes"))
    history = None
    if "history" in doc:
        try:
            history = parse_history(doc["history"], Located(file, yaml_line(doc, "history")), file)
        except ValidationError as exc:
            errors.append(exc)
    nodes = doc.get("modes")
    if not isinstance(nodes, CommentedSeq) or not nodes:
        errors.append(ValidationError(file, yaml_line(doc, "modes") if "modes" in doc else 1, "modes",
                                      "expected a non-empty list of failure modes"))
        raise CatalogueInvalid(errors)
    modes: list[Scenario] = []
    seen: dict[str, int | None] = {}
    for i, node in enumerate(nodes):
        line = yaml_line(nodes, i)
        if not isinstance(node, CommentedMap):
            errors.append(ValidationError(file, line, f"modes[{i}]", "expected a mapping (one failure mode)"))
            continue
        if "name" not in node:
            errors.append(ValidationError(file, line, f"modes[{i}].name", "missing",
                                          hint="name each mode after what fails, e.g. redis_crashed"))
            continue
        if "expect" in node:
            errors.append(ValidationError(file, yaml_line(node, "expect"), f"modes[{i}].expect",
                                          "a failure mode states no expectations",
                                          hint="what must page or notify goes in the criteria file "
                                               "(stack/coverage-criteria.yaml)"))
            continue
        try:
            mode = scenario_from_node(node, file=file, default_name=f"mode{i + 1}")
        except ValidationError as exc:
            errors.append(exc)
            continue
        if mode.name in seen:
            errors.append(ValidationError(file, yaml_line(node, "name"), f"modes[{i}].name",
                                          f"duplicate failure mode {mode.name!r} (also line {seen[mode.name]})"))
            continue
        seen[mode.name] = yaml_line(node, "name")
        if mode.history is None and history is not None:
            mode = replace(mode, history=history)
        modes.append(mode)
    if errors:
        raise CatalogueInvalid(errors)
    return FailureModes(file, tuple(modes))


def load_failure_modes(path: str | Path = CATALOGUE) -> FailureModes:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read the failure-mode catalogue {path}: {exc.strerror}",
                           hint="pass --catalogue FILE, or restore stack/failure-modes.yaml") from None
    return parse_failure_modes(text, file=str(path))


def untouched(modes: Iterable[Scenario]) -> list[str]:
    """What the stack can inject that no mode does: fault kinds, and services or proxies nobody targets
    (except NOT_TARGETED). Empty for a catalogue that holds every fault."""
    modes = list(modes)
    kinds = {f.kind for m in modes for f in m.faults}
    targets = {f.target for m in modes for f in m.faults if f.target}
    process_targets = {f.target for m in modes for f in m.faults if f.kind in KIND_SPECS
                       and KIND_SPECS[f.kind].group == PROCESS}
    out = [f"fault kind {k}" for k in KIND_SPECS if k not in kinds]
    out += [f"service {s}" for s in SERVICES if s not in NOT_TARGETED and s not in process_targets]
    out += [f"proxy {p}" for p in PROXIES if p not in targets]
    return out


def observing_every_alert(mode: Scenario) -> Scenario:
    """The mode as the runner runs it: watching every alert of the loaded rules (``silent: "*"``), so its time
    scale keeps every alert's windows holding the events their thresholds need, its warm-up covers every
    alert's ``for`` and window, and an alert that fires on a window too sparse to resolve its threshold is
    told apart (its verdict passes, saying so). The matrix reads that verdict; it is no expectation."""
    observe = Expectation(kind="silent", subject="*", params={}, where=Located(mode.file, None))
    return replace(mode, expectations=(observe,))
