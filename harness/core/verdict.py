"""Pure verdicts over a recorded timeline: each takes events (and records) and returns a Verdict with the
observed value, the expected value and the window. No I/O, no clock, no sleeping: unit-tested with
one-line asserts.

Alert state events (ALERT_STATE) carry ``data = {"state": "pending"|"firing"|"inactive", "labels": {...}}``
and are recorded on change only, per series (alertname + labels). Notifications (NOTIFICATION) are named
by receiver and carry ``data["alerts"]``: a list of {"labels": {...}, "status": ...}.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.core.result import FAIL, PASS, Verdict
from harness.core.timeline import ALERT_STATE, AM_STATE, DELIVERY_PROBE, NOTIFICATION, Event


@dataclass(frozen=True)
class Interval:
    state: str
    start: float
    end: float | None            # None: still in this state when recording stopped
    labels: Mapping[str, str]

    def overlaps(self, start: float, end: float) -> bool:
        return self.start <= end and (self.end is None or self.end >= start)


def _matches(labels: Mapping[str, str], want: Mapping[str, str] | None) -> bool:
    return not want or all(labels.get(k) == str(v) for k, v in want.items())


def alert_intervals(events: Iterable[Event], alert: str, labels: Mapping[str, str] | None = None,
                    state: str = "firing") -> list[Interval]:
    """Intervals in ``state`` for every series of ``alert`` whose labels include ``labels``."""
    by_series: dict[tuple[tuple[str, str], ...], list[Event]] = {}
    for e in events:
        if e.kind == ALERT_STATE and e.name == alert:
            lab = dict(e.data.get("labels") or {})
            if _matches(lab, labels):
                by_series.setdefault(tuple(sorted(lab.items())), []).append(e)
    out: list[Interval] = []
    for key, evs in by_series.items():
        evs.sort(key=lambda e: e.t)
        opened: float | None = None
        for e in evs:
            in_state = e.data.get("state") == state
            if in_state and opened is None:
                opened = e.t
            elif not in_state and opened is not None:
                out.append(Interval(state, opened, e.t, dict(key)))
                opened = None
        if opened is not None:
            out.append(Interval(state, opened, None, dict(key)))
    out.sort(key=lambda iv: iv.start)
    return out


def _fmt(t: float | None) -> str:
    return "never" if t is None else f"{t:.2f}s"


# Clocks: the run clock and Prometheus's evaluation timestamps are both this machine's, but Prometheus
# schedules evaluations on its own grid; an alert seen firing this much before its theoretical minimum is
# still within what the grid allows.
EARLY_TOLERANCE_S = 0.02


def firing_at(events: Sequence[Event], alert: str, t: float,
              labels: Mapping[str, str] | None = None) -> Interval | None:
    """The firing interval of ``alert`` open at instant ``t`` (entered before it), if any."""
    return next((iv for iv in alert_intervals(events, alert, labels)
                 if iv.start < t and (iv.end is None or iv.end > t)), None)


def fires_within(events: Sequence[Event], alert: str, *, since: float, within: float,
                 labels: Mapping[str, str] | None = None, min_latency: float | None = None) -> Verdict:
    """The alert goes firing no earlier than it could (``since + min_latency``: the fault cannot show
    sooner) and no later than ``since + within``; it must not be firing already when the fault begins."""
    firing = alert_intervals(events, alert, labels)
    expected = f"firing within {within:.2f}s of t={since:.2f}s" + (f" with {dict(labels)}" if labels else "")
    window = (since, since + within)
    carried = firing_at(events, alert, since, labels)
    if carried is not None:
        return Verdict("fires", alert, FAIL, expected,
                       f"already firing when the fault began (since t={carried.start:.2f}s); cannot attribute "
                       "it to the fault", window=window, min_latency=min_latency,
                       evidence={"labels": dict(carried.labels)})
    after = [iv for iv in firing if iv.start >= since]
    if not after:
        pending = alert_intervals(events, alert, labels, state="pending")
        seen = [iv for iv in pending if iv.start >= since]
        note = f"; pending from t={seen[0].start:.2f}s but never firing" if seen else "; never pending"
        return Verdict("fires", alert, FAIL, expected, "never fired" + note, window=window,
                       min_latency=min_latency)
    first = after[0]
    latency = first.start - since
    observed = f"fired at t={first.start:.2f}s ({latency:.2f}s after)"
    status = PASS if latency <= within else FAIL
    if status == FAIL:
        observed += _pending_note(events, alert, first.labels, since, first.start)
    if min_latency is not None and latency < min_latency - EARLY_TOLERANCE_S:
        status = FAIL
        observed += (f"; fired before the fault could show (the earliest possible is {min_latency:.2f}s after: "
                     "`for` rounded up to whole evaluations), so something else made it fire")
    return Verdict("fires", alert, status, expected, observed, window=window, latency=latency,
                   min_latency=min_latency, evidence={"labels": dict(first.labels)})


def _pending_note(events: Sequence[Event], alert: str, series: Mapping[str, str], since: float,
                  fired: float) -> str:
    """Where a late firing's time went: when the series' condition became true (pending began), measured
    from the fault. A late start means the fault's effect reached the threshold late (or only with a later
    fault); an early one means `for`, evaluation or delivery took the time."""
    pending = [iv for iv in alert_intervals(events, alert, series, state="pending")
               if iv.start <= fired and (iv.end is None or iv.end >= since)]
    if not pending:
        return "; never seen pending (its condition held for less than a poll before it fired)"
    began = pending[-1].start
    when = f"{began - since:.2f}s after the fault" if began >= since else f"{since - began:.2f}s before the fault"
    return f"; its condition became true (pending) at t={began:.2f}s, {when}, and it fired {fired - began:.2f}s later"


def stays_silent(events: Sequence[Event], alert: str, *, start: float, end: float,
                 labels: Mapping[str, str] | None = None,
                 unjudged: Sequence[tuple[Mapping[str, str], str]] = ()) -> Verdict:
    """The alert is not firing at any instant of [start, end], including firing carried in from before
    ``start`` (pass ``events`` with the state at ``start``, Timeline.events_with_state). Pending is reported
    but allowed. ``unjudged``: (labels, why) of series whose windows held too few events to resolve the
    threshold (harness.core.resolution); their firing is reported, not failed."""
    def judged(iv: Interval) -> bool:
        return not any(_matches(iv.labels, ident) for ident, _ in unjudged)

    overlapping = [iv for iv in alert_intervals(events, alert, labels) if iv.overlaps(start, end)]
    firing = [iv for iv in overlapping if judged(iv)]
    skipped = [why for ident, why in unjudged if any(_matches(iv.labels, ident) for iv in overlapping)]
    expected = f"not firing in [{start:.2f}s, {end:.2f}s]"
    note = f"; fired where not judged: {'; '.join(skipped)}" if skipped else ""
    if firing:
        iv = firing[0]
        when = (f"already firing when the window opened (since t={iv.start:.2f}s)" if iv.start < start
                else f"firing from t={iv.start:.2f}s")
        return Verdict("silent", alert, FAIL, expected,
                       f"{when} to {_fmt(iv.end)} ({len(firing)} interval(s))" + note,
                       window=(start, end), evidence={"labels": dict(iv.labels)})
    pending = [iv for iv in alert_intervals(events, alert, labels, "pending") if iv.overlaps(start, end)]
    observed = "silent" + (f" (pending {len(pending)} time(s), never firing)" if pending else "") + note
    return Verdict("silent", alert, PASS, expected, observed, window=(start, end))


def resolves_within(events: Sequence[Event], alert: str, *, since: float, within: float,
                    labels: Mapping[str, str] | None = None) -> Verdict:
    """Every firing interval that was open at ``since`` (the fault's end) closes by ``since + within``."""
    expected = f"resolved by t={since + within:.2f}s ({within:.2f}s after the fault ended)"
    firing = alert_intervals(events, alert, labels)
    if not firing:
        return Verdict("resolves", alert, FAIL, expected, "never fired, so it cannot resolve",
                       window=(since, since + within))
    open_at_end = [iv for iv in firing if iv.overlaps(since, since)]
    # An alert that re-fires after the fault ended has not resolved either.
    judged = open_at_end + [iv for iv in firing if since < iv.start <= since + within]
    still = [iv for iv in judged if iv.end is None]
    if still:
        return Verdict("resolves", alert, FAIL, expected,
                       f"still firing when recording stopped (firing since t={still[0].start:.2f}s)",
                       window=(since, since + within), evidence={"labels": dict(still[0].labels)})
    last = max((iv.end for iv in judged if iv.end is not None), default=since)
    status = PASS if last <= since + within else FAIL
    return Verdict("resolves", alert, status, expected, f"resolved at t={last:.2f}s ({last - since:.2f}s after)",
                   window=(since, since + within), latency=last - since)


def _notified_alertnames(ev: Event) -> set[str]:
    names = set()
    for a in ev.data.get("alerts") or []:
        labels = a.get("labels") or {}
        name = labels.get("alertname") or a.get("alertname")
        if name:
            names.add(str(name))
    return names


def first_notification(events: Sequence[Event], receiver: str, alert: str, *, start: float,
                       end: float, status: str = "firing", accepted_only: bool = False) -> Event | None:
    """The first delivery of ``alert`` to ``receiver`` in [start, end]. ``accepted_only``: only one the
    receiver's API would take (a PagerDuty event without a routing key is answered 400, and pages nobody)."""
    for e in events:
        if e.kind == NOTIFICATION and e.name == receiver and start <= e.t <= end \
                and alert in _notified_alertnames(e) and e.data.get("status", status) == status \
                and not (accepted_only and e.data.get("accepted") is False):
            return e
    return None


def _first_of(events: Sequence[Event], names: Sequence[str], alert: str, *, start: float, end: float,
              accepted_only: bool = False) -> Event | None:
    """The earliest delivery of ``alert`` to any of ``names`` in [start, end]."""
    found = [e for n in names if (e := first_notification(events, n, alert, start=start, end=end,
                                                          accepted_only=accepted_only)) is not None]
    return min(found, key=lambda e: e.t, default=None)


def notified(events: Sequence[Event], alert: str, *, receivers: Sequence[str], not_receivers: Sequence[str],
             since: float, within: float, until: float, min_latency: float | None = None,
             members: Mapping[str, Sequence[str]] | None = None) -> list[Verdict]:
    """Each receiver in ``receivers`` hears of ``alert`` within ``within`` of ``since``, and the alert was not
    already firing at ``since``; those in ``not_receivers`` hear nothing of it between ``since`` and
    ``until``.

    ``members`` maps an entry that stands for several receivers (a role, ``role:pager``) to their names: in
    ``receivers`` one of them hearing of the alert is enough; in ``not_receivers`` none of them may."""
    out: list[Verdict] = []
    groups = members or {}
    carried = firing_at(events, alert, since)
    if carried is not None:
        # Alertmanager may already have notified (or be repeating) an alert that fired before the fault:
        # a delivery now says nothing about the fault.
        for r in receivers:
            out.append(Verdict("notified", r, FAIL, f"{alert} delivered to {r} within {within:.2f}s of "
                               f"t={since:.2f}s", f"{alert} was already firing when the fault began (since "
                               f"t={carried.start:.2f}s); a delivery cannot be attributed to the fault",
                               window=(since, since + within), min_latency=min_latency))
        receivers = ()
    for r in receivers:
        names = list(groups.get(r, [r]))
        to = r if names == [r] else f"{r} ({' or '.join(names) or 'no receiver has this role'})"
        ev = _first_of(events, names, alert, start=since, end=since + within, accepted_only=True)
        expected = f"{alert} delivered to {to} within {within:.2f}s of t={since:.2f}s"
        if ev is None:
            late = _first_of(events, names, alert, start=since, end=until, accepted_only=True)
            rejected = _first_of(events, names, alert, start=since, end=until)
            obs = f"arrived late at t={late.t:.2f}s" if late else (
                f"delivered at t={rejected.t:.2f}s but refused by the receiver's API "
                f"({rejected.data.get('response_status')}: {rejected.data.get('problem')})" if rejected
                else "no notification")
            out.append(Verdict("notified", r, FAIL, expected, obs, window=(since, since + within),
                               min_latency=min_latency))
        else:
            at = "" if names == [r] else f" at {ev.name}"
            out.append(Verdict("notified", r, PASS, expected, f"arrived{at} at t={ev.t:.2f}s ({ev.t - since:.2f}s "
                               "after)", window=(since, since + within), latency=ev.t - since,
                               min_latency=min_latency, evidence={"payload": ev.data.get("payload")}))
    for r in not_receivers:
        names = list(groups.get(r, [r]))
        ev = _first_of(events, names, alert, start=since, end=until)
        to = r if names == [r] else f"{r} ({', '.join(names) or 'no receiver has this role'})"
        expected = f"{alert} never delivered to {to}"
        at = "" if ev is None or names == [r] else f" to {ev.name}"
        out.append(Verdict("not_notified", r, PASS if ev is None else FAIL, expected,
                           "no notification" if ev is None else f"delivered{at} at t={ev.t:.2f}s",
                           window=(since, until)))
    return out


def inhibited(events: Sequence[Event], alert: str, *, by: str, start: float, end: float,
              receivers: Sequence[str] = (), labels: Mapping[str, str] | None = None,
              by_labels: Mapping[str, str] | None = None, poll_s: float = 0.0) -> Verdict:
    """While ``by`` is active in Alertmanager, ``alert`` is suppressed there and reaches no receiver.

    Alertmanager states are polled, so the inhibitor's recorded span is late by up to ``poll_s`` at each
    end, while a notification's time is its exact arrival: a delivery within ``poll_s`` of either end
    (Alertmanager un-muting the target the moment the inhibitor resolved, before the next poll saw it)
    is not counted as a leak.

    AM_STATE events carry ``data = {"state": "active"|"suppressed", "labels": {...}, "inhibited_by": [...]}``.
    """
    expected = f"{alert}{_labels_text(labels)} inhibited while {by}{_labels_text(by_labels)} fires"
    # With the state carried in from before the window (an inhibitor already active when it opened).
    am = sorted((e for e in events if e.kind == AM_STATE and e.t <= end), key=lambda e: e.t)
    source = [e for e in am if e.name == by and _matches(e.data.get("labels") or {}, by_labels)]
    # The inhibitor's active spans in Alertmanager (until its next state change, or the window's end),
    # clipped to the window.
    spans = [(max(e.t, start), next((n.t for n in source[i + 1:] if n.data.get("state") != "active"), end))
             for i, e in enumerate(source) if e.data.get("state") == "active"
             and (i == 0 or source[i - 1].data.get("state") != "active")]
    spans = [(a, b) for a, b in spans if b > start]
    if not spans:
        return Verdict("inhibited", alert, FAIL, expected, f"{by}{_labels_text(by_labels)} never active in "
                       "Alertmanager", window=(start, end))

    # Half-open: the poll that sees the inhibitor resolved may see the target active in the same answer.
    def during(t: float) -> bool:
        return any(a <= t < b for a, b in spans)

    mine = [e for e in am if e.name == alert and e.t >= start and _matches(e.data.get("labels") or {}, labels)]
    suppressed = [e for e in mine if e.data.get("state") == "suppressed" and e.data.get("inhibited_by")]
    # Active while the inhibitor is active is the failure; active after it resolved is Alertmanager working.
    active = [e for e in mine if e.data.get("state") == "active" and during(e.t)]
    leaked_to = [r for r in receivers
                 if any(first_notification(events, r, alert, start=a + poll_s, end=b - poll_s - 1e-9) is not None
                        for a, b in spans if b - a > 2 * poll_s)]
    if suppressed and not leaked_to and not active:
        return Verdict("inhibited", alert, PASS, expected,
                       f"suppressed from t={suppressed[0].t:.2f}s, no notification while {by} was active",
                       window=(start, end))
    observed = "never seen in Alertmanager" if not mine else ("never suppressed" if not suppressed else "suppressed")
    if active:
        observed += f"; active (not inhibited) at t={active[0].t:.2f}s while {by} was active"
    if leaked_to:
        observed += f"; notified {', '.join(leaked_to)}"
    return Verdict("inhibited", alert, FAIL, expected, observed, window=(start, end))


def _labels_text(labels: Mapping[str, str] | None) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in labels.items()) + "}" if labels else ""


