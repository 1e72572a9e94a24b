"""index.html: one self-contained page (styles, data and plotly.js inline) that opens without a network.

Each scenario's figure is embedded as JSON in a ``<script type="application/json">`` block and drawn on
load, so the page stays readable as HTML and a figure that fails to draw cannot break the others.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.core.result import ERROR, FAIL, PASS, UNSUPPORTED, ScenarioResult, Verdict
from harness.report.figure import build_figure, prod_time
from harness.report.mode_matrix import CSS as MATRIX_CSS
from harness.report.mode_matrix import render_mode_matrix
from harness.report.model import RuleCoverage, RunReport
from harness.report.mutation import mutation_section
from harness.report.series import Series
from harness.report.summary import iso

# Columns shown first in the SLO table when a row has them; other keys follow in first-seen order.
SLO_FIRST = ("slo", "name", "objective", "target", "window", "ground_truth", "truth", "prometheus", "difference",
             "diff", "budget_consumed", "budget", "burn_rates", "burn_rate", "tier", "policy_tier", "status")
FINDING_FIRST = ("scenario", "expectation", "happened", "what_happened", "observed", "likely_cause", "cause")


def plotly_js() -> str:
    """The installed plotly package's own plotly.min.js; located without importing plotly (slow import)."""
    spec = importlib.util.find_spec("plotly")
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base) / "package_data" / "plotly.min.js"
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("plotly.min.js not found in the installed plotly package")


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def anchor(name: str, i: int) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return f"s{i}-{safe[:60]}"


