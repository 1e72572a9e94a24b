"""PromQL, read through a real parser (``promql-parser``, the Rust parser's Python binding): parse, print
back, rewrite durations for compressed time, and what checks and findings read of an expression (metric
names, label matchers, range windows, functions, operators).

The one place in the harness that knows PromQL's syntax. Where the parser or its printer falls short of
what Prometheus accepts, it is handled here, each case explicitly:

* Backtick (raw) strings holding a backslash (``x{re=~`a\\d+`}``): the parser applies escapes inside
  them, which Prometheus does not, and refuses ``\\d``. Such literals are handed to the parser as the
  equivalent double-quoted string, and a rewritten expression gets the original literal back.
* ``#`` comments are dropped by the printer: an expression whose durations change is printed without
  them (they carry no meaning); one whose durations do not change is returned verbatim.
* Node attributes can be assigned, but the printer does not see the assignment: a duration is changed by
  replacing its node with one parsed from the node's own printed text, the duration part re-written.
* The printer's layout is its own (Prometheus' prettifier): matchers sorted, long expressions over
  several lines, numbers normalised (``1e3`` -> ``1000``). Every rewrite is checked by parsing its output
  again and comparing the tree with the one expected; a difference is an error, never a silent change.
* An ``@`` timestamp before 1970 makes the binding panic when read, and prints as ``@ 0.000``: refused.
* ``holt_winters`` (Prometheus 2.x, which the stack runs; renamed in 3.0) is registered with the parser.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser as pp

from harness.core.durations import format_duration


class PromQLSyntaxError(ValueError):
    """An expression the parser refuses; ``pos`` is the offset in the text when it is known."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.pos = pos


class PromQLRewriteError(RuntimeError):
    """A rewrite whose printed text would not mean what it should: a limit of the printer, not of the input."""


# -- parsing --------------------------------------------------------------------------------------------

_REGISTERED = False


def _ensure_functions() -> None:
    """Register the Prometheus 2.x functions the parser (which follows 3.x) no longer knows."""
    global _REGISTERED
    if not _REGISTERED:
        matrix, scalar, vector = pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Vector
        pp.register_extra_functions([pp.Function("holt_winters", [matrix, scalar, scalar], vector)])
        _REGISTERED = True


def _quote(value: str) -> str:
    """A double-quoted PromQL string literal for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") \
        .replace("\t", "\\t")
    return f'"{escaped}"'


@dataclass(frozen=True)
class _Prepared:
    text: str                      # what the parser is given
    raw: dict[str, str]            # placeholder literal -> original backtick literal


def _prepare(expr: str, *, placeholders: bool) -> _Prepared:
    """Scan string literals and comments only (the parser does the rest): find unterminated strings with
    their offset, refuse ``@`` before 1970, and hand backtick literals with a backslash to the parser as
    double-quoted ones, or, with ``placeholders``, as unique placeholders the printed text gets back."""
    out: list[str] = []
    raw: dict[str, str] = {}
    tag = "__harness_raw_"
    while tag in expr:
        tag += "_"
    i, n = 0, len(expr)
    code_start = 0

    def code(until: int) -> None:
        segment = expr[code_start:until]
        m = re.search(r"@\s*-", segment)
        if m:
            raise PromQLSyntaxError("an @ timestamp before 1970 is not supported (the parser cannot represent it)",
                                    code_start + m.start())
        out.append(segment)

    while i < n:
        c = expr[i]
        if c == "#":
            j = expr.find("\n", i)
            j = n if j < 0 else j
            code(j)
            i = code_start = j
            continue
        if c not in "\"'`":
            i += 1
            continue
        code(i)
        j = i + 1
        while j < n and expr[j] != c:
            if c != "`" and expr[j] == "\n":
                break
            j += 2 if (c != "`" and expr[j] == "\\") else 1
        if j >= n or expr[j] != c:
            raise PromQLSyntaxError(f"unterminated string starting at offset {i}", i)
        literal = expr[i:j + 1]
        if c == "`" and "\\" in literal:
            if placeholders:
                key = _quote(f"{tag}{len(raw)}")
                raw[key] = literal
                literal = key
            else:
                literal = _quote(literal[1:-1])
        out.append(literal)
        i = code_start = j + 1
    code(n)
    return _Prepared("".join(out), raw)


def _parse_prepared(prepared: _Prepared) -> pp.Expr:
    _ensure_functions()
    try:
        return pp.parse(prepared.text)
    except ValueError as exc:
        raise PromQLSyntaxError(str(exc)) from None


@functools.lru_cache(maxsize=2048)
def parse(expr: str) -> pp.Expr:
    """The tree of ``expr``; PromQLSyntaxError (a ValueError) names what the parser refused."""
    return _parse_prepared(_prepare(expr, placeholders=False))


def print_expr(tree: pp.Expr) -> str:
    """The printer's text of a tree (Prometheus' layout: may span lines when long)."""
    return str(tree.prettify())


def one_line(text: str) -> str:
    """The printer's text on one line. Its line breaks are layout only (it escapes newlines in strings)."""
    text = re.sub(r"\(\n\s*", "(", text)
    text = re.sub(r"\n\s*\)", ")", text)
    return re.sub(r"\n\s*", " ", text).strip()