def latency_budget(latencies: np.ndarray, endpoint: str, *, percentile: float, budget: float) -> Verdict:
    """pXX of ground-truth latencies (seconds) at most ``budget`` seconds."""
    expected = f"p{percentile:g} <= {budget * 1000:.1f} ms"
    if latencies.size == 0:
        return Verdict("latency", endpoint, FAIL, expected, "no requests recorded for this endpoint")
    value = float(np.percentile(latencies, percentile, method="inverted_cdf"))
    status = PASS if value <= budget else FAIL
    return Verdict("latency", endpoint, status, expected, f"p{percentile:g} = {value * 1000:.2f} ms over "
                   f"{latencies.size} requests", evidence={"value_s": value, "n": int(latencies.size)})


# -- expectations by meaning: "someone is paged", "a critical alert is notified" --------------------------------


def deliveries(events: Sequence[Event], receivers: Iterable[str], *, start: float, end: float,
               status: str = "firing") -> list[tuple[Event, str]]:
    """(event, alert) of every delivery the receiver's API accepted, to one of ``receivers`` in [start, end];
    the harness's own delivery probe is not an alert of the packs."""
    names = set(receivers)
    return [(e, a) for e in events if e.kind == NOTIFICATION and e.name in names and start <= e.t <= end
            and e.data.get("status", status) == status and e.data.get("accepted") is not False
            for a in sorted(_notified_alertnames(e)) if a != DELIVERY_PROBE]


