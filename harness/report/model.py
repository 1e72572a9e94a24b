"""What a report is made of: one run's results, events and side evidence, as plain values.

A ``RunReport`` is assembled by whoever ran the scenarios (verify, audit, drill, the pytest plugin),
often from a ``finally`` block with whatever exists, so every field past the identity has a default
and the writer copes with empty lists, missing files and ``None``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.matrix import Matrix
from harness.core.result import ScenarioResult, Verdict
from harness.core.timeline import Event

RUN_KINDS = ("verify", "audit", "drill", "demo", "mutate", "pytest", "coverage")

# Panel check outcomes.
PANEL_OK = "ok"
PANEL_NO_DATA = "no data"
PANEL_ERROR = "error"


@dataclass(frozen=True)
class PanelCheck:
    """One dashboard panel target's query, run against Prometheus during the run."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    status: str                 # PANEL_OK | PANEL_NO_DATA | PANEL_ERROR
    series: int = 0             # how many series came back
    detail: str = ""            # the error, or why "no data"
    file: str = ""

    @property
    def ok(self) -> bool:
        return self.status == PANEL_OK

    def to_dict(self) -> dict[str, Any]:
        return {"dashboard": self.dashboard, "panel": self.panel, "ref_id": self.ref_id, "expr": self.expr,
                "status": self.status, "series": self.series, "detail": self.detail, "file": self.file}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> PanelCheck:
        return PanelCheck(dashboard=str(raw.get("dashboard", "")), panel=str(raw.get("panel", "")),
                          ref_id=str(raw.get("ref_id", "")), expr=str(raw.get("expr", "")),
                          status=str(raw.get("status", PANEL_ERROR)), series=int(raw.get("series") or 0),
                          detail=str(raw.get("detail", "")), file=str(raw.get("file", "")))


@dataclass(frozen=True)
class RuleCoverage:
    """Which alert rules the run exercised, and which routes and receivers it reached."""

    firing: tuple[str, ...] = ()            # alerts that fired in at least one scenario
    missed: tuple[str, ...] = ()            # a scenario expected it to fire and it never did
    silent: tuple[str, ...] = ()            # checked to stay silent under a fault, and did not fire
    never: tuple[str, ...] = ()             # in the rule pack, exercised by no scenario
    unknown_fired: tuple[str, ...] = ()     # fired but not in the pack given (e.g. a reference pack)
    # Of ``firing``: also proven silent in another scenario (a near miss): exercised both ways.
    both_ways: tuple[str, ...] = ()
    receivers_reached: tuple[str, ...] = ()
    receivers_unreached: tuple[str, ...] = ()
    # (receiver, alertname) pairs seen in delivered notifications: the routes the tree actually took.
    routes: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"firing": list(self.firing), "missed": list(self.missed), "silent": list(self.silent),
                "never": list(self.never),
                "unknown_fired": list(self.unknown_fired), "both_ways": list(self.both_ways),
                "receivers_reached": list(self.receivers_reached),
                "receivers_unreached": list(self.receivers_unreached),
                "routes": [list(r) for r in self.routes]}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> RuleCoverage:
        def names(key: str) -> tuple[str, ...]:
            return tuple(str(x) for x in raw.get(key) or ())

        return RuleCoverage(firing=names("firing"), missed=names("missed"), silent=names("silent"),
                            never=names("never"),
                            unknown_fired=names("unknown_fired"), both_ways=names("both_ways"),
                            receivers_reached=names("receivers_reached"),
                            receivers_unreached=names("receivers_unreached"),
                            routes=tuple((str(r[0]), str(r[1])) for r in raw.get("routes") or () if len(r) >= 2))


@dataclass
class RunReport:
    run_id: str
    kind: str = "verify"                    # one of RUN_KINDS
    time_scale: float = 1.0
    started_wall: float = field(default_factory=time.time)   # Unix seconds at run-clock 0
    scenarios: list[ScenarioResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Raw request records per scenario name (files written by harness.load.records).
    records: dict[str, Path] = field(default_factory=dict)
    # RunClock.mono_start: records hold CLOCK_MONOTONIC seconds; subtracting this puts them on the run clock.
    mono_start: float | None = None
    # Alert names in the rule packs under test; coverage is computed from them when ``coverage`` is None.
    rule_alerts: list[str] = field(default_factory=list)
    # Receivers named in the Alertmanager config, to list the ones never reached.
    receivers: list[str] = field(default_factory=list)
    coverage: RuleCoverage | None = None
    # Audit findings: dicts with scenario, expectation, happened, likely_cause (other keys are shown too).
    findings: list[dict[str, Any]] = field(default_factory=list)
    dashboards: list[PanelCheck] = field(default_factory=list)
    # A coverage run's failure-mode matrix (harness.core.matrix), judged against its criteria.
    failure_modes: Matrix | None = None
    ended_wall: float | None = None
    interrupted: bool = False               # the run was cut short (Ctrl-C, SIGTERM, a crash)
    error: str | None = None                # why the run itself failed, if it did
    notes: list[str] = field(default_factory=list)
    # ``harness mutate``: the mutation-testing result (harness.scenario.mutate.MutationResult.to_dict()).
    mutation: dict[str, Any] | None = None

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.passed)

    @property
    def failed(self) -> int:
        return len(self.scenarios) - self.passed

    @property
    def ok(self) -> bool:
        """Nothing failed; for a mutation run (whose killed mutants fail scenarios on purpose), every mutant
        killed; for a coverage run, its criteria met."""
        if self.error is not None or self.interrupted:
            return False
        if self.mutation is not None:
            return self.mutation.get("survived") == 0 and self.mutation.get("not_judged") == 0
        return self.failed == 0 and (self.failure_modes is None or self.failure_modes.ok)


def verdict_from_dict(raw: dict[str, Any]) -> Verdict:
    window = raw.get("window")
    return Verdict(check=str(raw.get("check", "")), subject=str(raw.get("subject", "")),
                   status=str(raw.get("status", "")), expected=str(raw.get("expected", "")),
                   observed=str(raw.get("observed", "")),
                   window=(float(window[0]), float(window[1])) if window else None,
                   latency=raw.get("latency"), min_latency=raw.get("min_latency"),
                   evidence=dict(raw.get("evidence") or {}))


def scenario_from_dict(raw: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(name=str(raw.get("name", "")), file=str(raw.get("file", "")),
                          started=float(raw.get("started") or 0.0), ended=float(raw.get("ended") or 0.0),
                          time_scale=float(raw.get("time_scale") or 1.0),
                          verdicts=[verdict_from_dict(v) for v in raw.get("verdicts") or ()],
                          faults=list(raw.get("faults") or ()), slo=list(raw.get("slo") or ()),
                          records_file=raw.get("records_file"), error=raw.get("error"),
                          notes=[str(n) for n in raw.get("notes") or ()])
