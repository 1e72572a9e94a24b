"""Rule coverage: which alerts a run made fire, which it proved stay silent, which it never touched.

The alert classes are exclusive and ranked: an alert that fired anywhere is "firing"; one a scenario
expected to fire that never did is "missed" (exercised, and the most important line of the report);
one checked silent while a fault ran is "silent"; the rest of the pack is "never". ``both_ways`` lists
the firing alerts that some scenario (a near miss) also proved silent.
A passing ``silent`` check on ``*`` ("every other alert") counts for each pack alert that did not fire
in that scenario, since that is exactly what the check verified.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.core.result import FAIL, PASS, ScenarioResult
from harness.core.timeline import ALERT_STATE, DELIVERY_PROBE, NOTIFICATION, Event
from harness.report.model import RuleCoverage


def _alertnames(alerts: Any) -> list[str]:
    """Alert names in a notification's ``alerts`` payload (dicts with labels, dicts with a name, or names)."""
    out: list[str] = []
    for a in alerts or ():
        if isinstance(a, str):
            out.append(a)
        elif isinstance(a, dict):
            labels = a["labels"] if isinstance(a.get("labels"), dict) else {}
            name = labels.get("alertname") or a.get("alertname") or a.get("name")
            if name and name != DELIVERY_PROBE:
                out.append(str(name))
    return out


def _in_window(e: Event, s: ScenarioResult) -> bool:
    return s.started <= e.t <= s.ended


def fired_alerts(events: Iterable[Event], scenarios: Sequence[ScenarioResult] = ()) -> set[str]:
    fired = {e.name for e in events if e.kind == ALERT_STATE and e.data.get("state") == "firing"}
    for s in scenarios:
        for v in s.verdicts:
            # A passing "fires" or a failing "silent" both mean the alert was seen firing.
            seen_firing = (v.check == "fires" and v.status == PASS) or (v.check == "silent" and v.status == FAIL)
            if seen_firing and v.subject and v.subject != "*":
                fired.add(v.subject)
    return fired


def compute_coverage(rule_alerts: Sequence[str], scenarios: Sequence[ScenarioResult], events: Sequence[Event],
                     receivers: Sequence[str] = ()) -> RuleCoverage:
    pack = list(dict.fromkeys(rule_alerts))
    fired = fired_alerts(events, scenarios)
    checked_silent: set[str] = set()
    expected = {v.subject for s in scenarios for v in s.verdicts if v.check == "fires" and v.subject != "*"}
    for s in scenarios:
        fired_here = {e.name for e in events
                      if e.kind == ALERT_STATE and e.data.get("state") == "firing" and _in_window(e, s)}
        for v in s.verdicts:
            if v.check != "silent" or v.status != PASS:
                continue
            if v.subject == "*":
                checked_silent.update(a for a in pack if a not in fired_here)
            elif v.subject:
                checked_silent.add(v.subject)

    notifications = [e for e in events if e.kind == NOTIFICATION]
    reached = list(dict.fromkeys(e.name for e in notifications))
    routes: dict[tuple[str, str], None] = {}
    for e in notifications:
        for name in _alertnames(e.data.get("alerts")):
            routes[(e.name, name)] = None

    # No pack given: report what fired rather than claim nothing did.
    pack_firing = tuple(a for a in pack if a in fired) if pack else tuple(sorted(fired))
    return RuleCoverage(
        firing=pack_firing,
        missed=tuple(a for a in (pack or sorted(expected)) if a in expected and a not in fired),
        silent=tuple(a for a in pack if a not in fired and a not in expected and a in checked_silent),
        never=tuple(a for a in pack if a not in fired and a not in expected and a not in checked_silent),
        unknown_fired=tuple(sorted(fired - set(pack))) if pack else (),
        both_ways=tuple(a for a in pack if a in fired and a in checked_silent),
        receivers_reached=tuple(reached),
        receivers_unreached=tuple(r for r in dict.fromkeys(receivers) if r not in reached),
        routes=tuple(sorted(routes)),
    )
