"""A PromQL expression as a tree of source spans: just enough structure to edit it in place.

``promql-parser`` gives an expression's structure but no positions, and its printer rewrites the whole
expression (comments and line breaks gone). Mutation testing edits one token or one branch and leaves the
rest of the team's text as written, so it needs where each piece is: this parser, over the tokens of its own
``tokenize`` (with positions, which the parse tree of harness.core.promql lacks), gives the spans of binary
operators and their operands, number literals, selectors and their matchers. It is deliberately small (it
checks structure, not types); every edited expression is parsed with promql-parser before it is used
(harness.rules.mutants).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# -- tokens with their positions (promql-parser keeps none) ---------------------------------------------

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




# Node kinds.
BINARY = "binary"
NUMBER_LITERAL = "number"
STRING_LITERAL = "string"
SELECTOR = "selector"
CALL = "call"
AGGREGATE = "aggregate"
PAREN = "paren"
UNARY = "unary"
SUBQUERY = "subquery"

SET_OPS = ("or", "and", "unless")
COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")
_PRECEDENCE = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, "<": 3, ">=": 3, "<=": 3,
               "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
                          "count_values", "group", "limitk", "limit_ratio"})
_TWO_CHAR = ("==", "!=", ">=", "<=", "=~", "!~")


class ExprSyntaxError(ValueError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} (at offset {pos})")
        self.pos = pos


@dataclass(frozen=True)
class MatcherSpan:
    label: str
    op: str                      # =, !=, =~, !~
    value: str                   # unquoted
    value_start: int             # the quoted string's span, quotes included
    value_end: int
    quote: str = '"'


@dataclass
class Node:
    kind: str
    start: int
    end: int
    children: list[Node] = field(default_factory=list)
    op: str = ""                 # BINARY: operator (lower-case); CALL / AGGREGATE: function name
    op_start: int = 0            # BINARY: the operator's span
    op_end: int = 0
    bool_modifier: bool = False  # BINARY: `bool` after a comparison
    text: str = ""               # NUMBER_LITERAL: as written; SELECTOR: metric name ("" for `{...}` only)
    name_start: int = 0          # SELECTOR: the metric name's span
    name_end: int = 0
    matchers: list[MatcherSpan] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, parents before their children."""
        yield self
        for c in self.children:
            yield from c.walk()

    def chain(self) -> list[Node]:
        """The operands of a chain of the same set operator, left to right: ``a or b or c`` -> [a, b, c]
        (parentheses end a chain: ``a or (b or c)`` is two operands)."""
        if self.kind != BINARY or self.op not in SET_OPS:
            return [self]
        lhs, rhs = self.children
        left = lhs.chain() if lhs.kind == BINARY and lhs.op == self.op else [lhs]
        return [*left, rhs]

    @property
    def is_comparison(self) -> bool:
        return self.kind == BINARY and self.op in COMPARISONS


def parent_map(root: Node) -> dict[int, Node]:
    """id(node) -> its parent, for every node below ``root``."""
    return {id(c): n for n in root.walk() for c in n.children}


def parse_expr(expr: str) -> Node:
    """The span tree of ``expr``. Raises ExprSyntaxError (or timescale.PromQLSyntaxError) on what it cannot read."""
    toks = [t for t in tokenize(expr) if t.kind not in (SPACE, COMMENT)]
    p = _Parser(expr, toks)
    node = p.expr(0)
    if p.i != len(toks):
        raise ExprSyntaxError(f"unexpected {toks[p.i].text!r}", toks[p.i].pos)
    return node


def _end(tok: Token) -> int:
    return tok.pos + len(tok.text)