# -- structure: what two expressions must share to mean the same ---------------------------------------

# The binding's enums are not hashable: keyed by their names.
_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _ms(td: timedelta) -> int:
    return round(td / timedelta(milliseconds=1))


def _range(node: Any) -> timedelta:
    """A matrix selector's or subquery's range (typed optional by the binding; the grammar requires it)."""
    if node.range is None:
        raise PromQLRewriteError(f"{type(node).__name__} without a range: {print_expr(node)!r}")
    return node.range


def _at(at: Any) -> tuple[str, float | None] | None:
    if at is None:
        return None
    if at.type is pp.AtModifierType.At:
        return ("at", round(at.at.timestamp(), 3))
    return ("start()" if at.type is pp.AtModifierType.Start else "end()", None)


def _labels(mod: Any) -> tuple[str, tuple[str, ...]] | None:
    """A by/without or on/ignoring modifier; an empty ``by ()`` or ``ignoring ()`` is the same as none."""
    if mod is None:
        return None
    kind = str(mod.type).rsplit(".", 1)[-1]
    if not mod.labels and kind in ("By", "Exclude"):
        return None
    return (kind, tuple(mod.labels))


def _matchers(vs: Any) -> tuple[Any, ...]:
    own = tuple(sorted((m.name, _MATCH_OPS[str(m.op)], m.value) for m in vs.matchers.matchers))
    alternatives = tuple(tuple(sorted((m.name, _MATCH_OPS[str(m.op)], m.value) for m in group))
                         for group in vs.matchers.or_matchers)
    return (own, alternatives)


def _structure(node: Any, dur: Callable[[timedelta], int]) -> tuple[Any, ...]:
    def s(x: Any) -> tuple[Any, ...]:
        return _structure(x, dur)

    def d(td: timedelta | None) -> int | None:
        return None if td is None else dur(td)

    if isinstance(node, pp.VectorSelector):
        return ("selector", node.name, _matchers(node), d(node.offset), _at(node.at))
    if isinstance(node, pp.MatrixSelector):
        return ("matrix", s(node.vector_selector), d(node.range))
    if isinstance(node, pp.SubqueryExpr):
        return ("subquery", s(node.expr), d(node.range), d(node.step), d(node.offset), _at(node.at))
    if isinstance(node, pp.Call):
        return ("call", node.func.name, tuple(s(a) for a in node.args))
    if isinstance(node, pp.AggregateExpr):
        param = None if node.param is None else s(node.param)
        return ("aggregate", str(node.op), param, s(node.expr), _labels(node.modifier))
    if isinstance(node, pp.BinaryExpr):
        mod = node.modifier
        modifier = None
        if mod is not None:
            fill = mod.fill_values
            modifier = (str(mod.card).rsplit(".", 1)[-1], _labels(mod.matching), bool(mod.return_bool),
                        tuple(mod.group_labels or ()), (fill.lhs, fill.rhs) if fill is not None else None)
            if modifier[1:] == (None, False, (), (None, None)) or modifier[1:] == (None, False, (), None):
                modifier = None   # the cardinality of a plain operator follows from the operator
        return ("binary", str(node.op), s(node.lhs), s(node.rhs), modifier)
    if isinstance(node, pp.ParenExpr):
        return ("paren", s(node.expr))
    if isinstance(node, pp.UnaryExpr):
        return ("negate", s(node.expr))
    if isinstance(node, pp.NumberLiteral):
        return ("number", repr(node.val))
    if isinstance(node, pp.StringLiteral):
        return ("string", node.val)
    raise PromQLRewriteError(f"unknown PromQL node {type(node).__name__}")


