"""Compressed time: rewrite a Prometheus rule file so every duration that matters runs N times faster.

What is scaled (divided by the time scale):
  * a rule's ``for`` and ``keep_firing_for``, a group's ``interval``;
  * inside PromQL: range selectors (``x[5m]``), subquery ranges and steps (``x[30m:1m]``) and
    ``offset`` durations, rewritten in the expression's parsed tree (``harness.core.promql``), so string
    literals (label values, regexes) and label names are never touched. An expression whose durations
    change is printed back by the parser's printer (its layout; ``#`` comments dropped); any other is
    kept verbatim.

What is never scaled, on purpose:
  * thresholds and every other number in an expression, including numbers that happen to be
    seconds (``predict_linear(x[1h], 3600)``'s horizon, ``time() - t > 90000``), and ``@``
    timestamps. Those are thresholds: changing them would test a different rule than the team wrote.
  * Comparisons against ``time()``: the backup-age alert
    ``time() - backup_last_success_timestamp > 90000`` keeps its 25-hour threshold. Scenarios make it
    true the way production would see it, by backdating the backup job's last success
    (``POST /control {"last_success_age_seconds": N}`` on the backup job, or the ``backup_failing``
    fault); only the rule's ``for: 1h`` is compressed. Scaling the threshold instead would need the
    harness to rewrite arithmetic, which it never does.

Safety: a range window shorter than 4 scrape intervals yields rates computed from two or three
samples (or none), so such a rewrite is refused with a ValidationError naming the file, the rule,
its line, the window and the largest time scale that keeps every window of the file usable.

The file may be in any format ``harness.core.rule_formats`` accepts (PrometheusRule, mimirtool, ruler namespace
map); the result is always a plain Prometheus rule file, which is what Prometheus loads.

Durations are written the way Prometheus parses them (``1m30s``, ``250ms``), rounded to whole
milliseconds.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from harness.core.durations import format_duration, parse_duration
from harness.core.errors import ValidationError
from harness.core.promql import PromQLRewriteError, PromQLSyntaxError, Window, scale_expr
from harness.core.rule_formats import load_rule_doc
from harness.core.yamlio import key_line, round_trip_yaml

MIN_SCRAPES_PER_WINDOW = 4


def scale_duration(text: str, scale: float) -> str:
    """``text`` divided by ``scale``, as a Prometheus duration (ms granularity). "0s" stays "0s"."""
    seconds = parse_duration(text)
    if scale <= 0:
        raise ValueError(f"time scale must be > 0, got {scale}")
    if seconds == 0:
        return "0s"
    return format_duration(seconds / scale)


def _same_style(original: Any, new: str) -> Any:
    if isinstance(original, LiteralScalarString) or (type(original) is str and "\n" in new):
        return LiteralScalarString(new)
    if isinstance(original, FoldedScalarString):
        return FoldedScalarString(new)
    return type(original)(new) if isinstance(original, str) and type(original) is not str else new


def _rule_name(rule: Any) -> str:
    if isinstance(rule, dict):
        return str(rule.get("alert") or rule.get("record") or "<unnamed>")
    return "<not a mapping>"


def rewrite_rules(text: str, scale: float, *, scrape_interval_s: float, source: str) -> str:
    """Return ``text`` with every duration divided by ``scale``; thresholds and strings unchanged.

    Raises ValidationError (file, line, field) for bad YAML, unparsable durations or expressions,
    and for windows that would shrink below MIN_SCRAPES_PER_WINDOW scrape intervals.
    """
    if not scale > 0:
        raise ValidationError(source, None, "time_scale", f"must be > 0, got {scale}")
    doc = load_rule_doc(text, source)
    min_window = MIN_SCRAPES_PER_WINDOW * scrape_interval_s
    too_short: list[tuple[int | None, str, str, Window]] = []
    all_windows: list[float] = []

    for gi, group in enumerate(doc["groups"]):
        if not isinstance(group, CommentedMap):
            raise ValidationError(source, key_line(doc["groups"]), f"groups[{gi}]", "a group must be a mapping")
        if "interval" in group:
            group["interval"] = _scaled_field(group["interval"], scale, source, key_line(group, "interval"),
                                              f"group {group.get('name')!r}: interval")
        rules = group.get("rules") or []
        for rule in rules:
            if not isinstance(rule, CommentedMap):
                raise ValidationError(source, key_line(rules), "rules", "each rule must be a mapping")
            name = _rule_name(rule)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = _scaled_field(rule[key], scale, source, key_line(rule, key), f"rule {name!r}: {key}")
            if "expr" not in rule:
                continue
            raw = rule["expr"]
            expr_line = key_line(rule, "expr")
            try:
                new_expr, windows = scale_expr(str(raw), scale)
            except PromQLSyntaxError as exc:
                raise ValidationError(source, expr_line, f"rule {name!r}: expr", str(exc),
                                      hint="check the expression with `promtool check rules`") from exc
            except PromQLRewriteError as exc:
                raise ValidationError(source, expr_line, f"rule {name!r}: expr", str(exc),
                                      hint="a limit of the PromQL printer (promql-parser), not of the rule: "
                                           "run this pack at time scale 1, and report the expression") from exc
            except ValueError as exc:
                raise ValidationError(source, expr_line, f"rule {name!r}: expr", str(exc)) from exc
            if isinstance(raw, int | float):
                continue
            rule["expr"] = _same_style(raw, new_expr)
            for w in windows:
                all_windows.append(w.seconds * scale)
                if w.seconds < min_window:
                    too_short.append((expr_line, name, "expr", w))

    if too_short:
        line, name, _, w = too_short[0]
        largest = min(all_windows) / min_window
        others = ", ".join(f"{n} [{x.text}]" for _, n, _, x in too_short[1:4])
        raise ValidationError(
            source, line, f"rule {name!r}: expr",
            f"range window [{w.text}] becomes {format_duration(w.seconds)} at time scale {scale:g}, below "
            f"{MIN_SCRAPES_PER_WINDOW} scrape intervals ({format_duration(min_window)} at scrape interval "
            f"{format_duration(scrape_interval_s)}); the largest usable time scale for this file is "
            f"{_floor_scale(largest)}" + (f" (also too short: {others})" if others else ""),
            hint=f"run with --time-scale {_floor_scale(largest)} or lower, or shorten the scrape interval",
        )
    buf = io.StringIO()
    round_trip_yaml().dump(doc, buf)
    return buf.getvalue()


def _floor_scale(value: float) -> str:
    if value >= 1:
        return str(int(value))
    return f"{value:.3g}"


def _scaled_field(value: Any, scale: float, source: str, line: int | None, field: str) -> Any:
    try:
        new = scale_duration(str(value), scale)
    except ValueError as exc:
        raise ValidationError(source, line, field, f"{value!r} is not a duration ({exc})",
                              hint="use a Prometheus duration such as 30s, 5m or 1h30m") from exc
    return _same_style(value, new)