def delivered_any(events: Sequence[Event], check: str, subject: str, *, alerts: Sequence[str],
                  receivers: Sequence[str], since: float, within: float, until: float,
                  min_latency: Mapping[str, float]) -> Verdict:
    """One of ``alerts``, not already firing when the fault began, is delivered to one of ``receivers`` within
    ``within`` of ``since``, and no earlier than that alert's own ``min_latency`` (the fault cannot show sooner)."""
    window = (since, since + within)
    to = ", ".join(receivers) or "no receiver"
    expected = f"one of {len(alerts)} alerts ({', '.join(alerts[:4])}{', ...' if len(alerts) > 4 else ''}) " \
               f"delivered to {to} within {within:.2f}s of t={since:.2f}s"
    if not alerts or not receivers:
        why = "no alert of the packs matches" if not alerts else "no receiver of the Alertmanager config matches"
        return Verdict(check, subject, FAIL, expected, why, window=window)
    carried = {a: iv for a in alerts if (iv := firing_at(events, a, since)) is not None}
    fresh = [(e, a) for e, a in deliveries(events, receivers, start=since, end=until)
             if a in alerts and a not in carried]
    on_time = [(e, a) for e, a in fresh if e.t <= since + within]
    if on_time:
        e, a = on_time[0]
        floor = min_latency.get(a)
        latency = e.t - since
        if floor is not None and latency < floor - EARLY_TOLERANCE_S:
            return Verdict(check, subject, FAIL, expected, f"{a} delivered to {e.name} at t={e.t:.2f}s, "
                           f"{latency:.2f}s after: before the fault could show (earliest {floor:.2f}s)",
                           window=window, latency=latency, min_latency=floor)
        return Verdict(check, subject, PASS, expected, f"{a} delivered to {e.name} at t={e.t:.2f}s "
                       f"({latency:.2f}s after)", window=window, latency=latency, min_latency=floor,
                       evidence={"payload": e.data.get("payload")})
    if fresh:
        e, a = fresh[0]
        observed = f"arrived late: {a} delivered to {e.name} at t={e.t:.2f}s"
    else:
        observed = "no notification"
    if carried:
        observed += "; already firing when the fault began, so not attributable to it: " + ", ".join(
            f"{a} (since t={iv.start:.2f}s)" for a, iv in carried.items())
    return Verdict(check, subject, FAIL, expected, observed, window=window)