def structure(expr: str, scale: float = 1.0) -> tuple[Any, ...]:
    """A value two expressions share exactly when they parse to the same tree: layout, comments, matcher
    order and the spelling of numbers, strings and durations aside. With ``scale``, the tree expected of
    ``scale_expr(expr, scale)``: every duration divided, in whole milliseconds."""
    return _structure(parse(expr), _ms if scale == 1 else (lambda td: _scaled_ms(td, scale)))


def durations(expr: str) -> list[tuple[str, float]]:
    """(role, seconds) of every duration in ``expr``, in the order of its text: ``range`` (``x[5m]``),
    ``subquery_range`` and ``subquery_step`` (``[30m:1m]``), ``offset`` (negative when it is)."""
    out: list[tuple[str, float]] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.MatrixSelector):
            out.append(("range", node.range.total_seconds()))   # ``x[5m] offset 1h``: then the selector's
        elif isinstance(node, pp.VectorSelector) and node.offset is not None:
            out.append(("offset", node.offset.total_seconds()))
        for child in _children(node):
            visit(child)
        if isinstance(node, pp.SubqueryExpr):                    # ``(...)[30m:1m] offset 1h``: after its query
            out.append(("subquery_range", _range(node).total_seconds()))
            if node.step is not None:
                out.append(("subquery_step", node.step.total_seconds()))
            if node.offset is not None:
                out.append(("offset", node.offset.total_seconds()))

    visit(parse(expr))
    return out


# -- time scale: durations divided, nothing else touched --------------------------------------------------

@dataclass(frozen=True)
class Window:
    """A range window of an expression: its original duration, its role (``range`` for ``x[5m]``,
    ``subquery_range`` for ``(...)[30m:1m]``) and its length in seconds after the rewrite."""

    text: str
    role: str
    seconds: float


def _ms_or_none(td: timedelta | None) -> int | None:
    return None if td is None else _ms(td)


def _scaled_ms(td: timedelta, scale: float) -> int:
    """Milliseconds of ``td / scale``, rounded, at least 1 ms (a duration must stay > 0), sign kept."""
    ms = _ms(td)
    if ms == 0:
        return 0
    return int(math.copysign(max(1, round(abs(ms) / scale)), ms))


def _duration_text(ms: int) -> str:
    return ("-" if ms < 0 else "") + format_duration(abs(ms) / 1000)


def _printed_duration(td: timedelta) -> str:
    """A duration as the printer writes it (it cannot display a negative one itself)."""
    return ("-" + str(pp.display_duration(-td))) if td < timedelta(0) else str(pp.display_duration(td))


def _at_text(at: Any) -> str:
    """The printer's `` @ T`` (it writes ``@`` before ``offset``)."""
    a = _at(at)
    if a is None:
        return ""
    return f" @ {a[1]:.3f}" if a[0] == "at" else f" @ {a[0]}"


def _offset_text(td: timedelta | None, ms: int | None = None) -> str:
    """`` offset D`` as the printer writes ``td``, or with ``ms`` as we write it; "" for no offset."""
    if td is None:
        return ""
    return f" offset {_printed_duration(td) if ms is None else _duration_text(ms)}"


