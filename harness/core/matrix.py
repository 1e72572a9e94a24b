"""The failure-mode matrix of ``harness coverage``, pure: from the catalogue's modes, their results and the run's
timeline, for each failure mode which alerts fired (how fast, at which severity), which receivers were notified,
whether anyone was paged and how fast; for each alert which failure modes exercised it; and the headlines.

Attribution. A fault mode's window opens when its first fault started (the run clock) and closes when the mode
ended: an alert *fired* in it when one of its series entered firing inside that window (an alert already firing
before the fault is listed as noise, not as fired). A baseline mode (no faults) opens at the start of its
scenario phase, and an alert firing at any instant of it fires on a healthy stack. A notification belongs to the
mode when it is a firing one, arrives between the window's opening and the next mode's scenario phase
(Alertmanager may deliver after the mode ended), and carries an alert that fired in the mode (or no readable
alert names, inside the mode's own window). *Paged*: a receiver whose integration pages (role ``pager``,
harness.core.roles) accepted such a notification. Times are production seconds (real seconds times the mode's
time scale) from the window's opening.

*Judged*: a firing on windows too sparse to resolve the alert's threshold at the mode's time scale
(harness.core.resolution) may be compression noise; the mode's run watches every alert with a ``silent: "*"``
check (harness.scenario.failure_modes.observing_every_alert), whose verdict passes for such a firing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from harness.core.catalog import Catalog
from harness.core.result import PASS, ScenarioResult
from harness.core.timeline import ALERT_STATE, NOTIFICATION, PHASE, Event
from harness.core.verdict import Interval, alert_intervals


class ModeFault(Protocol):
    """What the matrix reads of a fault (harness.core.model.FaultSpec satisfies it)."""

    @property
    def kind(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, Any]: ...


class FailureMode(Protocol):
    """What the matrix reads of a failure mode's scenario (harness.core.model.Scenario satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def faults(self) -> Sequence[ModeFault]: ...


PAGER = "pager"


@dataclass(frozen=True)
class Firing:
    alert: str
    severities: tuple[str, ...]
    after_s: float            # production seconds from the window's opening to the first firing
    judged: bool = True       # False: fired only on windows too sparse to resolve its threshold

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "severity": list(self.severities), "time_to_fire_s": _num(self.after_s),
                "judged": self.judged}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Firing:
        return Firing(str(raw.get("alert", "")), tuple(str(s) for s in raw.get("severity") or ()),
                      _float(raw.get("time_to_fire_s")) or 0.0, bool(raw.get("judged", True)))


@dataclass(frozen=True)
class ModeRow:
    name: str
    description: str = ""
    baseline: bool = False
    faults: tuple[str, ...] = ()          # "crash postgres_primary", as a reader says it
    time_scale: float = 1.0
    firings: tuple[Firing, ...] = ()
    noise: tuple[str, ...] = ()           # alerts already firing before the fault began
    # Alerts firing (on windows that resolve their thresholds) at some instant after the warm-up and before the
    # fault began: on a healthy stack, as in a baseline mode.
    before_fault: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()       # receivers that accepted a firing notification of the mode
    refused: tuple[str, ...] = ()         # receivers whose API refused the mode's notifications
    paged: bool = False
    time_to_page_s: float | None = None   # production seconds
    time_to_notify_s: float | None = None
    error: str | None = None              # the mode could not run (its fault failed, the run was cut short)

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(f.alert for f in self.firings)

    @property
    def ran(self) -> bool:
        return self.error is None

    def firing(self, alert: str) -> Firing | None:
        return next((f for f in self.firings if f.alert == alert), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "baseline": self.baseline,
                "faults": list(self.faults), "time_scale": self.time_scale, "fired": list(self.fired),
                "firings": [f.to_dict() for f in self.firings], "noise": list(self.noise),
                "before_fault": list(self.before_fault),
                "receivers": list(self.receivers), "refused": list(self.refused), "paged": self.paged,
                "time_to_page_s": _num(self.time_to_page_s), "time_to_notify_s": _num(self.time_to_notify_s),
                "error": self.error}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> ModeRow:
        return ModeRow(name=str(raw.get("name", "")), description=str(raw.get("description", "")),
                       baseline=bool(raw.get("baseline")), faults=_strs(raw.get("faults")),
                       time_scale=_float(raw.get("time_scale")) or 1.0,
                       firings=tuple(Firing.from_dict(f) for f in raw.get("firings") or ()),
                       noise=_strs(raw.get("noise")), before_fault=_strs(raw.get("before_fault")),
                       receivers=_strs(raw.get("receivers")),
                       refused=_strs(raw.get("refused")), paged=bool(raw.get("paged")),
                       time_to_page_s=_float(raw.get("time_to_page_s")),
                       time_to_notify_s=_float(raw.get("time_to_notify_s")), error=raw.get("error"))


