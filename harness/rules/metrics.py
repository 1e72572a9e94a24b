"""Metric names a PromQL expression reads, from its tokens (functions, keywords and label names excluded)."""

from __future__ import annotations

from harness.rules.timescale import COMMENT, IDENT, PUNCT, SPACE, STRING, tokenize

_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "atan2",
})
_GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


def metric_names(expr: str) -> list[str]:
    """Names of the series selected by ``expr``, in order of first appearance."""
    toks = [t for t in tokenize(expr) if t.kind not in (SPACE, COMMENT)]
    names: list[str] = []
    brace = 0
    skip_group = False
    paren_in_group = 0
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind == PUNCT:
            if tok.text == "{":
                brace += 1
            elif tok.text == "}":
                brace -= 1
            elif skip_group and tok.text == "(":
                paren_in_group += 1
            elif skip_group and tok.text == ")":
                paren_in_group -= 1
                if paren_in_group == 0:
                    skip_group = False
            continue
        if tok.kind == STRING and brace > 0 and i >= 2 and toks[i - 2].text == "__name__" \
                and toks[i - 1].text == "=":
            names.append(tok.text[1:-1])
            continue
        if tok.kind != IDENT or brace > 0 or skip_group:
            continue
        word = tok.text
        if word.lower() in _GROUPING:
            if nxt is not None and nxt.text == "(":
                skip_group = True
            continue
        if word.lower() in _KEYWORDS or (nxt is not None and nxt.kind == PUNCT and nxt.text == "("):
            continue
        if word not in names:
            names.append(word)
    return names


_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def split_comparison(expr: str) -> tuple[str, str] | None:
    """``(value, condition)`` around an expression's first top-level comparison: for
    ``sum(rate(x[5m])) / y > 0.01`` that is ``("sum(rate(x[5m])) / y", "> 0.01")``. The value side is what a
    failed alert's evidence plots against its threshold. None when there is no top-level comparison."""
    toks = [t for t in tokenize(expr) if t.kind != COMMENT]
    depth = 0
    for i, tok in enumerate(toks):
        if tok.kind != PUNCT:
            continue
        if tok.text in "({[":
            depth += 1
        elif tok.text in ")}]":
            depth -= 1
        elif depth == 0 and tok.text in "<>=!":
            nxt = toks[i + 1].text if i + 1 < len(toks) else ""
            op = tok.text + nxt if tok.text + nxt in _COMPARISONS else tok.text
            if op not in _COMPARISONS:
                continue
            left = "".join(t.text for t in toks[:i]).strip()
            right = "".join(t.text for t in toks[i:]).strip()
            return (left, " ".join(right.split())) if left else None
    return None