def fmt(value: Any) -> str:
    """Human formatting for table cells: 4 significant digits, dicts as key: value, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return f"{value:.4g}"
    if isinstance(value, dict):
        return " · ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def pill(status: str) -> str:
    cls = {PASS: "ok", FAIL: "bad", ERROR: "bad", UNSUPPORTED: "muted", "passed": "ok", "failed": "bad",
           "interrupted": "warn", "ok": "ok", "no data": "bad", "error": "bad"}.get(status, "muted")
    return f'<span class="pill {cls}">{e(status)}</span>'


def _json_script(element_id: str, data: Any) -> str:
    # "</" inside a script element would end it early; JSON allows the escaped form.
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _ordered_keys(rows: Sequence[dict[str, Any]], first: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(k for r in rows for k in r))
    return [k for k in first if k in seen] + [k for k in seen if k not in first]


def _latency_cell(v: Verdict) -> str:
    if v.latency is None:
        return "—"
    text = f"{v.latency:.1f}s"
    if v.min_latency is not None:
        over = v.latency - v.min_latency
        text += f' <span class="sub">min {v.min_latency:.1f}s · +{over:.1f}s</span>'
    return text


def _window_cell(v: Verdict, s: ScenarioResult) -> str:
    if not v.window:
        return "—"
    a, b = v.window
    return f"{a - s.started:+.1f}s … {b - s.started:+.1f}s"


def _evidence(v: Verdict) -> str:
    parts = []
    for key, value in v.evidence.items():
        body = value if isinstance(value, str) else json.dumps(value, indent=2, default=str, allow_nan=True)
        if len(body) > 6000:
            body = body[:6000] + "\n… (truncated)"
        parts.append(f"<dt>{e(key)}</dt><dd><pre>{e(body)}</pre></dd>")
    if not parts:
        return '<p class="muted">no evidence recorded</p>'
    return '<dl class="evidence">' + "".join(parts) + "</dl>"


def _assertions(s: ScenarioResult) -> str:
    if not s.verdicts:
        return '<p class="muted">No expectations were evaluated.</p>'
    rows = [(pill(v.status), e(v.check), f"<code>{e(v.subject)}</code>", e(v.expected), e(v.observed),
             _window_cell(v, s), _latency_cell(v)) for v in s.verdicts]
    table = _table(("", "check", "subject", "expected", "observed", "window", "detection latency"), rows,
                   "assertions")
    bad = [v for v in s.verdicts if v.status in (FAIL, ERROR)]
    evidence = "".join(
        f'<details class="ev" open><summary>{pill(v.status)} <b>{e(v.check)}</b> <code>{e(v.subject)}</code>'
        f' — evidence</summary>{_evidence(v)}</details>' for v in bad)
    if bad:
        evidence = f"<h4>Evidence for failed expectations</h4>{evidence}"
    return table + evidence


def _slo(s: ScenarioResult) -> str:
    if not s.slo:
        return ""
    rows = [r for r in s.slo if isinstance(r, dict)]
    keys = _ordered_keys(rows, SLO_FIRST)
    body = [[pill(str(r[k])) if k == "status" else e(fmt(r.get(k))) for k in keys] for r in rows]
    return "<h4>SLOs: ground truth beside Prometheus</h4>" + _table([e(k.replace("_", " ")) for k in keys], body,
                                                                     "slo")


def _scenario_section(i: int, s: ScenarioResult, figure: dict[str, Any], records_note: str,
                      series: Series | None) -> str:
    status = "passed" if s.passed else "failed"
    n_fail = sum(1 for v in s.verdicts if v.status in (FAIL, ERROR))
    stats = [f"{max(s.ended - s.started, 0):.0f}s run (≈{prod_time(s.ended - s.started, s.time_scale)} production)",
             f"{len(s.verdicts)} expectations, {n_fail} failed"]
    if series is not None and series.total:
        stats.append(f"{series.total:,} requests, {series.errors:,} errors "
                     f"({100.0 * series.errors / series.total:.2f}%)")
    err = f'<div class="callout bad"><b>The run of this scenario failed:</b><pre>{e(s.error)}</pre></div>' \
        if s.error else ""
    note = f'<p class="muted small">{e(records_note)}</p>' if records_note else ""
    err += "".join(f'<div class="callout warn">{e(n)}</div>' for n in s.notes)
    chart_id = f"chart-{i}"
    return (f'<section class="card scenario" id="{anchor(s.name, i)}">'
            f'<div class="head"><h2>{e(s.name)}</h2>{pill(status)}</div>'
            f'<p class="meta"><code>{e(s.file)}</code> · {" · ".join(e(x) for x in stats)}</p>{err}'
            f'<div class="chart" id="{chart_id}" data-figure="fig-{i}"></div>{note}'
            f'{_json_script(f"fig-{i}", figure)}'
            f"<h4>Expectations</h4>{_assertions(s)}{_slo(s)}</section>")


def _chips(names: Sequence[str], cls: str) -> str:
    if not names:
        return '<span class="muted">none</span>'
    return "".join(f'<span class="chip {cls}">{e(n)}</span>' for n in names)


def _coverage(cov: RuleCoverage | None, rule_alerts: Sequence[str]) -> str:
    if cov is None:
        return ""
    total = len(rule_alerts) or (len(cov.firing) + len(cov.missed) + len(cov.silent) + len(cov.never))
    exercised = len(cov.firing) + len(cov.missed) + len(cov.silent)
    pct = f" ({exercised} of {total} alerts exercised)" if total else ""
    routes = _table(("receiver", "alert"), [(e(r), f"<code>{e(a)}</code>") for r, a in cov.routes], "compact") \
        if cov.routes else '<p class="muted">no notification was delivered</p>'
    unknown = f'<div class="cov"><h4>Fired, not in the pack</h4>{_chips(cov.unknown_fired, "muted")}</div>' \
        if cov.unknown_fired else ""
    return (f'<section class="card" id="coverage"><h2>Coverage{e(pct)}</h2><div class="grid4">'
            f'<div class="cov"><h4>Exercised, fired ({len(cov.firing)})</h4>{_chips(cov.firing, "fire")}'
            f'<p class="muted small">also proven silent by a near miss: {len(cov.both_ways)} of '
            f'{len(cov.firing)}</p>{_chips(cov.both_ways, "quiet")}</div>'
            f'<div class="cov"><h4>Expected to fire, never did ({len(cov.missed)})</h4>'
            f'{_chips(cov.missed, "missed")}</div>'
            f'<div class="cov"><h4>Exercised, stayed silent ({len(cov.silent)})</h4>{_chips(cov.silent, "quiet")}</div>'
            f'<div class="cov"><h4>Never exercised ({len(cov.never)})</h4>{_chips(cov.never, "never")}</div>'
            f'{unknown}</div><div class="grid2">'
            f'<div><h4>Receivers reached</h4>{_chips(cov.receivers_reached, "quiet")}'
            f'<h4>Receivers never reached</h4>{_chips(cov.receivers_unreached, "never")}</div>'
            f'<div><h4>Routes taken (receiver ← alert)</h4>{routes}</div></div></section>')


def _findings(findings: Sequence[dict[str, Any]]) -> str:
    if not findings:
        return ""
    rows = [f for f in findings if isinstance(f, dict)]
    keys = _ordered_keys(rows, FINDING_FIRST)
    body = [[e(fmt(r.get(k))) for k in keys] for r in rows]
    return (f'<section class="card" id="findings"><h2>Audit findings ({len(rows)})</h2>'
            + _table([e(k.replace("_", " ")) for k in keys], body, "findings") + "</section>")


def _dashboards(run: RunReport) -> str:
    if not run.dashboards:
        return ""
    broken = [p for p in run.dashboards if not p.ok]
    rows = [(pill(p.status), e(p.dashboard), e(p.panel), e(p.ref_id), f"<code>{e(p.expr)}</code>", str(p.series),
             e(p.detail)) for p in sorted(run.dashboards, key=lambda p: (p.ok, p.dashboard))]
    head = (f'<div class="callout bad"><b>{len(broken)} of {len(run.dashboards)} dashboard queries returned no data'
            f"</b> — these panels would be blank in Grafana.</div>" if broken else
            f'<div class="callout ok">All {len(run.dashboards)} dashboard queries returned data.</div>')
    return (f'<section class="card" id="dashboards"><h2>Dashboard panels</h2>{head}'
            + _table(("", "dashboard", "panel", "ref", "query", "series", "detail"), rows, "dash") + "</section>")


def _index(run: RunReport) -> str:
    if not run.scenarios:
        return '<p class="muted">No scenario results were recorded.</p>'
    rows = []
    for i, s in enumerate(run.scenarios):
        n_fail = sum(1 for v in s.verdicts if v.status in (FAIL, ERROR))
        rows.append((pill("passed" if s.passed else "failed"), f'<a href="#{anchor(s.name, i)}">{e(s.name)}</a>',
                     f"{len(s.verdicts) - n_fail}/{len(s.verdicts)}", f"{max(s.ended - s.started, 0):.0f}s",
                     e(s.error.splitlines()[0] if s.error else "; ".join(
                         f"{v.check} {v.subject}" for v in s.verdicts if v.status in (FAIL, ERROR))[:160])))
    return _table(("", "scenario", "expectations met", "duration", "problem"), rows, "index")


def render_page(run: RunReport, coverage: RuleCoverage | None, scenario_parts: Sequence[tuple[Series | None, str]],
                files: Sequence[tuple[str, str]], js: str) -> str:
    """``scenario_parts``: per scenario, its ground-truth series (or None) and a note on its records.
    ``files``: (label, relative path) links to the report's other files."""
    if run.interrupted:
        overall = "interrupted"
    elif not run.ok:
        overall = "failed"
    else:
        overall = "passed"
    sections = []
    for i, s in enumerate(run.scenarios):
        series, note = scenario_parts[i] if i < len(scenario_parts) else (None, "")
        lanes_extra = [v.subject for v in s.verdicts if v.check in ("fires", "resolves", "silent")
                       and v.subject and v.subject != "*"]
        figure = build_figure(s, run.events, series, lanes_extra=lanes_extra, note=note)
        sections.append(_scenario_section(i, s, figure, note, series))
    duration = ""
    if run.ended_wall is not None:
        duration = f" · {run.ended_wall - run.started_wall:.0f}s"
    run_err = f'<div class="callout bad"><b>The run did not complete:</b><pre>{e(run.error)}</pre></div>' \
        if run.error else ""
    if run.interrupted and not run.error:
        run_err = '<div class="callout warn"><b>The run was interrupted;</b> this report shows what was ' \
                  "recorded until then.</div>"
    n_verdicts = sum(len(s.verdicts) for s in run.scenarios)
    n_failed_verdicts = sum(1 for s in run.scenarios for v in s.verdicts if v.status in (FAIL, ERROR))
    tiles = [("scenarios", str(len(run.scenarios)), ""), ("passed", str(run.passed), "ok"),
             ("failed", str(run.failed), "bad" if run.failed else ""),
             ("expectations failed", f"{n_failed_verdicts}/{n_verdicts}", "bad" if n_failed_verdicts else "")]
    if coverage is not None:
        exercised = len(coverage.firing) + len(coverage.missed) + len(coverage.silent)
        tiles.append(("alerts exercised", f"{exercised}/{exercised + len(coverage.never)}",
                      "warn" if coverage.never else ""))
        tiles.append(("expected alerts never fired", str(len(coverage.missed)), "bad" if coverage.missed else ""))
    if run.dashboards:
        blank = sum(1 for p in run.dashboards if not p.ok)
        tiles.append(("panels without data", str(blank), "bad" if blank else ""))
    tile_html = "".join(f'<div class="tile {c}"><div class="n">{n}</div><div class="l">{e(label)}</div></div>'
                        for label, n, c in tiles)
    file_links = " · ".join(f'<a href="{e(rel)}">{e(label)}</a>' for label, rel in files)
    notes = "".join(f"<li>{e(n)}</li>" for n in run.notes)
    notes_html = f'<section class="card"><h2>Report notes</h2><ul>{notes}</ul></section>' if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(run.kind)} {e(run.run_id)} — {e(overall)}</title>
