"""One scenario's timeline as a plotly figure (plain dicts: the page renders them with plotly.js).

Four stacked panels share one x axis, in seconds since the scenario started, so zooming a span zooms
all of them: requests/s, error ratio and p95/p99 latency from ground truth, then "lanes" with each
fault, each alert's pending and firing bands and each receiver's notifications. Fault windows are
also shaded across every panel, which is what a reader looks for first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.result import ScenarioResult
from harness.core.timeline import ALERT_STATE, FAULT_END, FAULT_START, NOTIFICATION, Event
from harness.report.series import Series

COLORS = {
    "rps": "#2f6fdf", "error": "#d9480f", "p95": "#7048e8", "p99": "#c2255c",
    "pending": "#f59f00", "firing": "#e03131", "fault": "#495057", "notification": "#0ca678",
    "fault_shade": "rgba(73, 80, 87, 0.10)",
}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class Band:
    lane: str
    start: float            # run clock
    end: float
    state: str              # "pending" | "firing" | "fault"
    text: str               # hover detail
    open_end: bool = False  # still active when the scenario ended


def _num(values: Any) -> list[float | None]:
    return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]


def prod_time(seconds: float, scale: float) -> str:
    """Production-time equivalent of run seconds at this time scale (rules were written for it)."""
    total = max(seconds * scale, 0.0)
    if total < 120:
        return f"{total:.0f}s"
    if total < 7200:
        return f"{int(total // 60)}m{int(total % 60):02d}s"
    return f"{int(total // 3600)}h{int((total % 3600) // 60):02d}m"


def fault_bands(s: ScenarioResult, events: Sequence[Event]) -> list[Band]:
    """Fault windows from FAULT_START/FAULT_END events; the scenario's own list when none were recorded."""
    bands: list[Band] = []
    open_: dict[str, Event] = {}
    # What each fault achieved: the run's result (with ground truth) first, else what its end event says.
    achieved = {str(f.get("id")): f["achieved"] for f in s.faults if f.get("achieved")}
    for e in sorted(events, key=lambda e: e.t):
        if not (s.started <= e.t <= s.ended):
            continue
        if e.kind == FAULT_START:
            open_[e.name] = e
        elif e.kind == FAULT_END and e.name in open_:
            st = open_.pop(e.name)
            level = achieved.get(e.name) or e.data.get("achieved")
            bands.append(Band(e.name, st.t, e.t, "fault", _fault_text({**st.data, "achieved": level})))
    for name, st in open_.items():
        bands.append(Band(name, st.t, s.ended, "fault", _fault_text(st.data), open_end=True))
    if bands:
        return bands
    for f in s.faults:
        try:
            start = float(f["start"])
            end = float(f["end"]) if f.get("end") is not None else s.ended
        except (KeyError, TypeError, ValueError):
            continue
        bands.append(Band(str(f.get("id") or f.get("kind") or "fault"), start, end, "fault", _fault_text(f),
                          open_end=f.get("end") is None))
    return bands


def _fault_text(data: dict[str, Any]) -> str:
    parts = [str(data.get("kind") or "")]
    if data.get("target"):
        parts.append(f"on {data['target']}")
    params = data.get("params")
    if params:
        parts.append(json.dumps(params, default=str, sort_keys=True)[:160])
    if data.get("achieved"):
        parts.append("achieved " + json.dumps(data["achieved"], default=str, sort_keys=True)[:240])
    return " ".join(p for p in parts if p)


def alert_bands(s: ScenarioResult, events: Sequence[Event]) -> list[Band]:
    """Pending and firing intervals per alert series, clipped to the scenario window.

    Events before the window count, so an alert already firing when the scenario began shows from its start.
    """
    bands: list[Band] = []
    state: dict[tuple[str, str], tuple[str, float, dict[str, Any]]] = {}

    def close(key: tuple[str, str], at: float, open_end: bool = False) -> None:
        prev, since, labels = state[key]
        lo, hi = max(since, s.started), min(at, s.ended)
        if prev in ("pending", "firing") and hi > lo:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
            bands.append(Band(key[0], lo, hi, prev, shown, open_end=open_end))

    for e in sorted((e for e in events if e.kind == ALERT_STATE), key=lambda e: e.t):
        if e.t > s.ended:
            break
        labels: dict[str, Any] = e.data["labels"] if isinstance(e.data.get("labels"), dict) else {}
        key = (e.name, json.dumps(labels, sort_keys=True, default=str))
        new = str(e.data.get("state") or "inactive")
        if key in state:
            if state[key][0] == new:
                continue
            close(key, e.t)
        state[key] = (new, e.t, labels)
    for key, (st, _, _) in state.items():
        if st in ("pending", "firing"):
            close(key, s.ended, open_end=True)
    return bands


def notifications(s: ScenarioResult, events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.kind == NOTIFICATION and s.started <= e.t <= s.ended]