def _retail(node: Any, old: str, new: str) -> pp.Expr:
    """``node`` parsed again from its printed text, its tail ``old`` (the durations) replaced by ``new``."""
    text = print_expr(node)
    if not text.endswith(old):
        raise PromQLRewriteError(f"cannot rewrite the durations of {text!r}: the printer's text does not end "
                                 f"in the expected {old!r}")
    try:
        return pp.parse(text[: len(text) - len(old)] + new)
    except ValueError as exc:
        raise PromQLRewriteError(f"cannot rewrite {text!r} to end in {new!r}: {exc}") from None


def _rescaled(node: Any, scale: float) -> pp.Expr | None:
    """The replacement of a node whose durations change at ``scale``, None for every other node.
    ``transform`` visits children first, so a matrix selector's offset (held by its vector selector) has
    been rewritten by the time the matrix selector's range is, and is kept as it is then."""
    if isinstance(node, pp.VectorSelector) and node.offset is not None:
        off = _scaled_ms(node.offset, scale)
        at = _at_text(node.at)
        return None if off == _ms(node.offset) else \
            _retail(node, at + _offset_text(node.offset), at + _offset_text(node.offset, off))
    if isinstance(node, pp.MatrixSelector):
        vs = node.vector_selector
        r = _scaled_ms(node.range, scale)
        kept = _at_text(vs.at) + _offset_text(vs.offset)
        return None if r == _ms(node.range) else \
            _retail(node, f"[{_printed_duration(node.range)}]{kept}", f"[{_duration_text(r)}]{kept}")
    if isinstance(node, pp.SubqueryExpr):
        r = _scaled_ms(_range(node), scale)
        step = None if node.step is None else _scaled_ms(node.step, scale)
        sub_off = None if node.offset is None else _scaled_ms(node.offset, scale)
        at = _at_text(node.at)
        old_step = "" if node.step is None else _printed_duration(node.step)
        new_step = "" if step is None else _duration_text(step)
        old = f"[{_printed_duration(_range(node))}:{old_step}]{at}{_offset_text(node.offset)}"
        new = f"[{_duration_text(r)}:{new_step}]{at}{_offset_text(node.offset, sub_off)}"
        same = (r, step, sub_off) == (_ms(_range(node)), _ms_or_none(node.step), _ms_or_none(node.offset))
        return None if same else _retail(node, old, new)
    return None


def _children(node: Any) -> list[Any]:
    if isinstance(node, pp.AggregateExpr):
        return ([] if node.param is None else [node.param]) + [node.expr]
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.Call):
        return list(node.args)
    if isinstance(node, pp.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, pp.SubqueryExpr | pp.ParenExpr | pp.UnaryExpr):
        return [node.expr]
    return []


def scale_expr(expr: str, scale: float) -> tuple[str, list[Window]]:
    """``expr`` with every range window, subquery range and step and ``offset`` divided by ``scale``
    (whole milliseconds), and the range windows it holds. Numbers, ``@`` timestamps, strings and names are
    never touched. Verbatim when no duration changes (at scale 1, or with no durations at all)."""
    if not scale > 0:
        raise ValueError(f"time scale must be > 0, got {scale}")
    tree = parse(expr)
    windows = [Window(format_duration(seconds), role, seconds / scale) for role, seconds in durations(expr)
               if role in ("range", "subquery_range")]
    prepared = _prepare(expr, placeholders=True)
    printable = _parse_prepared(prepared) if prepared.raw else tree
    changed = False

    def visit(node: Any) -> pp.Expr | None:
        nonlocal changed
        new = _rescaled(node, scale)
        changed = changed or new is not None
        return new

    rewritten = pp.transform(printable, post_visit=visit)
    if not changed:
        return expr, windows
    text = print_expr(rewritten)
    for placeholder, literal in prepared.raw.items():
        text = text.replace(placeholder, literal)
    if structure(text) != structure(expr, scale):
        raise PromQLRewriteError(f"the rewrite of {expr!r} at time scale {scale:g} printed {text!r}, which "
                                 "does not parse back to the expected tree")
    return text, windows