class _Parser:
    def __init__(self, expr: str, toks: list[Token]) -> None:
        self.expr_text = expr
        self.toks = toks
        self.i = 0

    # -- tokens ----------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ExprSyntaxError("unexpected end of expression", len(self.expr_text))
        self.i += 1
        return tok

    def punct(self, k: int = 0) -> tuple[str, int]:
        """The operator at the cursor (+k) built from adjacent punctuation: (text, tokens it takes)."""
        tok = self.peek(k)
        if tok is None or tok.kind != PUNCT:
            return "", 0
        nxt = self.peek(k + 1)
        if nxt is not None and nxt.kind == PUNCT and nxt.pos == tok.pos + 1 and tok.text + nxt.text in _TWO_CHAR:
            return tok.text + nxt.text, 2
        return tok.text, 1

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise ExprSyntaxError(f"expected {text!r}, found {tok.text!r}", tok.pos)
        return tok

    def is_word(self, word: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok.kind == IDENT and tok.text.lower() == word

    # -- binary operators ------------------------------------------------------------------------
    def binop(self) -> tuple[str, int]:
        tok = self.peek()
        if tok is None:
            return "", 0
        if tok.kind == IDENT and tok.text.lower() in ("or", "and", "unless", "atan2"):
            return tok.text.lower(), 1
        text, n = self.punct()
        return (text, n) if text in _PRECEDENCE else ("", 0)

    def expr(self, min_prec: int) -> Node:
        lhs = self.unary()
        while True:
            op, n = self.binop()
            if not op or _PRECEDENCE[op] < min_prec:
                return lhs
            first = self.peek()
            assert first is not None
            op_start = first.pos
            self.i += n
            op_end = _end(self.toks[self.i - 1])
            has_bool = False
            if self.is_word("bool"):
                has_bool = True
                self.take()
            self.modifiers()
            prec = _PRECEDENCE[op]
            rhs = self.expr(prec if op == "^" else prec + 1)
            lhs = Node(BINARY, lhs.start, rhs.end, [lhs, rhs], op=op, op_start=op_start, op_end=op_end,
                       bool_modifier=has_bool)

    def modifiers(self) -> None:
        if self.is_word("on") or self.is_word("ignoring"):
            self.take()
            self.labels()
        if self.is_word("group_left") or self.is_word("group_right"):
            self.take()
            if self.punct()[0] == "(":
                self.labels()

    def labels(self) -> None:
        self.expect("(")
        while self.punct()[0] != ")":
            self.take()
        self.take()

    # -- operands --------------------------------------------------------------------------------
    def unary(self) -> Node:
        op, n = self.punct()
        if op in ("-", "+") and n == 1:
            tok = self.take()
            operand = self.expr(_PRECEDENCE["^"])
            return Node(UNARY, tok.pos, operand.end, [operand], op=op)
        return self.postfix(self.atom())

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == NUMBER:
            return Node(NUMBER_LITERAL, tok.pos, _end(tok), text=tok.text)
        if tok.kind == STRING:
            return Node(STRING_LITERAL, tok.pos, _end(tok), text=tok.text)
        if tok.kind == PUNCT and tok.text == "(":
            inner = self.expr(0)
            close = self.expect(")")
            return Node(PAREN, tok.pos, _end(close), [inner])
        if tok.kind == PUNCT and tok.text == "{":
            self.i -= 1
            matchers, end = self.matchers()
            return Node(SELECTOR, tok.pos, end, matchers=matchers)
        if tok.kind != IDENT:
            raise ExprSyntaxError(f"unexpected {tok.text!r}", tok.pos)
        word = tok.text.lower()
        if word in AGGREGATIONS and (self.punct()[0] == "(" or self.is_word("by") or self.is_word("without")):
            return self.aggregate(tok)
        if self.punct()[0] == "(":
            args, end = self.args()
            return Node(CALL, tok.pos, end, args, op=tok.text)
        node = Node(SELECTOR, tok.pos, _end(tok), text=tok.text, name_start=tok.pos, name_end=_end(tok))
        if self.punct()[0] == "{":
            node.matchers, node.end = self.matchers()
        return node

    def aggregate(self, name: Token) -> Node:
        if self.is_word("by") or self.is_word("without"):
            self.take()
            self.labels()
        args, end = self.args()
        if self.is_word("by") or self.is_word("without"):
            self.take()
            self.labels()
            end = _end(self.toks[self.i - 1])
        return Node(AGGREGATE, name.pos, end, args, op=name.text.lower())

    def args(self) -> tuple[list[Node], int]:
        self.expect("(")
        args: list[Node] = []
        while self.punct()[0] != ")":
            args.append(self.expr(0))
            if self.punct()[0] == ",":
                self.take()
        close = self.take()
        return args, _end(close)

    def matchers(self) -> tuple[list[MatcherSpan], int]:
        self.expect("{")
        out: list[MatcherSpan] = []
        while self.punct()[0] != "}":
            label = self.take()
            if label.kind not in (IDENT, STRING):
                raise ExprSyntaxError(f"expected a label name, found {label.text!r}", label.pos)
            if label.kind == IDENT and label.text.lower() == "or":   # Prometheus 3 or-matchers: not edited
                continue
            op, n = self.punct()
            if op not in ("=", "!=", "=~", "!~"):
                if label.kind == STRING:   # a bare quoted metric name: {"metric"}
                    continue
                raise ExprSyntaxError(f"expected a matcher operator after {label.text!r}", label.pos)
            self.i += n
            value = self.take()
            if value.kind != STRING:
                raise ExprSyntaxError(f"expected a quoted label value, found {value.text!r}", value.pos)
            name = label.text[1:-1] if label.kind == STRING else label.text
            out.append(MatcherSpan(name, op, _unquote(value.text), value.pos, _end(value), value.text[0]))
            if self.punct()[0] == ",":
                self.take()
        close = self.take()
        return out, _end(close)

    def postfix(self, node: Node) -> Node:
        while True:
            op, _ = self.punct()
            if op == "[":
                self.take()
                subquery = False
                while self.punct()[0] != "]":
                    tok = self.take()
                    subquery = subquery or (tok.kind == PUNCT and tok.text == ":")
                    if tok.kind not in (DURATION, PUNCT, NUMBER):
                        raise ExprSyntaxError(f"unexpected {tok.text!r} in a range", tok.pos)
                end = _end(self.take())
                if node.kind == SELECTOR and not subquery:
                    node.end = end
                else:
                    node = Node(SUBQUERY, node.start, end, [node])
            elif self.is_word("offset"):
                self.take()
                if self.punct()[0] == "-":
                    self.take()
                node.end = _end(self.take())
            elif op == "@":
                self.take()
                if self.punct()[0] in ("-", "+"):
                    self.take()
                tok = self.take()
                if tok.kind == IDENT:   # start() / end()
                    self.expect("(")
                    tok = self.expect(")")
                node.end = _end(tok)
            else:
                return node


def _unquote(text: str) -> str:
    body = text[1:-1]
    if text[0] == "`":
        return body
    return body.encode("utf-8").decode("unicode_escape") if "\\" in body else body
