"""PromQL on the parser: what is read of an expression, the printer's round trip, and the time-scale rewrite,
on generated expressions (hypothesis) as well as on the cases the parser's printer cannot take as they are."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.durations import format_duration
from harness.core.promql import (
    LabelMatcher,
    PromQLSyntaxError,
    Selector,
    comparisons,
    durations,
    metric_names,
    parse,
    print_expr,
    read,
    scale_expr,
    structure,
)

# -- generated expressions ----------------------------------------------------------------------------------
# Typed, so that every expression is valid PromQL: a vector expression is built from selectors, functions,
# aggregations and operators; scalars only where PromQL takes them. Durations are whole multiples of ``unit``
# milliseconds, so that dividing by a scale that divides ``unit`` is exact.

METRICS = st.sampled_from(["up", "http_requests_total", "slo:api:ratio", "pg_up", "x", "offset", "by"])
QUOTES = st.sampled_from(['"', "'", "`"])
LABELS = st.sampled_from(["job", "instance", "status", "offset", "le", "a_b"])
VALUES = st.lists(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    ['"', "'", "`", "\\", "\n", "\t", "[5m]", "{", "}", "# x", "@", "offset 1h"]), max_size=6).map("".join)
REGEXES = st.sampled_from(["5..", "a.*", "x|y", "\\d+", "a\\[5m]", "", ".+"])


def _string(value: str, style: str) -> str:
    if style == "`" and "`" not in value:
        return f"`{value}`"
    q = '"' if style != "'" else "'"
    escaped = value.replace("\\", "\\\\").replace(q, "\\" + q).replace("\n", "\\n").replace("\t", "\\t")
    return f"{q}{escaped}{q}"


@st.composite
def matchers(draw: st.DrawFn) -> str:
    items = []
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        value = draw(REGEXES) if "~" in op else draw(VALUES)
        items.append(f"{draw(LABELS)}{op}{_string(value, draw(QUOTES))}")
    return "{" + ", ".join(items) + "}" if items else draw(st.sampled_from(["", "{}"]))


@st.composite
def duration(draw: st.DrawFn, unit: int) -> str:
    ms = unit * draw(st.integers(1, 5000))
    if ms % 1000 == 0 and draw(st.booleans()):
        return f"{ms // 1000}s"          # a spelling the printer changes (90s -> 1m30s)
    return format_duration(ms / 1000)


@st.composite
def modifiers(draw: st.DrawFn, unit: int) -> str:
    out = ""
    if draw(st.booleans()):
        at = draw(st.sampled_from(["start()", "end()", "0", "1609746000", "1609746000.5"]))
        out += f" @ {at}"
    if draw(st.booleans()):
        out += f" offset {draw(st.sampled_from(['', '-']))}{draw(duration(unit))}"
    return out


@st.composite
def selector(draw: st.DrawFn, unit: int) -> str:
    return f"{draw(METRICS)}{draw(matchers())}{draw(modifiers(unit))}"


@st.composite
def matrix(draw: st.DrawFn, unit: int) -> str:
    return f"{draw(METRICS)}{draw(matchers())}[{draw(duration(unit))}]{draw(modifiers(unit))}"


NUMBERS = st.sampled_from(["0", "1", "0.5", "1e3", "90000", "0.005", "-2", "Inf", "NaN", "0x1F"])


def vectors(unit: int) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        fn = st.sampled_from(["rate", "irate", "increase", "avg_over_time", "max_over_time", "holt_winters"])
        arith = st.sampled_from(["+", "-", "*", "/", "%", "^", "atan2"])
        comparison = st.sampled_from(["==", "!=", ">", "<", ">=", "<="])
        grouping = st.sampled_from(["", " by (job)", " without (instance, le)", " by ()"])
        matching = st.sampled_from(["", " on (job)", " ignoring (instance)", " on ()"])

        @st.composite
        def over_time(draw: st.DrawFn) -> str:
            f = draw(fn)
            rng = draw(matrix(unit)) if draw(st.booleans()) else \
                f"({draw(inner)})[{draw(duration(unit))}:{draw(st.sampled_from(['', draw(duration(unit))]))}]" \
                f"{draw(modifiers(unit))}"
            return f"holt_winters({rng}, 0.5, 0.5)" if f == "holt_winters" else f"{f}({rng})"

        @st.composite
        def binary(draw: st.DrawFn) -> str:
            lhs, rhs = draw(inner), draw(inner)
            kind = draw(st.sampled_from(["arith", "cmp", "set", "scalar"]))
            if kind == "scalar":
                return f"{lhs} {draw(comparison | arith)} {draw(NUMBERS)}"
            if kind == "set":
                return f"({lhs}) {draw(st.sampled_from(['and', 'or', 'unless']))}{draw(matching)} ({rhs})"
            op = draw(arith) if kind == "arith" else draw(comparison) + draw(st.sampled_from(["", " bool"]))
            mod = draw(matching)
            if mod and draw(st.booleans()):
                mod += draw(st.sampled_from([" group_left ()", " group_right (status)"]))
            return f"({lhs}) {op}{mod} ({rhs})"

        @st.composite
        def aggregate(draw: st.DrawFn) -> str:
            op = draw(st.sampled_from(["sum", "avg", "max", "count", "topk", "quantile", "count_values"]))
            param = {"topk": "3, ", "quantile": "0.9, ", "count_values": '"v", '}.get(op, "")
            return f"{op}{draw(grouping)} ({param}{draw(inner)})"

        return st.one_of(
            over_time(),
            binary(),
            aggregate(),
            inner.map(lambda v: f"({v})"),
            inner.map(lambda v: f"-{v}"),
            inner.map(lambda v: f'label_replace({v}, "dst", "$1", "src", "(.*)")'),
            inner.map(lambda v: f"histogram_quantile(0.95, {v})"),
            st.builds(lambda v, n: f"predict_linear({v}, {n})", matrix(unit), NUMBERS),
        )

    return st.recursive(selector(unit), extend, max_leaves=6)


EXPRESSIONS = vectors(1) | st.builds(lambda v: f"time() - {v} > 90000", vectors(1))
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(EXPRESSIONS)
def test_printed_expression_parses_to_the_same_tree(expr: str) -> None:
    printed = print_expr(parse(expr))
    assert structure(printed) == structure(expr)
    assert print_expr(parse(printed)) == printed


@FAST
@given(EXPRESSIONS)
def test_scale_one_is_verbatim(expr: str) -> None:
    assert scale_expr(expr, 1)[0] == expr


SCALED = st.one_of(*(vectors(scale).map(lambda e, scale=scale: (e, scale)) for scale in (2, 10, 60, 120)))


@FAST
@given(SCALED)
def test_scaling_by_s_then_by_one_over_s_gives_back_every_duration(case: tuple[str, int]) -> None:
    expr, scale = case
    fast, windows = scale_expr(expr, scale)
    assert structure(fast) == structure(expr, scale)
    assert [s * scale for _, s in durations(fast)] == pytest.approx([s for _, s in durations(expr)])
    slow, _ = scale_expr(fast, 1 / scale)
    assert structure(slow) == structure(expr)
    assert [w.seconds * scale for w in windows] == pytest.approx(
        [s for role, s in durations(expr) if role in ("range", "subquery_range")])


# -- what the printer cannot take as it is ---------------------------------------------------------------

def test_raw_string_with_a_backslash_keeps_its_literal() -> None:
    # The parser applies escapes inside backticks (Prometheus does not) and refuses `\d`.
    expr = r"rate(x{path=~`/api/\d+`}[5m])"
    assert read(expr).selectors[0].matchers == (LabelMatcher("path", "=~", r"/api/\d+"),)
    assert scale_expr(expr, 60)[0] == r"rate(x{path=~`/api/\d+`}[5s])"


def test_comments_survive_only_when_nothing_changes() -> None:
    assert scale_expr("x > 1  # [5m]", 60)[0] == "x > 1  # [5m]"
    assert scale_expr("rate(x[5m]) > 1  # note", 60)[0] == "rate(x[5s]) > 1"


def test_sub_second_and_fractional_durations_are_written_for_prometheus() -> None:
    assert scale_expr("rate(x[150s])", 60)[0] == "rate(x[2s500ms])"
    assert scale_expr("rate(x[10s])", 60)[0] == "rate(x[167ms])"
    assert scale_expr("x offset 1ms", 60)[0] == "x offset 1ms"        # never 0: a duration stays > 0
    assert scale_expr("x[1h:90s] offset -1h @ end()", 60)[0] == "x[1m:1s500ms] @ end() offset -1m"


def test_long_expression_is_printed_over_several_lines_with_the_same_meaning() -> None:
    expr = ('sum by (job, instance) (rate(http_requests_total{status=~"5..", job="api"}[5m])) / '
            'sum by (job, instance) (rate(http_requests_total{job="api"}[5m])) > 0.05')
    fast = scale_expr(expr, 60)[0]
    assert "\n" in fast and structure(fast) == structure(expr, 60)


@pytest.mark.parametrize(("expr", "problem"), [
    ('x{a="b} == 0', "unterminated string starting at offset 4"),
    ("x @ -5", "before 1970"),
    ("rate(x[5m]", "unclosed left parenthesis"),
    ("x{a=~`b}", "unterminated string"),
])
def test_refused_expressions_say_why(expr: str, problem: str) -> None:
    with pytest.raises(PromQLSyntaxError, match=problem.replace("(", r"\(")):
        parse(expr)


def test_holt_winters_of_prometheus_2_parses() -> None:
    assert read("holt_winters(x[1h], 0.3, 0.3)").functions == ("holt_winters",)


# -- what checks and findings read ------------------------------------------------------------------------

def test_selectors_name_metric_matchers_window_and_function() -> None:
    r = read('rate({__name__="a", job="api"}[5m]) / ignoring (x) max_over_time(b[1h:1m]) and on () '
             'c{s!~"2.."} offset 1m')
    assert r.selectors == (
        Selector("a", (LabelMatcher("job", "=", "api"),), 300.0, "rate"),
        Selector("b", (), 3600.0, "max_over_time"),
        Selector("c", (LabelMatcher("s", "!~", "2.."),), None, ""),
    )
    assert [b.op for b in r.binaries] == ["/", "and"]
    assert [b.matching for b in r.binaries] == [True, True]
    assert r.labels == {"job", "x", "s"}
    assert r.windows_s == (300.0, 3600.0)


def test_metric_names_are_not_keywords_functions_or_labels() -> None:
    assert metric_names('sum by (offset) (rate(by{on="x"}[5m])) + on (job) group_left (by) offset') == \
        ["by", "offset"]


@pytest.mark.parametrize(("expr", "want"), [
    ("sum(rate(x[5m])) / y > 0.01", ("sum(rate(x[5m])) / y", "> 0.01")),
    ("a > bool on(x) group_left(y) b", ("a", "> bool on (x) group_left (y) b")),
    ("a / b > 0.9 and b > 0", ("a / b", "> 0.9 and b > 0")),
    ("(a > 1)", ("a", "> 1")),
    ("rate(x[5m])", None),
])
def test_a_comparison_splits_into_value_and_condition(expr: str, want: tuple[str, str] | None) -> None:
    assert comparisons(expr) == ([] if want is None else [want])


def test_each_branch_of_an_or_is_a_comparison_of_its_own() -> None:
    expr = '(q{n="a"} > 0.005) or (q{n="b"} > 0.05 and up == 1) or rate(x[5m]) or ((c < 1) unless d)'
    assert comparisons(expr) == [('q{n="a"}', "> 0.005"), ('q{n="b"}', "> 0.05 and up == 1"),
                                 ("c", "< 1 unless d")]