# -- what an expression reads -----------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelMatcher:
    name: str
    op: str        # "=", "!=", "=~" or "!~"
    value: str


@dataclass(frozen=True)
class Selector:
    """One series selector. ``metric`` is its name (or its ``__name__="..."`` matcher), "" when it has
    neither; ``matchers`` are the others, alternatives of ``{a="1" or b="2"}`` included. ``range_s``: the
    window of ``x[5m]``, or the range of a subquery taken directly over it (``x[1h:1m]``). ``call``: the
    function it is a direct argument of (``rate`` for ``rate(x[5m])``), "" when none."""

    metric: str
    matchers: tuple[LabelMatcher, ...]
    range_s: float | None
    call: str


@dataclass(frozen=True)
class Operand:
    """A binary operator's side, when it is a plain selector (its metric) or a number."""

    metric: str | None = None
    number: float | None = None


@dataclass(frozen=True)
class Binary:
    op: str                  # "/", ">", "and", ...
    matching: bool           # on (...) or ignoring (...) given
    lhs: Operand
    rhs: Operand


@dataclass(frozen=True)
class Reading:
    """What one or more expressions read, in the order of their text."""

    selectors: tuple[Selector, ...] = ()
    functions: tuple[str, ...] = ()
    aggregations: tuple[str, ...] = ()
    binaries: tuple[Binary, ...] = ()
    labels: frozenset[str] = frozenset()     # every label name named: matchers, by/without, on/ignoring, group_x
    windows_s: tuple[float, ...] = ()        # every range window and subquery range

    @property
    def metrics(self) -> list[str]:
        """Names of the series selected, each once, in order of first appearance."""
        return list(dict.fromkeys(s.metric for s in self.selectors if s.metric))

    def __add__(self, other: Reading) -> Reading:
        return Reading(self.selectors + other.selectors, self.functions + other.functions,
                       self.aggregations + other.aggregations, self.binaries + other.binaries,
                       self.labels | other.labels, self.windows_s + other.windows_s)


def _selector(vs: Any, range_s: float | None, call: str) -> Selector:
    metric = vs.name or ""
    matchers = []
    for m in [*vs.matchers.matchers, *(m for group in vs.matchers.or_matchers for m in group)]:
        op = _MATCH_OPS[str(m.op)]
        if m.name == "__name__" and op == "=" and not metric:
            metric = m.value
            continue
        matchers.append(LabelMatcher(m.name, op, m.value))
    return Selector(metric, tuple(matchers), range_s, call)


def _operand(node: Any) -> Operand:
    if isinstance(node, pp.VectorSelector):
        return Operand(metric=_selector(node, None, "").metric or None)
    if isinstance(node, pp.NumberLiteral):
        return Operand(number=float(node.val))
    return Operand()


class _Reader:
    def __init__(self) -> None:
        self.selectors: list[Selector] = []
        self.functions: list[str] = []
        self.aggregations: list[str] = []
        self.binaries: list[Binary] = []
        self.labels: set[str] = set()
        self.windows: list[float] = []

    def visit(self, node: Any, call: str = "", range_s: float | None = None) -> None:
        if isinstance(node, pp.VectorSelector):
            sel = _selector(node, range_s, call)
            self.selectors.append(sel)
            self.labels.update(m.name for m in sel.matchers)
        elif isinstance(node, pp.MatrixSelector | pp.SubqueryExpr):
            seconds = _range(node).total_seconds()
            self.windows.append(seconds)
            child = node.vector_selector if isinstance(node, pp.MatrixSelector) else node.expr
            self.visit(child, call, seconds)
        elif isinstance(node, pp.Call):
            self.functions.append(node.func.name)
            for arg in node.args:
                self.visit(arg, node.func.name)
        elif isinstance(node, pp.AggregateExpr):
            self.aggregations.append(str(node.op))
            if node.modifier is not None:
                self.labels.update(node.modifier.labels)
            for child in _children(node):
                self.visit(child)
        elif isinstance(node, pp.BinaryExpr):
            # In the order of the text: the left side's operators, this one, then the right side's.
            self.visit(node.lhs)
            mod = node.modifier
            matching = mod is not None and mod.matching is not None and (
                bool(mod.matching.labels) or mod.matching.type is pp.LabelModifierType.Include)
            if mod is not None:
                self.labels.update(mod.matching.labels if mod.matching is not None else ())
                self.labels.update(mod.group_labels or ())
            self.binaries.append(Binary(str(node.op), matching, _operand(node.lhs), _operand(node.rhs)))
            self.visit(node.rhs)
        else:
            for child in _children(node):
                self.visit(child)


