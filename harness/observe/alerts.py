"""Alert observation: every alert's state changes as Prometheus and Alertmanager see them, on the run clock.

Prometheus (``/api/v1/alerts``) is polled at the rule evaluation resolution: a change is recorded as
ALERT_STATE (pending / firing, and inactive when the alert disappears), with Prometheus's own
``activeAt`` converted to the run clock. Alertmanager (``/api/v2/alerts``, including silenced,
inhibited and unprocessed alerts) gives AM_STATE: active / suppressed / unprocessed with the
inhibiting and silencing ids, and ``resolved`` when it drops the alert. A poll's time is the instant
the answer arrived, so each recorded change is late by at most one polling interval.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests

from harness.core.clock import RunClock
from harness.core.timeline import ALERT_STATE, AM_STATE, Timeline

Key = tuple[str, tuple[tuple[str, str], ...]]


def _key(labels: Mapping[str, str]) -> Key:
    return str(labels.get("alertname", "")), tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def _parse_ts(text: str | None) -> float | None:
    """Prometheus writes RFC 3339 UTC with up to nanoseconds ("...T06:33:37.421234567Z")."""
    if not text:
        return None
    from datetime import datetime

    head, _, frac = text.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(head + ("." + frac[:6] if frac else "") + "+00:00").timestamp()
    except ValueError:
        return None


class AlertRecorder:
    def __init__(self, prometheus_url: str, alertmanager_url: str, clock: RunClock, timeline: Timeline,
                 interval_s: float, session: requests.Session | None = None) -> None:
        self.prometheus_url = prometheus_url.rstrip("/")
        self.alertmanager_url = alertmanager_url.rstrip("/") if alertmanager_url else ""
        self.clock = clock
        self.timeline = timeline
        self.interval_s = max(0.05, float(interval_s))
        self.session = session or requests.Session()
        self.last_error = ""
        self.polls = 0
        self._prom: dict[Key, str] = {}
        self._am: dict[Key, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AlertRecorder:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alert-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None
        self.poll_once()  # one last look so the end state is on the timeline

    def __enter__(self) -> AlertRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self.clock.now()
            self.poll_once()
            self._stop.wait(max(0.0, self.interval_s - (self.clock.now() - started)))

    def poll_once(self) -> None:
        try:
            self.poll_prometheus()
            if self.alertmanager_url:
                self.poll_alertmanager()
            self.polls += 1
        except (requests.RequestException, ValueError, KeyError) as exc:
            # Keep polling: a restarting Prometheus is part of some scenarios.
            self.last_error = f"{type(exc).__name__}: {exc}"

    def poll_prometheus(self) -> None:
        resp = self.session.get(f"{self.prometheus_url}/api/v1/alerts", timeout=5)
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()["data"]["alerts"]
        t = self.clock.now()
        seen: dict[Key, str] = {}
        for a in alerts:
            labels = dict(a.get("labels") or {})
            k = _key(labels)
            state = str(a.get("state", ""))
            seen[k] = state
            if self._prom.get(k) != state:
                active_at = _parse_ts(a.get("activeAt"))
                self.timeline.record(t, ALERT_STATE, k[0], state=state, labels=labels, value=a.get("value"),
                                     active_at=self.clock.from_wall(active_at) if active_at else None,
                                     source="prometheus")
        for k in set(self._prom) - set(seen):
            self.timeline.record(t, ALERT_STATE, k[0], state="inactive", labels=dict(k[1]), source="prometheus")
        self._prom = seen

    def poll_alertmanager(self) -> None:
        resp = self.session.get(f"{self.alertmanager_url}/api/v2/alerts",
                                params={"active": "true", "silenced": "true", "inhibited": "true",
                                        "unprocessed": "true"}, timeout=5)
        resp.raise_for_status()
        t = self.clock.now()
        seen: dict[Key, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        for a in resp.json():
            labels = dict(a.get("labels") or {})
            k = _key(labels)
            st = a.get("status") or {}
            state = (str(st.get("state", "")), tuple(st.get("inhibitedBy") or ()), tuple(st.get("silencedBy") or ()))
            seen[k] = state
            if self._am.get(k) != state:
                self.timeline.record(t, AM_STATE, k[0], state=state[0], inhibited_by=list(state[1]),
                                     silenced_by=list(state[2]), labels=labels,
                                     receivers=[r.get("name") for r in a.get("receivers") or []],
                                     fingerprint=a.get("fingerprint"), source="alertmanager")
        for k in set(self._am) - set(seen):
            self.timeline.record(t, AM_STATE, k[0], state="resolved", inhibited_by=[], silenced_by=[],
                                 labels=dict(k[1]), source="alertmanager")
        self._am = seen