@dataclass(frozen=True)
class AlertRow:
    name: str
    severities: tuple[str, ...] = ()
    exercised_by: tuple[str, ...] = ()    # fault modes in which it fired
    # Modes in which it fired, judged, on a healthy stack: baseline modes, and fault modes before their fault. An
    # alert that sits at its threshold on a healthy stack fires in some of them and not in others, run after run;
    # every mode's healthy stretch counts, so one quiet baseline run does not hide it.
    healthy_in: tuple[str, ...] = ()

    @property
    def fires_on_healthy(self) -> bool:
        return bool(self.healthy_in)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "severity": list(self.severities), "exercised_by": list(self.exercised_by),
                "fires_on_healthy": self.fires_on_healthy, "healthy_in": list(self.healthy_in)}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> AlertRow:
        return AlertRow(str(raw.get("name", "")), _strs(raw.get("severity")), _strs(raw.get("exercised_by")),
                        _strs(raw.get("healthy_in")))


@dataclass(frozen=True)
class Violation:
    """A failure mode that did not reach whom the criteria file says it must."""

    mode: str
    requirement: str          # "page within 5m", "notify someone"
    observed: str
    file: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "requirement": self.requirement, "observed": self.observed,
                "file": self.file, "line": self.line}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Violation:
        line = raw.get("line")
        return Violation(str(raw.get("mode", "")), str(raw.get("requirement", "")), str(raw.get("observed", "")),
                         str(raw.get("file", "")), int(line) if isinstance(line, int) else None)


@dataclass(frozen=True)
class Headlines:
    no_alert: tuple[str, ...] = ()            # fault modes in which nothing fired
    pages_nobody: tuple[str, ...] = ()        # fault modes that paged no one (with or without alerts)
    fire_on_healthy: tuple[str, ...] = ()     # alerts firing on a healthy stack (a baseline, or before a fault)
    fire_on_healthy_unjudged: tuple[str, ...] = ()  # ... only on windows too sparse to judge (compression)
    never_exercised: tuple[str, ...] = ()     # alerts no fault mode made fire
    not_run: tuple[str, ...] = ()             # modes that could not run
    healthy_paged: tuple[str, ...] = ()       # baseline modes in which someone was paged

    def to_dict(self) -> dict[str, Any]:
        return {k: list(getattr(self, k)) for k in ("no_alert", "pages_nobody", "fire_on_healthy",
                                                      "fire_on_healthy_unjudged", "never_exercised", "not_run",
                                                      "healthy_paged")}