def _notification_text(e: Event) -> str:
    alerts = e.data.get("alerts") or []
    names: list[str] = []
    for a in alerts:
        if isinstance(a, dict):
            labels = a["labels"] if isinstance(a.get("labels"), dict) else {}
            names.append(str(labels.get("alertname") or a.get("alertname") or a.get("name") or "?")
                         + (f" ({a['status']})" if a.get("status") else ""))
        else:
            names.append(str(a))
    head = " ".join(str(x) for x in (e.data.get("protocol"), e.data.get("status")) if x)
    return (head + ": " if head else "") + (", ".join(names[:8]) or "no alerts listed")


def build_figure(s: ScenarioResult, events: Sequence[Event], series: Series | None,
                 lanes_extra: Sequence[str] = (), note: str = "") -> dict[str, Any]:
    """``lanes_extra``: alert names to show even if they never changed state (an expected alert that never
    fired is the most important empty lane on the page)."""
    t0, scale = s.started, s.time_scale or 1.0
    rel = lambda t: round(t - t0, 3)  # noqa: E731 - tiny local conversion used many times
    traces: list[dict[str, Any]] = []

    if series is not None and len(series):
        x = [rel(t) for t in series.t]
        prod = [prod_time(t - t0, scale) for t in series.t]
        common = {"type": "scatter", "mode": "lines", "x": x, "xaxis": "x", "customdata": prod}
        traces.append({**common, "name": "requests/s", "y": _num(series.rps), "yaxis": "y",
                       "line": {"color": COLORS["rps"], "width": 1.6, "shape": "hv"},
                       "fill": "tozeroy", "fillcolor": "rgba(47, 111, 223, 0.12)",
                       "hovertemplate": "t=%{x:.0f}s (≈%{customdata} prod)<br>%{y:.0f} req/s<extra></extra>"})
        traces.append({**common, "name": "error ratio", "y": _num(series.error_ratio * 100.0), "yaxis": "y2",
                       "line": {"color": COLORS["error"], "width": 1.6, "shape": "hv"},
                       "connectgaps": False,
                       "hovertemplate": "t=%{x:.0f}s (≈%{customdata} prod)<br>errors %{y:.2f}%<extra></extra>"})
        for q in ("p95", "p99"):
            values = getattr(series, q) * 1000.0
            traces.append({**common, "name": f"{q} latency", "y": _num(values), "yaxis": "y3",
                           "line": {"color": COLORS[q], "width": 1.6, "dash": "solid" if q == "p95" else "dot"},
                           "hovertemplate": f"t=%{{x:.0f}}s (≈%{{customdata}} prod)<br>{q} %{{y:.1f}} ms"
                                            "<extra></extra>"})

    faults = fault_bands(s, events)
    alerts = alert_bands(s, events)
    notes_ = notifications(s, events)
    lanes: list[str] = []
    for b in faults:
        lanes.append(f"fault · {b.lane}")
    for name in [b.lane for b in alerts] + list(lanes_extra):
        lanes.append(f"alert · {name}")
    for e in notes_:
        lanes.append(f"receiver · {e.name}")
    lanes = list(dict.fromkeys(lanes))

    for state in ("fault", "pending", "firing"):
        chosen = [b for b in (faults if state == "fault" else alerts) if b.state == state]
        if not chosen:
            continue
        prefix = "fault · " if state == "fault" else "alert · "
        traces.append({
            "type": "bar", "orientation": "h", "name": state, "xaxis": "x", "yaxis": "y4",
            "y": [prefix + b.lane for b in chosen], "base": [rel(b.start) for b in chosen],
            "x": [round(b.end - b.start, 3) for b in chosen], "width": 0.6 if state == "fault" else 0.5,
            "marker": {"color": COLORS[state], "opacity": 0.85 if state != "fault" else 0.55},
            "customdata": [[b.text or "", "still active at end" if b.open_end else "",
                            prod_time(b.end - b.start, scale)] for b in chosen],
            "hovertemplate": f"<b>%{{y}}</b> {state}<br>%{{base:.1f}}s → +%{{x:.1f}}s (≈%{{customdata[2]}} prod)"
                             "<br>%{customdata[0]} %{customdata[1]}<extra></extra>",
        })
    if notes_:
        traces.append({
            "type": "scatter", "mode": "markers", "name": "notification", "xaxis": "x", "yaxis": "y4",
            "x": [rel(e.t) for e in notes_], "y": [f"receiver · {e.name}" for e in notes_],
            "marker": {"symbol": "diamond", "size": 11, "color": COLORS["notification"],
                       "line": {"color": "#ffffff", "width": 1}},
            "customdata": [_notification_text(e) for e in notes_],
            "hovertemplate": "<b>%{y}</b> at %{x:.1f}s<br>%{customdata}<extra></extra>",
        })

    span_end = max(s.ended - t0, 1.0)
    if series is not None and len(series):
        span_end = max(span_end, float(series.t[-1] - t0 + 1.0))
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": rel(b.start), "x1": rel(b.end),
               "y0": 0, "y1": 1, "fillcolor": COLORS["fault_shade"], "line": {"width": 0}, "layer": "below"}
              for b in faults]
    # Fault names sit inside the top panel's shading, clear of the legend above it.
    annotations: list[dict[str, Any]] = [
        {"xref": "x", "yref": "paper", "x": rel(b.start), "y": 1.0, "yanchor": "top", "xanchor": "left",
         "text": f"<b>{b.lane}</b>", "showarrow": False, "font": {"size": 11, "color": "#495057"},
         "bgcolor": "rgba(255,255,255,0.7)", "borderpad": 2} for b in faults]

    n_lanes = max(len(lanes), 1)
    metric_px, gap_px, lane_px = 120, 34, 26
    lanes_px = n_lanes * lane_px + 16
    plot_px = 3 * metric_px + 3 * gap_px + lanes_px
    margin = {"l": 190, "r": 24, "t": 64, "b": 44}  # room for the legend below plotly's mode bar
    height = plot_px + margin["t"] + margin["b"]

    def dom(bottom_px: float, size_px: float) -> list[float]:
        return [round(bottom_px / plot_px, 4), round(min((bottom_px + size_px) / plot_px, 1.0), 4)]

    y4 = dom(0, lanes_px)
    y3 = dom(lanes_px + gap_px, metric_px)
    y2 = dom(lanes_px + 2 * gap_px + metric_px, metric_px)
    y1 = dom(lanes_px + 3 * gap_px + 2 * metric_px, metric_px)
    axis: dict[str, Any] = {
        "gridcolor": "#eceff3", "zerolinecolor": "#dee2e6", "linecolor": "#ced4da", "tickfont": {"size": 11},
        "title": {"font": {"size": 12, "color": "#495057"}}}
    no_data = series is None or not len(series)
    layout: dict[str, Any] = {
        "height": height, "margin": margin, "barmode": "overlay", "hovermode": "closest",
        "font": {"family": FONT, "size": 12, "color": "#212529"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "y": 1.0 + 6 / plot_px, "yanchor": "bottom", "xanchor": "left",
                   "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0)"},
        "xaxis": {**axis, "anchor": "y4", "range": [0, span_end], "showspikes": True, "spikemode": "across",
                  "spikethickness": 1, "spikecolor": "#adb5bd", "spikedash": "dot",
                  "title": {"text": f"seconds since scenario start (time scale x{scale:g})",
                            "font": {"size": 12, "color": "#495057"}}},
        "yaxis": {**axis, "domain": y1, "rangemode": "tozero", "title": {**axis["title"], "text": "req/s"}},
        "yaxis2": {**axis, "domain": y2, "rangemode": "tozero", "title": {**axis["title"], "text": "errors %"}},
        "yaxis3": {**axis, "domain": y3, "rangemode": "tozero", "title": {**axis["title"], "text": "latency ms"}},
        "yaxis4": {**axis, "domain": y4, "type": "category", "categoryorder": "array", "categoryarray": lanes,
                   "autorange": "reversed", "showgrid": True, "fixedrange": True, "automargin": True,
                   "range": [n_lanes - 0.5, -0.5] if lanes else None},
        "shapes": shapes,
        "annotations": annotations,
    }
    if no_data:
        msg = note or "no request records for this scenario"
        for y in ("y", "y2", "y3"):
            layout["annotations"].append({"xref": "paper", "yref": f"{y} domain", "x": 0.5, "y": 0.5,
                                          "text": msg, "showarrow": False,
                                          "font": {"size": 12, "color": "#868e96"}})
        # An empty axis still needs a range to draw its frame.
        for key in ("yaxis", "yaxis2", "yaxis3"):
            layout[key]["range"] = [0, 1]
            layout[key]["showticklabels"] = False
    if not lanes:
        layout["annotations"].append({"xref": "paper", "yref": "y4 domain", "x": 0.5, "y": 0.5,
                                      "text": "no faults, alert changes or notifications recorded",
                                      "showarrow": False, "font": {"size": 12, "color": "#868e96"}})
        layout["yaxis4"]["showticklabels"] = False
        layout["yaxis4"].pop("range")
    else:
        # Bars need a dummy trace on the lane axis to pin category order even when a lane has no bars.
        traces.append({"type": "scatter", "mode": "markers", "x": [None] * len(lanes), "y": lanes,
                       "xaxis": "x", "yaxis": "y4", "showlegend": False, "hoverinfo": "skip",
                       "marker": {"opacity": 0}})
    if layout["yaxis4"].get("range") is None:
        layout["yaxis4"].pop("range", None)
    return {"data": traces, "layout": layout}

