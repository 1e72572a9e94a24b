"""Alertmanager's view of the alerts, and putting it back in step with Prometheus between scenarios.

Prometheus sends no resolution for an alert whose rule was replaced (a reload at another time scale): the
alert stays active in Alertmanager until its ``endsAt``, minutes of real time, and a later firing of the
same alert is then no new notification. Between scenarios the harness resolves, through Alertmanager's own
API, every alert Alertmanager holds that Prometheus no longer has active.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import requests


def _identity(labels: Mapping[str, str], ignore: Iterable[str]) -> tuple[tuple[str, str], ...]:
    skip = set(ignore)
    return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))


class AlertmanagerClient:
    def __init__(self, url: str, session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds that has not ended (active, suppressed or unprocessed)."""
        resp = self.session.get(f"{self.url}/api/v2/alerts", timeout=self.timeout,
                                params={"active": "true", "silenced": "true", "inhibited": "true",
                                        "unprocessed": "true"})
        resp.raise_for_status()
        return list(resp.json())

    def resolve_stale(self, prometheus_active: Iterable[Mapping[str, str]],
                      external_labels: Iterable[str] = ("harness",)) -> list[str]:
        """Resolve (``endsAt`` now) every alert Alertmanager holds that is not among ``prometheus_active``
        (label sets, compared without Prometheus's external labels). Returns the names resolved."""
        ignore = tuple(external_labels)
        live = {_identity(labels, ignore) for labels in prometheus_active}
        stale = [a for a in self.alerts() if _identity(a.get("labels") or {}, ignore) not in live]
        if not stale:
            return []
        now = dt.datetime.now(dt.UTC).isoformat()
        body = [{"labels": a["labels"], "annotations": a.get("annotations") or {},
                 "startsAt": a.get("startsAt"), "endsAt": now} for a in stale]
        self.session.post(f"{self.url}/api/v2/alerts", json=body, timeout=self.timeout).raise_for_status()
        return sorted({str(a["labels"].get("alertname", "?")) for a in stale})
