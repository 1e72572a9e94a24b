"""A rule file's text with the place of each rule's fields, to change one field in place.

Mutation testing changes one thing in one rule; everything else in the file (comments, layout, quoting, the
other rules) must stay byte for byte what the team wrote, so a mutant diffs against its source in one line.
``RuleText`` maps each rule's expression, ``for`` and label values back to their offsets in the file and
returns the whole file with one of them replaced; every edit is checked by reading the new file back.

Expressions written as a ``|`` block or a plain (unquoted, possibly multi-line) scalar are edited in place;
quoted and folded (``>``) ones are refused with an EditError that says how to write them instead.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from harness.core.durations import format_duration, parse_duration
from harness.core.errors import HarnessError
from harness.core.rule_formats import load_rule_doc
from harness.rules.packs import Rule, parse_rules

_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Edited:
    """A rule file after one edit, and the edited rule as read back from it."""

    text: str
    rule: Rule


class EditError(HarnessError):
    """A field that cannot be changed in place (its YAML style), or an edit that did not read back."""


@dataclass(frozen=True)
class RuleSite:
    """One rule of a file: what it says, and where (its position among the file's rules, 0-based)."""

    index: int
    rule: Rule
    group_interval: str | None      # the group's `interval`, as written

    @property
    def name(self) -> str:
        return self.rule.name


class RuleText:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        pack = parse_rules(text, source)
        doc = load_rule_doc(text, source)
        self._nodes: list[CommentedMap] = []
        intervals: list[str | None] = []
        for group in doc["groups"]:
            for node in group.get("rules") or []:
                self._nodes.append(node)
                intervals.append(str(group["interval"]) if "interval" in group else None)
        if len(self._nodes) != len(pack.rules):
            raise EditError(f"{source}: found {len(self._nodes)} rule nodes for {len(pack.rules)} rules")
        self.sites = [RuleSite(i, r, intervals[i]) for i, r in enumerate(pack.rules)]
        self._line_starts = [0]
        for i, c in enumerate(text):
            if c == "\n":
                self._line_starts.append(i + 1)

    # -- offsets ---------------------------------------------------------------------------------
    def _offset(self, line0: int, col: int) -> int:
        return self._line_starts[line0] + col

    def _line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset) - 1

    def _line_text(self, line0: int) -> str:
        start = self._line_starts[line0]
        end = self._line_starts[line0 + 1] - 1 if line0 + 1 < len(self._line_starts) else len(self.text)
        return self.text[start:end]

    def _expr_segments(self, index: int) -> list[tuple[int, int, int]]:
        """(value offset, file offset, length) of each run of the expression's characters as written in the file."""
        node = self._nodes[index]
        value = node["expr"]
        line0, col = node.lc.value("expr")
        where = f"{self.source}:{line0 + 1}: rule {self.sites[index].name!r}: expr"
        if isinstance(value, FoldedScalarString):
            raise EditError(f"{where} is a folded (>) block", hint="write it as a `|` block to mutate it")
        if isinstance(value, LiteralScalarString):
            return self._literal_segments(str(value), line0, col, where)
        if self.text[self._offset(line0, col)] in "\"'":
            raise EditError(f"{where} is a quoted string", hint="write it as a `|` block to mutate it")
        return self._plain_segments(str(value), line0, col, where)

    def _literal_segments(self, value: str, line0: int, col: int, where: str) -> list[tuple[int, int, int]]:
        header = self._line_text(line0)[col:].split("#")[0].strip()
        if any(c.isdigit() for c in header):
            raise EditError(f"{where} has an explicit indentation indicator ({header})",
                            hint="write it as a plain `|` block to mutate it")
        lines = value.split("\n")
        first = line0 + 1
        indent = None
        for k in range(len(lines)):
            text = self._line_text(first + k) if first + k < len(self._line_starts) else ""
            if text.strip():
                indent = len(text) - len(text.lstrip(" "))
                break
        if indent is None:
            raise EditError(f"{where} is empty")
        out: list[tuple[int, int, int]] = []
        v = 0
        for k, s in enumerate(lines):
            if s:
                off = self._line_starts[first + k] + indent
                if self.text[off:off + len(s)] != s:
                    raise EditError(f"{where}: line {first + k + 1} does not read back as written")
                out.append((v, off, len(s)))
            if k + 1 < len(lines):      # the line break
                brk = self._line_starts[first + k + 1] - 1
                out.append((v + len(s), brk, 1))
            v += len(s) + 1
        return out

    def _plain_segments(self, value: str, line0: int, col: int, where: str) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        v, line = 0, line0
        while True:
            raw = self._line_text(line)
            start = col if line == line0 else len(raw) - len(raw.lstrip())
            content = raw[start:]
            cut = content.find(" #")
            content = (content[:cut] if cut >= 0 else content).rstrip()
            if not value.startswith(content, v) or not content:
                raise EditError(f"{where}: line {line + 1} does not read back as written")
            out.append((v, self._offset(line, start), len(content)))
            v += len(content)
            if v >= len(value):
                return out
            if value[v] != " ":
                raise EditError(f"{where}: a plain scalar with blank lines", hint="write it as a `|` block")
            out.append((v, self._offset(line, start) + len(content), 1))   # the folded line break
            v += 1
            line += 1

    @staticmethod
    def _map(segments: list[tuple[int, int, int]], v: int, where: str) -> int:
        for vs, fs, n in segments:
            if vs <= v < vs + n:
                return fs + (v - vs)
        raise EditError(f"{where}: offset {v} of the expression is not in the file as written")

    # -- edits -----------------------------------------------------------------------------------
    def replace_expr(self, index: int, start: int, end: int, new: str) -> Edited:
        """The file with characters [start, end) of rule ``index``'s expression replaced by ``new`` (one line)."""
        if "\n" in new:
            raise EditError("an in-place expression edit must not add lines")
        site = self.sites[index]
        segments = self._expr_segments(index)
        where = f"{self.source}: rule {site.name!r}"
        f_start = self._map(segments, start, where)
        # The end as the file places the character after the edit (past any indentation a deleted line break
        # leaves), else just past the edit's last character.
        try:
            f_end = self._map(segments, end, where)
        except EditError:
            f_end = self._map(segments, end - 1, where) + 1 if end > start else f_start
        text = self.text[:f_start] + new + self.text[f_end:]
        want = site.rule.expr[:start] + new + site.rule.expr[end:]
        rule = self._read_back(text, index)
        if rule.expr.strip() != want.strip():
            raise EditError(f"{where}: the edited expression reads back as {rule.expr!r}, not {want!r}")
        return Edited(text, rule)

    def replace_for(self, index: int, seconds: float) -> Edited:
        """The file with rule ``index``'s ``for`` set to ``seconds`` (written as a Prometheus duration)."""
        new = format_duration(seconds)
        text = self._replace_scalar(self._nodes[index], "for", new, index)
        rule = self._read_back(text, index)
        if abs(rule.for_s - seconds) > 1e-3:
            raise EditError(f"{self.source}: rule {self.sites[index].name!r}: `for` did not read back as {new}")
        return Edited(text, rule)

    def replace_label(self, index: int, label: str, value: str) -> Edited:
        """The file with label ``label`` of rule ``index`` set to ``value``."""
        labels = self._nodes[index].get("labels")
        if not isinstance(labels, CommentedMap) or label not in labels:
            raise EditError(f"{self.source}: rule {self.sites[index].name!r} has no label {label!r}")
        text = self._replace_scalar(labels, label, value, index)
        rule = self._read_back(text, index)
        if rule.labels.get(label) != value:
            raise EditError(f"{self.source}: rule {self.sites[index].name!r}: label {label} did not read back")
        return Edited(text, rule)

    def _replace_scalar(self, node: Any, key: str, new: str, index: int) -> str:
        line0, col = node.lc.value(key)
        start = self._offset(line0, col)
        quote = self.text[start]
        if quote in "\"'":
            end = start + 1
            while end < len(self.text) and self.text[end] != quote:
                end += 2 if self.text[end] == "\\" and quote == '"' else 1
            if end >= len(self.text) or "\n" in self.text[start:end]:
                raise EditError(f"{self.source}:{line0 + 1}: cannot find the end of {key}'s quoted value")
            return self.text[:start + 1] + new + self.text[end:]
        end = start
        while end < len(self.text) and self.text[end] not in "\n,}#":
            end += 1
        value_end = start + len(self.text[start:end].rstrip())
        return self.text[:start] + new + self.text[value_end:]

    def _read_back(self, text: str, index: int) -> Rule:
        """Rule ``index`` of the edited file, as Prometheus would read it. A plain rule file is read with the C
        YAML loader (a mutation run edits each file a hundred times); any other format the full way."""
        site = self.sites[index]
        try:
            doc = yaml.load(text, Loader=_FastLoader)
        except yaml.YAMLError as exc:
            raise EditError(f"{self.source}: the edited file is not valid YAML: {exc}") from exc
        if isinstance(doc, dict) and set(doc) == {"groups"} and isinstance(doc["groups"], list):
            nodes = [(g, r) for g in doc["groups"] for r in (g.get("rules") or [])]
            if len(nodes) == len(self.sites):
                group, raw = nodes[index]
                try:
                    return replace(site.rule, expr=str(raw["expr"]), for_s=parse_duration(raw.get("for", 0)),
                                   labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                                   annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
                                   group=str(group.get("name")))
                except (KeyError, ValueError, AttributeError) as exc:
                    raise EditError(f"{self.source}: the edited rule does not load: {exc}") from exc
        try:
            return parse_rules(text, self.source).rules[index]
        except HarnessError as exc:
            raise EditError(f"{self.source}: the edited file does not load: {exc}") from exc