@dataclass(frozen=True)
class Matrix:
    modes: tuple[ModeRow, ...]
    alerts: tuple[AlertRow, ...]
    criteria_file: str = ""
    violations: tuple[Violation, ...] = ()
    # Criteria on modes this run did not include (--modes): not judged.
    unjudged: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def headlines(self) -> Headlines:
        ran = [m for m in self.modes if m.ran]
        faulted = [m for m in ran if not m.baseline]
        healthy: dict[str, bool] = {}          # alert -> judged firing in some baseline mode
        for m in ran:
            for f in m.firings if m.baseline else ():
                healthy[f.alert] = healthy.get(f.alert, False) or f.judged
        judged = list(dict.fromkeys([*(a for a, j in healthy.items() if j),
                                     *(a.name for a in self.alerts if a.fires_on_healthy)]))
        return Headlines(
            no_alert=tuple(m.name for m in faulted if not m.firings),
            pages_nobody=tuple(m.name for m in faulted if not m.paged),
            fire_on_healthy=tuple(judged),
            fire_on_healthy_unjudged=tuple(a for a in healthy if a not in judged),
            never_exercised=tuple(a.name for a in self.alerts if not a.exercised_by) if faulted else (),
            not_run=tuple(m.name for m in self.modes if not m.ran),
            healthy_paged=tuple(m.name for m in ran if m.baseline and m.paged),
        )

    def mode(self, name: str) -> ModeRow | None:
        return next((m for m in self.modes if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"failure_modes": [m.to_dict() for m in self.modes], "alerts": [a.to_dict() for a in self.alerts],
                "headlines": self.headlines.to_dict(),
                "criteria": {"file": self.criteria_file, "violations": [v.to_dict() for v in self.violations],
                             "not_judged": list(self.unjudged)},
                "ok": self.ok}

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Matrix:
        crit = raw.get("criteria") or {}
        modes = tuple(ModeRow.from_dict(m) for m in raw.get("failure_modes") or ())
        # A summary written before ``healthy_in`` (it held only ``fires_on_healthy``): the baseline modes in which the
        # alert fired, as that flag was computed then.
        alerts = tuple(AlertRow.from_dict(a) if "healthy_in" in a else
                       replace(AlertRow.from_dict(a), healthy_in=healthy_in(str(a.get("name", "")), modes))
                       for a in raw.get("alerts") or ())
        return Matrix(modes=modes, alerts=alerts,
                      criteria_file=str(crit.get("file") or ""),
                      violations=tuple(Violation.from_dict(v) for v in crit.get("violations") or ()),
                      unjudged=_strs(crit.get("not_judged")))


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 3)


