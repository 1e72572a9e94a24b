"""The scenario model: a YAML file says "under this load, with these faults, these alerts fire within
this time, reach these receivers, these stay silent, and the SLOs and budgets hold".

Every duration in a scenario is *production time*, like the rules it tests: at time scale 60 a fault
with ``duration: 10m`` lasts 10 real seconds. Rates (requests/s) and toxic attributes (latency in ms)
are not durations of the run and are never scaled.

Parsing keeps the line of every field so that validation errors name file, line and field, and the whole
scenario is validated before anything starts (harness.scenario.validate).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from harness.core.durations import parse_duration
from harness.core.errors import ValidationError
from harness.core.expectations import KINDS
from harness.core.expectations.base import DURATION, LIST, MAP, share
from harness.core.history import History

LOAD_PROFILES = ("constant_users", "ramp", "steps", "spike", "constant_rate", "none")
EXPECT_KINDS = tuple(KINDS)


@dataclass(frozen=True)
class Located:
    """Where a value came from, for error messages."""

    file: str
    line: int | None

    def error(self, field_: str, problem: str, hint: str = "") -> ValidationError:
        return ValidationError(self.file, self.line, field_, problem, hint=hint)


@dataclass(frozen=True)
class LoadSpec:
    profile: str = "constant_rate"
    rate: float = 30.0            # requests/s (constant_rate)
    users: int = 10               # constant_users / ramp / steps / spike
    params: Mapping[str, Any] = field(default_factory=dict)
    locustfile: str | None = None
    where: Located = Located("", None)


@dataclass(frozen=True)
class FaultSpec:
    id: str
    kind: str
    target: str | None
    start: float                  # production seconds after scenario start
    duration: float               # production seconds
    params: Mapping[str, Any]
    where: Located
    lines: Mapping[str, int] = field(default_factory=dict)   # field -> line, for precise errors

    def at(self, field_: str) -> Located:
        return Located(self.where.file, self.lines.get(field_, self.where.line))

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Expectation:
    kind: str                     # a key of harness.core.expectations.KINDS
    subject: str                  # alertname, SLO name, endpoint; "*" for "every other alert"
    params: Mapping[str, Any]
    where: Located
    lines: Mapping[str, int] = field(default_factory=dict)

    def at(self, field_: str) -> Located:
        return Located(self.where.file, self.lines.get(field_, self.where.line))


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    description: str
    duration: float               # production seconds
    load: LoadSpec
    faults: tuple[FaultSpec, ...]
    expectations: tuple[Expectation, ...]
    tags: tuple[str, ...] = ()
    warmup: float = 300.0         # production seconds of load before the clock of expectations starts
    # Start from an empty metrics history (all series deleted through Prometheus's admin API): for rules
    # whose windows outlast a run (a 30-day error budget) and would carry earlier scenarios' errors.
    fresh_history: bool = False
    # The largest time scale at which this scenario means something (its windows hold enough requests to
    # resolve its thresholds); the run's scale is capped by it. None: no cap of its own.
    max_time_scale: float | None = None
    # Request history backfilled before the scenario (harness.core.history): a long window starts at
    # the service's normal good ratio instead of empty.
    history: History | None = None

    def fault(self, fault_id: str | None) -> FaultSpec | None:
        if fault_id is None:
            return self.faults[0] if self.faults else None
        return next((f for f in self.faults if f.id == fault_id), None)


def yaml_line(node: Any, key: Any | None = None) -> int | None:
    """1-based line of ``node[key]`` (or of ``node``) in the YAML source."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if key is not None and isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
        return int(node.lc.line) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _field_lines(node: CommentedMap) -> dict[str, int]:
    return {str(k): line for k in node if (line := yaml_line(node, k)) is not None}


