"""SLO specs: a YAML file per service, validated with file and line in every error.

Format (see stack/slo/*.yaml)::

    service: betting-api
    error_budget_policy: betting        # betting | petforce (the seeds' policy tables, harness.slo.math)
    slos:
      - name: active-bets-latency
        sli: latency                    # availability | latency
        objective: 95%                  # or 0.95
        window: 1h                      # Prometheus duration
        threshold: 5ms                  # latency only: "fast enough"
        endpoints: ["GET /api/active-bets"]   # "/path" or "METHOD /path"; omitted = every endpoint
        good: not_5xx                   # availability only: not_5xx (default) | status_200

A p95 latency objective "p95 < 5ms" is the latency SLI "95% of requests <= 5ms" (see math.percentile).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from harness.core.durations import parse_duration
from harness.core.errors import ValidationError
from harness.slo.math import BETTING_POLICY, GOOD_PREDICATES, PETFORCE_POLICY, PolicyTier

POLICIES: dict[str, tuple[PolicyTier, ...]] = {"betting": BETTING_POLICY, "petforce": PETFORCE_POLICY}
SLI_KINDS = ("availability", "latency")
_SLO_KEYS = {"name", "sli", "objective", "window", "threshold", "endpoints", "good", "description"}
_TOP_KEYS = {"service", "source", "error_budget_policy", "slos"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class SLO:
    name: str
    sli: str
    objective: float
    window_s: float
    threshold_s: float | None
    endpoints: tuple[str, ...]
    good: str
    line: int


@dataclass(frozen=True)
class SLOSpec:
    service: str
    policy: tuple[PolicyTier, ...]
    policy_name: str
    slos: tuple[SLO, ...]
    file: str

    def get(self, name: str) -> SLO:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


def _line(node: Any, key: str | int | None = None) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        return int(lc.value(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1


def _objective(raw: Any, file: str, line: int | None, field: str) -> float:
    text = str(raw).strip()
    try:
        value = round(float(text[:-1]) / 100.0, 12) if text.endswith("%") else float(text)
    except ValueError:
        raise ValidationError(file, line, field, f"not a number: {raw!r}", hint="write e.g. 99.9% or 0.999") from None
    if not 0.0 < value < 1.0:
        raise ValidationError(file, line, field, f"objective must be between 0 and 100% (exclusive), got {raw!r}",
                              hint="99.9% is written 99.9% or 0.999; a 100% objective leaves no error budget")
    return value


def _duration(raw: Any, file: str, line: int | None, field: str) -> float:
    try:
        value = parse_duration(raw)
    except ValueError as exc:
        raise ValidationError(file, line, field, str(exc),
                              hint="use a Prometheus duration: 5ms, 30s, 1h, 30d") from None
    if value <= 0:
        raise ValidationError(file, line, field, "must be > 0")
    return value


def _endpoint(raw: Any, file: str, line: int | None, field: str) -> str:
    text = str(raw).strip()
    method, _, path = text.partition(" ") if " " in text else ("", "", text)
    if not path.startswith("/") or (method and method.upper() not in _METHODS):
        raise ValidationError(file, line, field, f"not an endpoint: {raw!r}",
                              hint='write a route template "/api/users/{id}/bets", optionally "POST /api/bets"')
    return f"{method.upper()} {path}" if method else path


def parse_slo_spec(text: str, source: str) -> SLOSpec:
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ValidationError(source, mark.line + 1 if mark else None, "(yaml)", str(exc.problem)) from None
    if not isinstance(doc, dict):
        raise ValidationError(source, 1, "(top)", "an SLO spec is a mapping with service and slos")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ValidationError(source, _line(doc, key), str(key), "unknown key",
                                  hint=f"allowed: {', '.join(sorted(_TOP_KEYS))}")
    service = doc.get("service")
    if not service:
        raise ValidationError(source, _line(doc), "service", "missing", hint="name the service, e.g. service: api")
    policy_name = str(doc.get("error_budget_policy", "betting"))
    if policy_name not in POLICIES:
        raise ValidationError(source, _line(doc, "error_budget_policy"), "error_budget_policy",
                              f"unknown policy {policy_name!r}", hint=f"use one of {', '.join(POLICIES)}")
    raw_slos = doc.get("slos")
    if not isinstance(raw_slos, list) or not raw_slos:
        raise ValidationError(source, _line(doc, "slos") if "slos" in doc else _line(doc), "slos",
                              "needs a non-empty list of SLOs")
    slos: list[SLO] = []
    names: set[str] = set()
    for i, item in enumerate(raw_slos):
        where = f"slos[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(source, _line(raw_slos, i), where, "each SLO is a mapping")
        for key in item:
            if key not in _SLO_KEYS:
                raise ValidationError(source, _line(item, key), f"{where}.{key}", "unknown key",
                                      hint=f"allowed: {', '.join(sorted(_SLO_KEYS))}")
        for key in ("name", "sli", "objective", "window"):
            if key not in item:
                raise ValidationError(source, _line(item), f"{where}.{key}", "missing")
        name = str(item["name"])
        where = f"slos[{i}] ({name})"
        if name in names:
            raise ValidationError(source, _line(item, "name"), f"{where}.name", "duplicate SLO name")
        names.add(name)
        sli = str(item["sli"])
        if sli not in SLI_KINDS:
            raise ValidationError(source, _line(item, "sli"), f"{where}.sli", f"unknown SLI kind {sli!r}",
                                  hint=f"use one of {', '.join(SLI_KINDS)}")
        objective = _objective(item["objective"], source, _line(item, "objective"), f"{where}.objective")
        window = _duration(item["window"], source, _line(item, "window"), f"{where}.window")
        threshold: float | None = None
        if sli == "latency":
            if "threshold" not in item:
                raise ValidationError(source, _line(item), f"{where}.threshold", "a latency SLO needs a threshold",
                                      hint="e.g. threshold: 500ms")
            threshold = _duration(item["threshold"], source, _line(item, "threshold"), f"{where}.threshold")
        elif "threshold" in item:
            raise ValidationError(source, _line(item, "threshold"), f"{where}.threshold",
                                  "only latency SLOs take a threshold")
        good = str(item.get("good", "not_5xx"))
        if good not in GOOD_PREDICATES:
            raise ValidationError(source, _line(item, "good"), f"{where}.good", f"unknown good-event rule {good!r}",
                                  hint=f"use one of {', '.join(GOOD_PREDICATES)}")
        raw_eps = item.get("endpoints", [])
        if not isinstance(raw_eps, list):
            raise ValidationError(source, _line(item, "endpoints"), f"{where}.endpoints", "must be a list")
        endpoints = tuple(_endpoint(ep, source, _line(raw_eps, j), f"{where}.endpoints[{j}]")
                          for j, ep in enumerate(raw_eps))
        slos.append(SLO(name, sli, objective, window, threshold, endpoints, good, _line(item) or 0))
    return SLOSpec(service=str(service), policy=POLICIES[policy_name], policy_name=policy_name, slos=tuple(slos),
                   file=source)


def load_slo_spec(path: Path | str) -> SLOSpec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(str(p), None, "(file)", f"cannot read: {exc.strerror}",
                              hint="pass the path of an SLO spec, e.g. stack/slo/betting.yaml") from None
    return parse_slo_spec(text, str(p))