def _float(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _strs(x: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in x or ())


def describe_fault(f: ModeFault) -> str:
    """``crash postgres_primary``, ``toxic pg_primary type=latency latency=200``, ``error_ratio ratio=0.02``."""
    params = " ".join(f"{k}={v}" for k, v in f.params.items())
    return " ".join(x for x in (f.kind, f.target or "", params) if x)


def alertnames(notification: Event) -> set[str]:
    """Alert names a notification carries, as far as its payload tells."""
    out = set()
    for a in notification.data.get("alerts") or ():
        if isinstance(a, Mapping):
            labels = a.get("labels") if isinstance(a.get("labels"), Mapping) else {}
            name = (labels or {}).get("alertname") or a.get("alertname")
            if name:
                out.add(str(name))
    return out


def scenario_start(events: Sequence[Event], res: ScenarioResult) -> float:
    """Run-clock start of a result's scenario phase (after its warm-up); its start if none was recorded."""
    starts = [e.t for e in events if e.kind == PHASE and e.name == "scenario"
              and e.data.get("scenario") == res.name and res.started <= e.t <= res.ended]
    return starts[-1] if starts else res.started


def _unjudged(res: ScenarioResult) -> set[str]:
    """Alerts the mode's watch over every alert passed: a firing of theirs was on windows too sparse to judge."""
    return {v.subject for v in res.verdicts if v.check == "silent" and v.status == PASS}


def _severities(intervals: Sequence[Interval], catalog: Catalog, alert: str) -> tuple[str, ...]:
    seen = sorted({iv.labels["severity"] for iv in intervals if iv.labels.get("severity")})
    if not seen and alert in catalog.alerts and catalog.alerts[alert].labels.get("severity"):
        seen = [catalog.alerts[alert].labels["severity"]]
    return tuple(seen)


def mode_row(mode: FailureMode | None, res: ScenarioResult, events: Sequence[Event], catalog: Catalog, *,
             notify_until: float = math.inf) -> ModeRow:
    """One failure mode's row. ``notify_until``: run-clock time up to which notifications may still belong to
    it (the next mode's scenario phase)."""
    t0 = scenario_start(events, res)
    baseline = not (mode.faults if mode is not None else res.faults)
    opened = min((float(f["start"]) for f in res.faults), default=t0)
    end = res.ended
    scale = res.time_scale
    unjudged = _unjudged(res)
    names = list(dict.fromkeys([*catalog.alerts, *sorted({e.name for e in events if e.kind == ALERT_STATE})]))
    firings: list[Firing] = []
    noise: list[str] = []
    before: list[str] = []
    for alert in names:
        intervals = alert_intervals(events, alert)
        if baseline:
            inside = [iv for iv in intervals if iv.overlaps(opened, end)]
        else:
            inside = [iv for iv in intervals if opened <= iv.start <= end]
            early = any(iv.overlaps(t0, opened) and iv.start < opened for iv in intervals)
            if not inside and early:
                noise.append(alert)
            if early and alert not in unjudged:
                before.append(alert)
        if inside:
            first = min(iv.start for iv in inside)
            firings.append(Firing(alert, _severities(inside, catalog, alert), max(0.0, first - opened) * scale,
                                  judged=alert not in unjudged))
    fired = {f.alert for f in firings}
    pagers = set(catalog.receivers_by_role.get(PAGER, ()))
    receivers: dict[str, float] = {}
    refused: list[str] = []
    for e in events:
        if e.kind != NOTIFICATION or not opened <= e.t <= notify_until or e.data.get("status", "firing") != "firing":
            continue
        carried = alertnames(e)
        if not (carried & fired if carried else e.t <= end and fired):  # another mode's, or nobody's
            continue
        if e.data.get("accepted") is False:
            refused.append(e.name)
        else:
            receivers.setdefault(e.name, e.t)
    paged_at = min((t for r, t in receivers.items() if r in pagers), default=None)
    first_note = min(receivers.values(), default=None)
    mode_faults = mode.faults if mode is not None else ()
    return ModeRow(
        name=res.name, description=mode.description if mode is not None else "", baseline=baseline,
        faults=tuple(describe_fault(f) for f in mode_faults) or tuple(
            " ".join(str(x) for x in (f.get("kind"), f.get("target")) if x) for f in res.faults),
        time_scale=scale, firings=tuple(sorted(firings, key=lambda f: (f.after_s, f.alert))), noise=tuple(noise),
        before_fault=tuple(before),
        receivers=tuple(sorted(receivers, key=lambda r: receivers[r])),
        refused=tuple(r for r in dict.fromkeys(refused) if r not in receivers),
        paged=paged_at is not None,
        time_to_page_s=None if paged_at is None else (paged_at - opened) * scale,
        time_to_notify_s=None if first_note is None else (first_note - opened) * scale,
        error=res.error)


def compute_matrix(modes: Sequence[FailureMode], results: Sequence[ScenarioResult], events: Sequence[Event],
                   catalog: Catalog) -> Matrix:
    """The matrix of a coverage run: one row per result (in run order), one per alert of the loaded rules (and
    per alert that fired without being in them)."""
    by_name = {m.name: m for m in modes}
    ordered = sorted(results, key=lambda r: r.started)
    starts = [scenario_start(events, r) for r in ordered]
    rows = [mode_row(by_name.get(r.name), r, events, catalog,
                     notify_until=starts[i + 1] if i + 1 < len(ordered) else math.inf)
            for i, r in enumerate(ordered)]
    names = list(dict.fromkeys([*catalog.alerts, *(f.alert for r in rows for f in r.firings)]))
    alerts = []
    for name in names:
        rule = catalog.alerts.get(name)
        seen = [s for r in rows for f in r.firings if f.alert == name for s in f.severities]
        sev = list(dict.fromkeys([*([rule.labels["severity"]] if rule and rule.labels.get("severity") else []),
                                  *seen]))
        alerts.append(AlertRow(
            name, tuple(sev),
            exercised_by=tuple(r.name for r in rows if r.ran and not r.baseline and name in r.fired),
            healthy_in=healthy_in(name, rows)))
    return Matrix(tuple(rows), tuple(alerts))


def healthy_in(alert: str, rows: Sequence[ModeRow]) -> tuple[str, ...]:
    """The modes in which ``alert`` fired, judged, on a healthy stack: in a baseline mode, or in a fault mode before
    its fault began."""
    return tuple(r.name for r in rows if r.ran and (
        alert in r.before_fault if not r.baseline else (f := r.firing(alert)) is not None and f.judged))