<link rel="icon" href="data:,">
<style>{CSS}{MATRIX_CSS if run.failure_modes is not None else ""}</style>
<script>{js}</script>
</head><body>
<header><div class="wrap"><div class="title"><h1>Alert verification · {e(run.kind)}</h1>{pill(overall)}</div>
<p class="meta">run <code>{e(run.run_id)}</code> · started {e(iso(run.started_wall))}{e(duration)} ·
time scale &times;{run.time_scale:g} (1 s here ≈ {e(prod_time(1.0, run.time_scale))} of production time)</p>
</div></header>
<main class="wrap">
{run_err}
<section class="card"><h2>Summary</h2><div class="tiles">{tile_html}</div>{_index(run)}
<p class="files">{file_links}</p></section>
{mutation_section(run.mutation)}
{_findings(run.findings)}
{render_mode_matrix(run.failure_modes)}
{_coverage(coverage, run.rule_alerts)}
{_dashboards(run)}
{"".join(sections)}
{notes_html}
</main>
<script>{DRAW_JS}</script>
</body></html>
"""


DRAW_JS = """
(function () {
  var charts = document.querySelectorAll('div.chart[data-figure]');
  charts.forEach(function (el) {
    var fig;
    try { fig = JSON.parse(document.getElementById(el.dataset.figure).textContent); }
    catch (err) { el.textContent = 'figure data unreadable: ' + err; return; }
    Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false,
      modeBarButtonsToRemove: ['select2d', 'lasso2d'], toImageButtonOptions: {scale: 2}})
      .then(function () { el.dataset.drawn = '1'; });
  });
})();
"""

CSS = """
:root { --ok:#2b8a3e; --ok-bg:#ebfbee; --bad:#c92a2a; --bad-bg:#fff5f5; --warn:#e67700; --warn-bg:#fff9db;
  --muted:#868e96; --line:#e9ecef; --ink:#212529; --bg:#f4f6f8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.wrap { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { background:#1f2933; color:#f1f3f5; padding: 18px 0 14px; margin-bottom: 20px; }
header h1 { font-size: 20px; margin: 0; font-weight: 600; }
header .meta { color:#ced4da; margin: 6px 0 0; }
header code { color:#fff; background: rgba(255,255,255,.08); }
.title { display:flex; align-items:center; gap:12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin-bottom:18px;
  box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.card h2 { font-size: 17px; margin: 0 0 12px; font-weight: 600; }
h4 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color:#495057; margin: 18px 0 8px; }
.head { display:flex; align-items:center; gap:10px; }
.head h2 { margin:0; }
.meta { color:#495057; margin: 6px 0 10px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
code { background:#f1f3f5; padding: 1px 5px; border-radius:4px; }
pre { background:#f8f9fa; border:1px solid var(--line); border-radius:6px; padding:10px; overflow:auto;
  max-height: 320px; margin: 4px 0; white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th { text-align:left; font-weight:600; font-size:12px; color:#495057; background:#f8f9fa;
  border-bottom:1px solid #dee2e6; padding:7px 10px; white-space: nowrap; }
td { border-bottom:1px solid var(--line); padding:7px 10px; vertical-align: top; }
tbody tr:hover td { background:#fafbfc; }
table.compact td, table.compact th { padding: 4px 8px; }
.sub { display:block; color:var(--muted); font-size:12px; }
.pill { display:inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight:600;
  text-transform: uppercase; letter-spacing:.03em; white-space: nowrap; }
.pill.ok { background:var(--ok-bg); color:var(--ok); border:1px solid #b2f2bb; }
.pill.bad { background:var(--bad-bg); color:var(--bad); border:1px solid #ffc9c9; }
.pill.warn { background:var(--warn-bg); color:var(--warn); border:1px solid #ffe066; }
.pill.muted { background:#f1f3f5; color:#495057; border:1px solid #dee2e6; }
.tiles { display:flex; flex-wrap: wrap; gap: 12px; margin-bottom: 14px; }
.tile { flex: 1 1 140px; border:1px solid var(--line); border-radius: 8px; padding: 10px 14px; background:#fcfcfd; }
.tile .n { font-size: 24px; font-weight: 650; }
.tile .l { color:#495057; font-size: 12px; }
.tile.ok .n { color: var(--ok); } .tile.bad .n { color: var(--bad); } .tile.warn .n { color: var(--warn); }
.callout { border-radius: 8px; padding: 10px 14px; margin: 8px 0 14px; border:1px solid; }
.callout.bad { background:var(--bad-bg); border-color:#ffc9c9; }
.callout.warn { background:var(--warn-bg); border-color:#ffe066; }
.callout.ok { background:var(--ok-bg); border-color:#b2f2bb; }
.chart { width: 100%; min-height: 200px; margin: 8px 0; }
.chip { display:inline-block; margin: 0 6px 6px 0; padding: 2px 9px; border-radius: 6px; font-size: 12.5px;
  font-family: ui-monospace, Menlo, Consolas, monospace; border: 1px solid; }
.chip.fire { background:#fff5f5; border-color:#ffc9c9; color:#a51d1d; }
.chip.quiet { background:#ebfbee; border-color:#b2f2bb; color:#22692f; }
.chip.missed { background:#fff5f5; border-color:#c92a2a; color:#c92a2a; font-weight:600; }
.chip.never { background:#f8f9fa; border-color:#dee2e6; color:#495057; }
.chip.muted { background:#f8f9fa; border-color:#dee2e6; color:#868e96; }
.grid4 { display:grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 18px; margin-bottom: 8px; }
.grid2 { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px; }
.grid4 h4, .grid2 h4 { margin-top: 4px; }
details.ev { border:1px solid #ffc9c9; border-radius: 8px; padding: 8px 12px; margin: 8px 0; background:#fffafa; }
details.ev summary { cursor: pointer; }
dl.evidence dt { font-weight: 600; margin-top: 8px; color:#495057; }
dl.evidence dd { margin: 0; }
.muted { color: var(--muted); } .small { font-size: 12px; }
.files { margin: 10px 0 0; color:#495057; }
a { color:#1c7ed6; text-decoration: none; } a:hover { text-decoration: underline; }
@media (max-width: 900px) { .grid4, .grid2 { grid-template-columns: 1fr; } }
"""
