"""The failure-mode matrix as a picture, for index.html: one row per failure mode, one column per alert, each
cell coloured by the severity the alert fired at and labelled with how fast it fired; then who was notified
and whether (and how fast) someone was paged. Headlines and criteria violations above it."""

from __future__ import annotations

import html
from collections.abc import Sequence

from harness.core.durations import format_whole
from harness.core.matrix import Matrix, ModeRow

SEVERITY_CLASS = {"critical": "crit", "page": "crit", "error": "crit", "warning": "warn", "warn": "warn"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _chips(names: Sequence[str], cls: str) -> str:
    if not names:
        return '<span class="muted">none</span>'
    return "".join(f'<span class="chip {cls}">{_e(n)}</span>' for n in names)


def _cell(row: ModeRow, alert: str) -> str:
    f = row.firing(alert)
    if f is None:
        if alert in row.noise:
            return '<td class="mm-noise" title="already firing before the fault began">·</td>'
        return '<td class="mm-none"></td>'
    cls = SEVERITY_CLASS.get(f.severities[-1] if f.severities else "", "other")
    title = (f"{alert} fired {format_whole(f.after_s)} after "
             + ("the mode began" if row.baseline else "the fault began")
             + (f", severity {', '.join(f.severities)}" if f.severities else "")
             + ("" if f.judged else "; only on windows too sparse to resolve its threshold at this time scale"))
    cls += "" if f.judged else " mm-sparse"
    return f'<td class="mm-{cls}" title="{_e(title)}">{format_whole(f.after_s)}{"" if f.judged else "?"}</td>'


def _paged(row: ModeRow) -> str:
    if not row.ran:
        return '<td class="mm-paged"><span class="pill muted">not run</span></td>'
    if row.paged and row.time_to_page_s is not None:
        cls = "bad" if row.baseline else "ok"
        return f'<td class="mm-paged"><span class="pill {cls}">{format_whole(row.time_to_page_s)}</span></td>'
    return f'<td class="mm-paged"><span class="pill {"ok" if row.baseline else "bad"}">nobody</span></td>'


def _row(row: ModeRow, alerts: Sequence[str]) -> str:
    sub = "healthy baseline" if row.baseline else "; ".join(row.faults)
    err = f'<span class="sub bad-text">{_e(row.error.splitlines()[0])}</span>' if row.error else ""
    head = (f'<th class="mm-mode" title="{_e(row.description)}">{_e(row.name)}'
            f'<span class="sub">{_e(sub)} · &times;{row.time_scale:g}</span>{err}</th>')
    notified = _e(", ".join(row.receivers)) or '<span class="muted">nobody</span>'
    if row.refused:
        notified += f'<span class="sub bad-text">refused: {_e(", ".join(row.refused))}</span>'
    cells = "".join(_cell(row, a) for a in alerts)
    return f'<tr>{head}{cells}<td class="mm-notified">{notified}</td>{_paged(row)}</tr>'


def render_mode_matrix(matrix: Matrix | None) -> str:
    if matrix is None:
        return ""
    alerts = [a.name for a in matrix.alerts]
    h = matrix.headlines
    if matrix.violations:
        items = "".join(f"<li><b>{_e(v.mode)}</b> must {_e(v.requirement)}: {_e(v.observed)} "
                        f'<span class="muted">({_e(v.file)}:{_e(v.line)})</span></li>' for v in matrix.violations)
        verdict = (f'<div class="callout bad"><b>{len(matrix.violations)} failure mode(s) did not reach whom '
                   f"the criteria say they must</b><ul>{items}</ul></div>")
    elif matrix.criteria_file:
        verdict = (f'<div class="callout ok">Every failure mode in <code>{_e(matrix.criteria_file)}</code> that '
                   "ran reached whom it must.</div>")
    else:
        verdict = ""
    if matrix.unjudged:
        verdict += (f'<p class="muted small">Criteria on modes this run left out, not judged: '
                    f'{_e(", ".join(matrix.unjudged))}</p>')
    healthy = _chips(h.fire_on_healthy, "fire")
    if h.fire_on_healthy_unjudged:
        healthy += ('<p class="muted small">only on windows too sparse to judge at the baseline\'s time scale:</p>'
                    + _chips(h.fire_on_healthy_unjudged, "muted"))
    heads = (f'<div class="grid4">'
             f'<div class="cov"><h4>Failure modes with no alert ({len(h.no_alert)})</h4>'
             f'{_chips(h.no_alert, "missed")}</div>'
             f'<div class="cov"><h4>Failure modes that page nobody ({len(h.pages_nobody)})</h4>'
             f'{_chips(h.pages_nobody, "never")}</div>'
             f'<div class="cov"><h4>Alerts firing on a healthy stack ({len(h.fire_on_healthy)})</h4>{healthy}</div>'
             f'<div class="cov"><h4>Alerts no failure mode exercised ({len(h.never_exercised)})</h4>'
             f'{_chips(h.never_exercised, "never")}</div></div>')
    if h.healthy_paged:
        heads += f'<p class="bad-text">Someone was paged on a healthy stack: {_e(", ".join(h.healthy_paged))}</p>'
    if h.not_run:
        heads += f'<p class="bad-text">Modes that could not run: {_e(", ".join(h.not_run))}</p>'
    cols = "".join(f'<th class="mm-alert"><span>{_e(a)}</span></th>' for a in alerts)
    rows = "".join(_row(r, alerts) for r in matrix.modes)
    legend = ('<p class="muted small">Each cell: how long after the fault began (production time) the alert fired, '
              'coloured by its severity: <span class="mm-key mm-crit">critical</span> '
              '<span class="mm-key mm-warn">warning</span> <span class="mm-key mm-other">other</span>; '
              '<span class="mm-key mm-sparse mm-warn">?</span> fired only on windows too sparse to resolve its '
              "threshold at the mode's time scale; · already firing before the fault began. &times;N: the mode's time "
              "scale. Paged: a receiver whose integration pages accepted a firing notification.</p>")
    table = (f'<div class="mm-wrap"><table class="mm"><thead><tr><th>failure mode</th>{cols}<th>notified</th>'
             f"<th>paged</th></tr></thead><tbody>{rows}</tbody></table></div>")
    return (f'<section class="card" id="failure-modes"><h2>Failure modes: {len(matrix.modes)} modes &times; '
            f"{len(alerts)} alerts</h2>{verdict}{heads}{table}{legend}</section>")


CSS = """
.mm-wrap { overflow-x: auto; }
table.mm { width: auto; border-collapse: separate; border-spacing: 2px; }
table.mm th.mm-alert { vertical-align: bottom; padding: 4px 2px; background: none; border: none; }
table.mm th.mm-alert span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 500; }
table.mm th.mm-mode { white-space: nowrap; font-family: ui-monospace, Menlo, Consolas, monospace; background: #f8f9fa;
  font-weight: 600; }
table.mm td { text-align: center; min-width: 44px; padding: 4px 6px; border-radius: 4px; font-size: 12px;
  border: none; }
table.mm td.mm-notified { text-align: left; min-width: 160px; max-width: 260px; }
table.mm td.mm-paged { text-align: left; white-space: nowrap; }
table.mm td.mm-paged .pill { text-transform: none; }
td.mm-none { background: #f1f3f5; }
td.mm-noise { background: #f1f3f5; color: var(--muted); }
.mm-crit { background: #e03131; color: #fff; font-weight: 600; }
.mm-warn { background: #fcc419; color: #5c3c00; font-weight: 600; }
.mm-other { background: #4dabf7; color: #fff; font-weight: 600; }
.mm-sparse { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.45) 0 4px, transparent 4px 8px); }
.mm-key { display: inline-block; padding: 0 6px; border-radius: 4px; }
.bad-text { color: var(--bad); }
"""
