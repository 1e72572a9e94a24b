"""Compressed time: rewrite a Prometheus rule file so every duration that matters runs N times faster.

What is scaled (divided by the time scale):
  * a rule's ``for`` and ``keep_firing_for``, a group's ``interval``;
  * inside PromQL: range selectors (``x[5m]``), subquery ranges and steps (``x[30m:1m]``) and
    ``offset`` durations. The expression is tokenized, so string literals (label values, regexes),
    label names and ``#`` comments are never touched.

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

The file may be in any format ``harness.rules.formats`` accepts (PrometheusRule, mimirtool, ruler namespace
map); the result is always a plain Prometheus rule file, which is what Prometheus loads.

Durations are written the way Prometheus parses them (``1m30s``, ``250ms``), rounded to whole
milliseconds.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from harness.durations import format_duration, parse_duration
from harness.errors import ValidationError
from harness.rules.formats import load_rule_doc
from harness.yamlio import key_line, round_trip_yaml

MIN_SCRAPES_PER_WINDOW = 4

# Token kinds produced by tokenize().
STRING = "string"
COMMENT = "comment"
DURATION = "duration"
NUMBER = "number"
IDENT = "ident"
SPACE = "space"
PUNCT = "punct"

_DURATION_RE = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
_NUMBER_RE = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]\b|[nN][aA][nN]\b"
)
_IDENT_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    # For DURATION tokens: "range", "subquery_range", "subquery_step" or "offset".
    role: str = ""


class PromQLSyntaxError(ValueError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


def _lex_string(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            return j + 1
        if c == "\n" and quote != "`":
            break
        j += 1
    raise PromQLSyntaxError(f"unterminated string starting at offset {i}", i)


def tokenize(expr: str) -> list[Token]:
    """Split a PromQL expression into tokens; concatenating the texts gives back ``expr`` exactly.

    Durations are recognised only where PromQL allows them: inside ``[...]`` (range or subquery)
    and after the ``offset`` keyword. Everywhere else a number is a NUMBER and is left alone.
    """
    tokens: list[Token] = []
    i, n = 0, len(expr)
    brace_depth = 0
    # State inside [ ]: None (outside), "range" before ':', "step" after ':'
    bracket: str | None = None
    expect_offset = False
    while i < n:
        c = expr[i]
        if c.isspace():
            m = _SPACE_RE.match(expr, i)
            assert m is not None
            tokens.append(Token(SPACE, m.group(), i))
            i = m.end()
            continue
        if c == "#":
            j = expr.find("\n", i)
            j = n if j < 0 else j
            tokens.append(Token(COMMENT, expr[i:j], i))
            i = j
            continue
        if c in "\"'`":
            j = _lex_string(expr, i)
            tokens.append(Token(STRING, expr[i:j], i))
            i = j
            expect_offset = False
            continue
        if bracket is not None or expect_offset:
            m = _DURATION_RE.match(expr, i)
            if m and not (m.end() < n and (expr[m.end()].isalnum() or expr[m.end()] in "._")):
                if expect_offset:
                    role = "offset"
                elif bracket == "range":
                    role = "range"
                else:
                    role = "subquery_step"
                tokens.append(Token(DURATION, m.group(), i, role))
                i = m.end()
                expect_offset = False
                continue
        if c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = _NUMBER_RE.match(expr, i)
            assert m is not None
            tokens.append(Token(NUMBER, m.group(), i))
            i = m.end()
            expect_offset = False
            continue
        # Metric names may contain ':', but inside brackets ':' separates a subquery's range and step.
        m = None if (bracket is not None and c == ":") else _IDENT_RE.match(expr, i)
        if m:
            word = m.group()
            tokens.append(Token(IDENT, word, i))
            i = m.end()
            # `offset` is a keyword only outside label matchers; `{offset="x"}` is a label name.
            expect_offset = word.lower() == "offset" and brace_depth == 0 and bracket is None
            continue
        expect_offset = expect_offset and c == "-"
        if c == "{":
            brace_depth += 1
        elif c == "}":
            brace_depth = max(0, brace_depth - 1)
        elif c == "[" and brace_depth == 0:
            if bracket is not None:
                raise PromQLSyntaxError("nested '[' inside a range selector", i)
            bracket = "range"
        elif c == "]" and brace_depth == 0:
            bracket = None
        elif c == ":" and bracket == "range":
            bracket = "step"
        tokens.append(Token(PUNCT, c, i))
        i += 1
    if bracket is not None:
        raise PromQLSyntaxError("unclosed '['", n)
    return _mark_subquery_ranges(tokens)


def _mark_subquery_ranges(tokens: list[Token]) -> list[Token]:
    """A duration before ':' inside brackets is a subquery range, not a plain range selector."""
    out = list(tokens)
    last_duration: int | None = None
    for idx, tok in enumerate(out):
        if tok.kind == DURATION and tok.role == "range":
            last_duration = idx
        elif tok.kind == PUNCT and tok.text == ":" and last_duration is not None:
            d = out[last_duration]
            out[last_duration] = Token(DURATION, d.text, d.pos, "subquery_range")
            last_duration = None
        elif tok.kind == PUNCT and tok.text == "]":
            last_duration = None
    return out


def scale_duration(text: str, scale: float) -> str:
    """``text`` divided by ``scale``, as a Prometheus duration (ms granularity). "0s" stays "0s"."""
    seconds = parse_duration(text)
    if scale <= 0:
        raise ValueError(f"time scale must be > 0, got {scale}")
    if seconds == 0:
        return "0s"
    return format_duration(seconds / scale)


@dataclass(frozen=True)
class Window:
    """A range window found in an expression: original text and its scaled length in seconds."""

    text: str
    role: str
    seconds: float


def scale_expr(expr: str, scale: float) -> tuple[str, list[Window]]:
    """Rewrite every duration token in ``expr``; return the new text and the windows it contains."""
    out: list[str] = []
    windows: list[Window] = []
    for tok in tokenize(expr):
        if tok.kind == DURATION:
            out.append(scale_duration(tok.text, scale))
            if tok.role in ("range", "subquery_range"):
                windows.append(Window(tok.text, tok.role, parse_duration(tok.text) / scale))
        else:
            out.append(tok.text)
    return "".join(out), windows






def _same_style(original: Any, new: str) -> Any:
    if isinstance(original, LiteralScalarString):
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
