"""A small Prometheus HTTP API client (instant and range queries, rules, alerts, targets).

Kept to ``requests`` so the session can be injected in tests (why not ``prometheus-api-client``: the
README, "PromQL and the Prometheus HTTP API"); values come back as floats, with NaN
and +/-Inf preserved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import requests

from harness.core.errors import HarnessError


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float
    t: float  # Unix seconds


def _num(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


class PrometheusClient:
    def __init__(self, url: str, session: requests.Session | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = self.session.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HarnessError(f"Prometheus at {self.url} is unreachable: {exc}",
                               hint="is the stack up? `harness status`") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise HarnessError(f"Prometheus {path} answered {resp.status_code} with non-JSON: "
                               f"{resp.text[:200]}") from exc
        if body.get("status") != "success":
            raise HarnessError(f"Prometheus {path} failed: {body.get('errorType')}: {body.get('error')}",
                               detail=f"params: {params}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        if data["resultType"] == "scalar":
            t, v = data["result"]
            return [Sample({}, _num(v), float(t))]
        if data["resultType"] != "vector":
            raise HarnessError(f"expected an instant vector from {expr!r}, got {data['resultType']}")
        return [Sample(r["metric"], _num(r["value"][1]), float(r["value"][0])) for r in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[tuple[dict[str, str],
                                                                                         list[tuple[float, float]]]]:
        data = self._get("/api/v1/query_range",
                         {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.3f}"})
        return [(r["metric"], [(float(t), _num(v)) for t, v in r["values"]]) for r in data["result"]]

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/alerts")["alerts"])

    def rules(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/rules")["groups"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["activeTargets"])

    def delete_all_series(self) -> None:
        """Forget every stored sample (TSDB admin API; the stack starts Prometheus with it enabled)."""
        for path, params in (("/api/v1/admin/tsdb/delete_series", {"match[]": '{__name__=~".+"}'}),
                             ("/api/v1/admin/tsdb/clean_tombstones", None)):
            try:
                resp = self.session.post(f"{self.url}{path}", params=params, timeout=self.timeout)
            except requests.RequestException as exc:
                raise HarnessError(f"Prometheus at {self.url} is unreachable: {exc}") from exc
            if resp.status_code not in (200, 204):
                raise HarnessError(f"Prometheus refused {path}: {resp.status_code} {resp.text[:200]}",
                                   hint="a scenario with fresh_history needs --web.enable-admin-api")

    def series_exists(self, metric: str) -> bool:
        return bool(self._get("/api/v1/series", {"match[]": metric}))