def delivered_none(events: Sequence[Event], check: str, subject: str, *, alerts: Sequence[str],
                   receivers: Sequence[str], start: float, end: float,
                   unjudged: Mapping[str, str] | None = None) -> Verdict:
    """Nothing is delivered to ``receivers`` in [start, end], and none of ``alerts`` (those routed to them) is
    firing at any instant of it: an alert that paged before the window and is still firing still pages.

    ``unjudged``: alert -> why its firing is not judged (it began on a window too sparse to resolve the
    threshold); its deliveries and firing are reported, not failed."""
    skip = dict(unjudged or {})
    expected = f"nothing delivered to {', '.join(receivers) or 'no receiver'} and none of the alerts routed " \
               f"there firing in [{start:.2f}s, {end:.2f}s]"
    got = [(e, a) for e, a in deliveries(events, receivers, start=start, end=end) if a not in skip]
    alerts = [a for a in alerts if a not in skip]
    note = ("; not judged: " + "; ".join(f"{a}: {why}" for a, why in skip.items())) if skip else ""
    if got:
        e, a = got[0]
        return Verdict(check, subject, FAIL, expected, f"{a} delivered to {e.name} at t={e.t:.2f}s{note}",
                       window=(start, end))
    for a in alerts:
        iv = next((iv for iv in alert_intervals(events, a) if iv.overlaps(start, end)), None)
        if iv is not None:
            until = "on" if iv.end is None else f"to t={iv.end:.2f}s"
            return Verdict(check, subject, FAIL, expected, f"{a} firing from t={iv.start:.2f}s {until} (routed to "
                           f"{', '.join(receivers)}){note}", window=(start, end))
    return Verdict(check, subject, PASS, expected, "no delivery, no routed alert firing" + note,
                   window=(start, end))
