"""The "Mutation testing" section of index.html, from the ``mutation`` entry of summary.json (what
``harness.scenario.mutate.MutationResult.to_dict`` writes): the score, each mutant and what became of it, what
kind of scenario would kill each survivor, and the mutants skipped as equivalent, with the reason."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

STATUS_CLASS = {"killed": "ok", "survived": "bad", "not judged": "warn"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="findings"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _where(d: Mapping[str, Any]) -> str:
    file = str(d.get("file", "")).rsplit("/", 1)[-1]
    return f"{file}:{d.get('line', '')}" if file else ""


def mutation_section(mutation: Mapping[str, Any] | None) -> str:
    """The section's HTML ("" without a mutation run)."""
    if not mutation:
        return ""
    killed, survived = int(mutation.get("killed", 0)), int(mutation.get("survived", 0))
    unjudged, equivalent = int(mutation.get("not_judged", 0)), int(mutation.get("equivalent", 0))
    score = mutation.get("score")
    runs = mutation.get("runs") or {}
    tiles = [("mutation score", f"{score:.0%}" if isinstance(score, int | float) else "-",
              "ok" if survived == 0 and unjudged == 0 else "bad"),
             ("killed", f"{killed}/{killed + survived}", "ok"), ("survived", str(survived), "bad" if survived else ""),
             ("equivalent, skipped", str(equivalent), ""), ("not judged", str(unjudged), "warn" if unjudged else ""),
             ("scenario runs", str(sum(int(v) for v in runs.values())), "")]
    tile_html = "".join(f'<div class="tile {c}"><div class="n">{_e(n)}</div><div class="l">{_e(label)}</div></div>'
                        for label, n, c in tiles)
    outcomes = [o for o in mutation.get("outcomes") or () if isinstance(o, Mapping)]
    order = {"survived": 0, "not judged": 1, "killed": 2}
    rows = []
    for o in sorted(outcomes, key=lambda o: (order.get(str(o.get("status")), 3), str(o.get("id")))):
        status = str(o.get("status", ""))
        if status == "killed":
            verdict = f"by <b>{_e(o.get('killed_by'))}</b>: " + _e("; ".join(o.get("evidence") or ()))[:400]
        elif status == "survived":
            tried = ", ".join(str(a.get("scenario")) for a in o.get("attempts") or ()) or "no scenario can kill it"
            verdict = f"tried: {_e(tried)}<br><b>would be killed by</b> {_e(o.get('hint', ''))}"
        else:
            why = [f"{a.get('scenario')}: {a.get('detail')}" for a in o.get("attempts") or ()
                   if a.get("outcome") in ("error", "no verdict")]
            verdict = "not judged: " + _e("; ".join(why) if why else "the run ended first")[:400]
        rows.append((f'<span class="pill {STATUS_CLASS.get(status, "muted")}">{_e(status)}</span>', _e(o.get("id")),
                     _e(o.get("alert")), _e(_where(o)), _e(o.get("operator", "")).replace("_", " "),
                     _e(o.get("description")), verdict))
    table = _table(("", "mutant", "alert", "rule", "operator", "mutation", "verdict"), rows) if rows else \
        '<p class="muted">No mutant to judge.</p>'
    skipped = [s for s in mutation.get("skipped") or () if isinstance(s, Mapping)]
    skipped_html = ""
    if skipped:
        skipped_html = (f"<h3>Skipped ({len(skipped)}): equivalent by construction, or not editable in place</h3>"
                        + _table(("alert", "rule", "operator", "mutation", "why"),
                                 [(_e(s.get("alert")), _e(_where(s)), _e(s.get("operator", "")).replace("_", " "),
                                   _e(s.get("description")), _e(s.get("reason"))) for s in skipped]))
    notes = "".join(f'<div class="callout warn">{_e(n)}</div>' for n in mutation.get("notes") or ())
    how = (f'<p class="muted small">Packs: {_e(mutation.get("packs", ""))}. Scenario runs: '
           f'{int(runs.get("batch", 0))} batched (every live mutant the scenario can kill, renamed '
           "&lt;alert&gt;__&lt;id&gt;, beside the originals), "
           f'{int(runs.get("solo", 0))} with a mutant alone, {int(runs.get("original", 0))} on the original packs; '
           f'{float(mutation.get("seconds") or 0) / 60:.1f} min. A mutant is killed when a check of its alert fails on '
           "it and the same check passes on the original (in the same run, for a batch)"
           + (", the original taken to pass solo-run checks (--trust-original)." if mutation.get("trust_original")
              else ".") + "</p>")
    return (f'<section class="card" id="mutation"><h2>Mutation testing</h2><div class="tiles">{tile_html}</div>'
            f"{notes}{how}{table}{skipped_html}</section>")