@functools.lru_cache(maxsize=2048)
def _read_one(expr: str) -> Reading:
    r = _Reader()
    r.visit(parse(expr))
    return Reading(tuple(r.selectors), tuple(r.functions), tuple(r.aggregations), tuple(r.binaries),
                   frozenset(r.labels), tuple(r.windows))


def read(exprs: str | Iterable[str]) -> Reading:
    """What an expression (or several: a rule and the recording rules it reads) reads."""
    if isinstance(exprs, str):
        return _read_one(exprs)
    out = Reading()
    for e in exprs:
        out = out + _read_one(e)
    return out


def metric_names(expr: str) -> list[str]:
    """Names of the series selected by ``expr``, in order of first appearance (functions, keywords and
    label names are never metric names: the parser knows which is which)."""
    return read(expr).metrics


_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})


def _operator_text(node: Any) -> str:
    """A binary operator with its modifiers: ``> bool on (job) group_left (x)``."""
    parts = [str(node.op)]
    mod = node.modifier
    if mod is not None:
        if mod.return_bool:
            parts.append("bool")
        labels = _labels(mod.matching)
        if labels is not None:
            word = "on" if labels[0] == "Include" else "ignoring"
            parts.append(f"{word} ({', '.join(labels[1])})")
        card = str(mod.card).rsplit(".", 1)[-1]
        if card in ("ManyToOne", "OneToMany"):
            word = "group_left" if card == "ManyToOne" else "group_right"
            parts.append(f"{word} ({', '.join(mod.group_labels or ())})")
    return " ".join(parts)


def _unparen(node: Any) -> Any:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def _comparison(node: Any) -> tuple[str, str] | None:
    rest: list[str] = []
    node = _unparen(node)
    while isinstance(node, pp.BinaryExpr) and str(node.op) in ("and", "unless"):
        rest.insert(0, f"{_operator_text(node)} {one_line(print_expr(node.rhs))}")
        node = _unparen(node.lhs)
    if not (isinstance(node, pp.BinaryExpr) and str(node.op) in _COMPARISONS):
        return None
    value = one_line(print_expr(node.lhs))
    condition = " ".join([f"{_operator_text(node)} {one_line(print_expr(node.rhs))}", *rest])
    return value, condition


def _branches(node: Any) -> list[Any]:
    node = _unparen(node)
    if isinstance(node, pp.BinaryExpr) and str(node.op) == "or":
        return _branches(node.lhs) + _branches(node.rhs)
    return [node]


def comparisons(expr: str) -> list[tuple[str, str]]:
    """``(value, condition)`` around each comparison an alert can fire on: for ``sum(rate(x[5m])) / y > 0.01``
    that is ``[("sum(rate(x[5m])) / y", "> 0.01")]``. Each side of an ``or`` is a branch of its own (QueryLatencyHigh
    has one per query); through ``and``/``unless``, the first comparison's value and the rest as its condition.
    The value side is what a failed alert's evidence plots against its threshold. Both on one line, as the
    printer writes them. A branch without a comparison has no entry."""
    return [c for c in map(_comparison, _branches(parse(expr))) if c is not None]
