"""Run every Grafana panel's query against Prometheus and list the panels that would be blank.

Grafana may not run here, but its panels are only PromQL: a metric renamed by an exporter upgrade or
a query written against a metric nobody exports shows up as "no data" during the run, where a
dashboard would otherwise stay silently empty until the incident that needed it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from harness.config import STACK_DIR
from harness.core.errors import HarnessError, ValidationError
from harness.report.model import PANEL_ERROR, PANEL_NO_DATA, PANEL_OK, PanelCheck

__all__ = ["DASHBOARDS_DIR", "PanelCheck", "check_dashboards", "dashboard_targets", "default_dashboards"]

DASHBOARDS_DIR = STACK_DIR / "grafana" / "dashboards"

# Grafana's built-in interval variables, replaced by a fixed window so the query is valid PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "5m"}
_VARIABLE = re.compile(r"\$\{?\w+\}?")


class PromQuerier(Protocol):
    """What check_dashboards needs of harness.observe.prometheus.PrometheusClient."""

    def query(self, expr: str, at: float | None = None) -> Sequence[Any]: ...

    def query_range(self, expr: str, start: float, end: float, step: float) -> Sequence[Any]: ...


def default_dashboards() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def _panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    for p in panels:
        if not isinstance(p, dict):
            continue
        yield p
        # Collapsed rows keep their panels nested.
        yield from _panels(p.get("panels") or [])


def dashboard_targets(path: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """(dashboard title, [(panel title, refId, expr)]) for every Prometheus target in a dashboard file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read dashboard {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(str(path), exc.lineno, "(json)", exc.msg,
                              hint="export the dashboard again from Grafana, or fix the JSON by hand") from exc
    # Provisioning accepts both a bare dashboard and the API's {"dashboard": {...}} envelope.
    dash = raw.get("dashboard", raw) if isinstance(raw, dict) else {}
    if not isinstance(dash, dict) or not isinstance(dash.get("panels"), list):
        raise ValidationError(str(path), None, "panels", "missing or not a list",
                              hint="a Grafana dashboard JSON has a top-level \"panels\" list")
    out: list[tuple[str, str, str]] = []
    for panel in _panels(dash["panels"]):
        for i, target in enumerate(panel.get("targets") or []):
            if isinstance(target, dict) and str(target.get("expr") or "").strip():
                out.append((str(panel.get("title") or f"panel {panel.get('id')}"),
                            str(target.get("refId") or chr(ord("A") + i)), str(target["expr"])))
    return str(dash.get("title") or path.stem), out


def _expand(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def _has_value(result: Sequence[Any]) -> tuple[int, bool]:
    """(series count, whether any value is a number) for query or query_range results."""
    series, finite = 0, False
    for item in result:
        series += 1
        if isinstance(item, tuple):          # query_range: (labels, [(t, v), ...])
            finite = finite or any(math.isfinite(v) for _, v in item[1])
        else:                                 # query: Sample
            value = getattr(item, "value", math.nan)
            finite = finite or math.isfinite(value)
    return series, finite


def check_dashboards(paths: Sequence[Path], prom: PromQuerier, *, window: tuple[float, float] | None = None,
                     step: float = 5.0) -> list[PanelCheck]:
    """Query every panel target; with ``window`` (Unix seconds) a range query over it, else an instant query.

    A panel has data when at least one series holds at least one finite value (NaN-only is what a ratio
    of two zero rates gives, and Grafana draws it as nothing).
    """
    checks: list[PanelCheck] = []
    for path in paths:
        try:
            title, targets = dashboard_targets(Path(path))
        except HarnessError as exc:
            checks.append(PanelCheck(Path(path).stem, "(dashboard)", "", "", PANEL_ERROR, detail=str(exc),
                                     file=str(path)))
            continue
        for panel, ref, expr in targets:
            query = _expand(expr)
            leftover = _VARIABLE.search(query)
            if leftover:
                checks.append(PanelCheck(title, panel, ref, expr, PANEL_ERROR, file=str(path),
                                         detail=f"uses dashboard variable {leftover.group(0)}; give it a value"))
                continue
            try:
                result = (prom.query_range(query, window[0], window[1], step) if window is not None
                          else prom.query(query))
            except HarnessError as exc:
                checks.append(PanelCheck(title, panel, ref, expr, PANEL_ERROR, detail=exc.what, file=str(path)))
                continue
            series, finite = _has_value(result)
            if finite:
                checks.append(PanelCheck(title, panel, ref, expr, PANEL_OK, series=series, file=str(path)))
            else:
                why = "no series matched" if series == 0 else f"{series} series, every value NaN"
                checks.append(PanelCheck(title, panel, ref, expr, PANEL_NO_DATA, series=series, detail=why,
                                         file=str(path)))
    return checks