def _duration(value: Any, where: Located, field_: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise where.error(field_, str(exc), hint="durations look like 30s, 5m, 1h30m or 250ms") from None


def _mapping(node: Any, where: Located, field_: str) -> CommentedMap:
    if not isinstance(node, CommentedMap):
        raise where.error(field_, f"expected a mapping, got {type(node).__name__}")
    return node


def _subject(value: Any) -> str:
    """An expectation's subject as text; a YAML boolean (``pages: true``) as ``true``/``false``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _check_keys(node: CommentedMap, allowed: set[str], file: str, field_: str) -> None:
    for key in node:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            raise ValidationError(file, yaml_line(node, key), f"{field_}.{key}" if field_ else str(key),
                                  "unknown field", hint=(f"did you mean {close[0]}? " if close else "")
                                  + f"allowed here: {', '.join(sorted(allowed))}")


def load_scenario(path: str | Path) -> Scenario:
    """Parse a scenario file. Syntax and shape errors raise ValidationError with file and line."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(file, None, "(file)", f"cannot read: {exc.strerror}") from None
    return parse_scenario(text, file=file, default_name=path.stem)


def parse_scenario(text: str, *, file: str = "<string>", default_name: str = "scenario") -> Scenario:
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationError(file, line, "(syntax)", str(getattr(exc, "problem", exc))) from None
    return scenario_from_node(doc, file=file, default_name=default_name)


def scenario_from_node(doc: Any, *, file: str, default_name: str = "scenario") -> Scenario:
    """A scenario from its parsed YAML mapping (round-trip loaded, so errors keep their lines): a whole
    scenario file, or one entry of a file holding several (the failure-mode catalogue)."""
    top = Located(file, yaml_line(doc) if isinstance(doc, CommentedMap) else 1)
    root = _mapping(doc, top, "(document)")
    _check_keys(root, {"name", "description", "tags", "duration", "warmup", "load", "faults", "expect",
                      "fresh_history", "max_time_scale", "history"}, file, "")

    def at(node: Any, key: Any) -> Located:
        return Located(file, yaml_line(node, key))

    if "duration" not in root:
        raise top.error("duration", "missing", hint="how long the scenario runs, in production time, e.g. 20m")
    duration = _duration(root["duration"], at(root, "duration"), "duration")
    warmup = _duration(root.get("warmup", "5m"), at(root, "warmup"), "warmup")

    load = LoadSpec(where=top)
    if "load" in root:
        ln = _mapping(root["load"], at(root, "load"), "load")
        _check_keys(ln, {"profile", "rate", "users", "locustfile", "params"}, file, "load")
        profile = str(ln.get("profile", "constant_rate"))
        if profile not in LOAD_PROFILES:
            raise at(ln, "profile").error("load.profile", f"unknown profile {profile!r}",
                                          hint=f"one of: {', '.join(LOAD_PROFILES)}")
        try:
            rate = float(ln.get("rate", 30.0))
            users = int(ln.get("users", 10))
        except (TypeError, ValueError):
            raise at(root, "load").error("load.rate/users", "must be numbers") from None
        if rate <= 0 or users <= 0:
            raise at(root, "load").error("load.rate/users", "must be > 0")
        load = LoadSpec(profile=profile, rate=rate, users=users, params=_plain(ln.get("params", {})),
                        locustfile=ln.get("locustfile"), where=at(root, "load"))

    faults: list[FaultSpec] = []
    fault_nodes = root.get("faults") or CommentedSeq()
    if not isinstance(fault_nodes, CommentedSeq):
        raise at(root, "faults").error("faults", "expected a list of faults")
    for i, fn in enumerate(fault_nodes):
        where = Located(file, yaml_line(fault_nodes, i))
        fn = _mapping(fn, where, f"faults[{i}]")
        _check_keys(fn, {"id", "kind", "target", "start", "duration", "params"}, file, f"faults[{i}]")
        if "kind" not in fn:
            raise where.error(f"faults[{i}].kind", "missing", hint="e.g. kind: crash, target: redis")
        for req in ("start", "duration"):
            if req not in fn:
                raise where.error(f"faults[{i}].{req}", "missing", hint="production time, e.g. 5m")
        params = fn.get("params") or {}
        if not isinstance(params, Mapping):
            raise at(fn, "params").error(f"faults[{i}].params", "expected a mapping")
        faults.append(FaultSpec(
            id=str(fn.get("id", f"fault{i + 1}")),
            kind=str(fn["kind"]),
            target=None if fn.get("target") is None else str(fn["target"]),
            start=_duration(fn["start"], at(fn, "start"), f"faults[{i}].start"),
            duration=_duration(fn["duration"], at(fn, "duration"), f"faults[{i}].duration"),
            params=_plain(params),
            where=where,
            lines=_field_lines(fn),
        ))

    expectations: list[Expectation] = []
    exp_nodes = root.get("expect") or CommentedSeq()
    if not isinstance(exp_nodes, CommentedSeq):
        raise at(root, "expect").error("expect", "expected a list of expectations")
    for i, en in enumerate(exp_nodes):
        where = Located(file, yaml_line(exp_nodes, i))
        en = _mapping(en, where, f"expect[{i}]")
        kinds = [k for k in en if k in EXPECT_KINDS]
        if len(kinds) != 1:
            raise where.error(f"expect[{i}]",
                              f"needs exactly one of {', '.join(EXPECT_KINDS)}; found {kinds or 'none'}")
        kind = KINDS[kinds[0]]
        _check_keys(en, {kind.name, *(f.name for f in kind.fields)}, file, f"expect[{i}]")
        subject = en[kind.name]
        params = {str(k): _plain(v) for k, v in en.items() if k != kind.name}
        if kind.subject_value == MAP:
            if not isinstance(subject, Mapping) or not subject:
                raise at(en, kind.name).error(f"expect[{i}].{kind.name}", "expected a label map",
                                              hint=f"e.g. {kind.name}: {{severity: critical}}")
            params["match"] = {str(k): str(v) for k, v in subject.items()}
            subject = ",".join(f"{k}={v}" for k, v in params["match"].items())
        for f in kind.fields:
            if f.name not in params:
                continue
            if f.value == DURATION:
                params[f.name] = _duration(params[f.name], at(en, f.name), f"expect[{i}].{f.name}")
            elif f.value == LIST and not isinstance(params[f.name], list):
                params[f.name] = [params[f.name]]
            elif f.value == MAP and not isinstance(params[f.name], Mapping):
                raise at(en, f.name).error(f"expect[{i}].{f.name}", "expected a mapping",
                                           hint=f"e.g. {f.name}: {{severity: critical}}")
        subjects = [_subject(s) for s in subject] if isinstance(subject, list) else [_subject(subject)]
        for s in subjects:
            expectations.append(Expectation(kind=kind.name, subject=s, params=params, where=where,
                                            lines=_field_lines(en)))

    max_scale: float | None = None
    if root.get("max_time_scale") is not None:
        try:
            max_scale = float(root["max_time_scale"])
        except (TypeError, ValueError):
            max_scale = 0.0
        if max_scale < 1:
            raise at(root, "max_time_scale").error("max_time_scale", f"must be a number >= 1, got "
                                                   f"{root['max_time_scale']!r}", hint="e.g. max_time_scale: 30")

    history = parse_history(root["history"], at(root, "history"), file) if "history" in root else None
    tags = root.get("tags") or []
    return Scenario(
        name=str(root.get("name", default_name)),
        file=file,
        description=str(root.get("description", "")).strip(),
        duration=duration,
        warmup=warmup,
        load=load,
        faults=tuple(faults),
        expectations=tuple(expectations),
        tags=tuple(str(t) for t in tags),
        fresh_history=bool(root.get("fresh_history", False)),
        max_time_scale=max_scale,
        history=history,
    )


def parse_history(node: Any, where: Located, file: str) -> History:
    hn = _mapping(node, where, "history")
    _check_keys(hn, {"window", "good_ratio", "rate"}, file, "history")
    for req in ("window", "good_ratio"):
        if req not in hn:
            raise where.error(f"history.{req}", "missing",
                              hint="e.g. history: {window: 30d, good_ratio: 0.9998}")
    good = share(hn["good_ratio"], where, "history.good_ratio")
    rate = None
    if hn.get("rate") is not None:
        try:
            rate = float(hn["rate"])
        except (TypeError, ValueError):
            rate = 0.0
        if rate <= 0:
            raise where.error("history.rate", f"must be requests/s > 0, got {hn['rate']!r}")
    return History(window_s=_duration(hn["window"], where, "history.window"), good_ratio=good, rate=rate)
