"""Rule file formats: every format a team's rules come in, normalised once to plain Prometheus rule groups.

Accepted, one or several YAML documents per file:
  * a plain Prometheus rule file (``groups:``), as Prometheus and Thanos load it;
  * a Kubernetes ``PrometheusRule`` manifest (``spec.groups``), also inside a ``kind: List``; documents of
    other kinds in the same file are skipped, with a note;
  * a mimirtool/cortextool rule file (``namespace:`` beside ``groups:``);
  * a Mimir/Cortex ruler namespace map (``<namespace>: [<group>, ...]``, what the ruler API lists).

Group fields the Prometheus run here evaluates are kept (``name``, ``interval``, ``limit``, ``rules``).
Ruler-only group fields are dropped, with a note saying which and what that changes; any other group field
is an error, so a misspelt ``interval`` is not silently ignored. When two documents or namespaces hold
groups of the same name, the later ones are renamed ``<document or namespace>/<group>`` (Prometheus wants
names unique per file), with a note. Every node keeps the line it had in the user's file, so later errors
still name the user's file and line.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from harness.core.errors import ValidationError
from harness.core.yamlio import key_line, round_trip_yaml

PLAIN = "Prometheus rule file"
THANOS = "Thanos ruler file"
PROMETHEUS_RULE = "Kubernetes PrometheusRule"
MIMIRTOOL = "Mimir/Cortex rule file (mimirtool/cortextool)"
NAMESPACE_MAP = "Mimir/Cortex ruler namespace map"

KEPT_GROUP_FIELDS = frozenset({"name", "interval", "limit", "rules"})
# Ruler-only group fields: what dropping each one changes in the run.
DROPPED_GROUP_FIELDS = {
    "source_tenants": "federated rule group (Mimir/Cortex); the run has one Prometheus, so the group "
                      "reads that Prometheus's series only",
    "evaluation_delay": "ruler query delay (Mimir/Cortex); the Prometheus here (2.42) has no query offset, so "
                        "rules evaluate at the current time and may fire up to that delay earlier",
    "query_offset": "query offset (Prometheus 2.53+, Mimir); the Prometheus here (2.42) has none, so rules "
                    "evaluate at the current time and may fire up to that offset earlier",
    "partial_response_strategy": "Thanos query fan-out setting; one Prometheus never answers partially",
    "align_evaluation_time_on_interval": "Mimir evaluation alignment; Prometheus spreads groups itself",
}
_RULER_HINT = ("accepted: a Prometheus rule file (`groups:`), a Kubernetes PrometheusRule (`spec.groups`), a "
               "mimirtool/cortextool file (`namespace:` + `groups:`) or a ruler namespace map "
               "(`<namespace>: [groups]`)")


@dataclass(frozen=True)
class RuleSource:
    """A rule file as understood: its format(s), the plain Prometheus document, and notes on what changed."""

    source: str
    format: str
    doc: CommentedMap            # {"groups": [...]}: a plain Prometheus rule file, lines of the user's file
    notes: tuple[str, ...] = ()

    @property
    def groups(self) -> CommentedSeq:
        groups: CommentedSeq = self.doc["groups"]
        return groups

    def plain_text(self) -> str:
        """The plain Prometheus rule file Prometheus and promtool load."""
        buf = io.StringIO()
        round_trip_yaml().dump(self.doc, buf)
        return buf.getvalue()


@dataclass
class _Collector:
    """Groups gathered from the documents of one file, with their origin, and what was dropped or renamed."""

    source: str
    groups: CommentedSeq
    formats: list[str]
    notes: list[str]
    dropped: dict[str, list[str]]
    kept_limit: list[str]

    def add(self, fmt: str, groups: Any, where: str, line: int | None, origin: str) -> None:
        if not isinstance(groups, CommentedSeq):
            raise ValidationError(self.source, line, where, "must be a list of rule groups",
                                  hint="each group is a mapping with `name:` and `rules:`")
        if fmt not in self.formats:
            self.formats.append(fmt)
        seen = {str(g.get("name")) for g in self.groups}
        for gi, group in enumerate(groups):
            if not isinstance(group, CommentedMap):
                raise ValidationError(self.source, key_line(groups) or line, f"{where}[{gi}]",
                                      "a group must be a mapping", hint="each group has `name:` and `rules:`")
            name = str(group.get("name"))
            final = f"{origin}/{name}" if origin and name in seen else name
            self._normalise_group(group, final)
            if final != name:
                group["name"] = final
                self.notes.append(f"group {name!r} ({origin}, line {key_line(group)}) renamed {final!r}: "
                                  "another document or namespace already has a group of that name")
            seen.add(final)
            self.groups.append(group)

    def _normalise_group(self, group: CommentedMap, final_name: str) -> None:
        """Drop ruler-only fields (noted under the group's final name); refuse fields nobody defines."""
        name = str(group.get("name"))
        for key in list(group):
            if key in KEPT_GROUP_FIELDS:
                continue
            if key in DROPPED_GROUP_FIELDS:
                self.dropped.setdefault(str(key), []).append(final_name)
                del group[key]
                continue
            raise ValidationError(self.source, key_line(group, key), f"group {name!r}: {key}",
                                  f"unknown group field `{key}`",
                                  hint=f"Prometheus groups take {', '.join(sorted(KEPT_GROUP_FIELDS))}; ruler "
                                  f"fields the harness drops: {', '.join(sorted(DROPPED_GROUP_FIELDS))}")
        if "limit" in group:
            self.kept_limit.append(final_name)


def _load_documents(text: str, source: str) -> list[Any]:
    try:
        return [d for d in round_trip_yaml().load_all(text) if d is not None]
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationError(source, line, "yaml", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                              hint="fix the YAML syntax; `promtool check rules FILE` shows the same") from exc


def _expand_lists(docs: Iterable[Any]) -> list[Any]:
    """Kubernetes ``kind: List`` documents (``kubectl get -o yaml``) stand for their items."""
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, CommentedMap) and doc.get("kind") == "List" and "items" in doc:
            out.extend(_expand_lists(doc.get("items") or []))
        else:
            out.append(doc)
    return out


def _is_namespace_map(doc: CommentedMap) -> bool:
    return bool(doc) and all(isinstance(v, CommentedSeq) and all(isinstance(g, CommentedMap) and "name" in g
                                                                 for g in v) for v in doc.values())


def _add_document(col: _Collector, doc: Any, index: int, multi: bool) -> None:
    source = col.source
    if not isinstance(doc, CommentedMap):
        raise ValidationError(source, key_line(doc) or 1, f"document {index + 1}",
                              f"a rule file document must be a mapping, not a {type(doc).__name__}", hint=_RULER_HINT)
    line = key_line(doc)
    if "apiVersion" in doc or "kind" in doc:
        kind = str(doc.get("kind", ""))
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), CommentedMap) else CommentedMap()
        name = str(meta.get("name", f"document-{index + 1}"))
        if kind != "PrometheusRule":
            col.notes.append(f"document {index + 1} (line {line}, kind {kind or '?'} {name!r}) is not a "
                             "PrometheusRule: skipped")
            return
        spec = doc.get("spec")
        if not isinstance(spec, CommentedMap) or "groups" not in spec:
            raise ValidationError(source, key_line(doc, "spec") or line, f"PrometheusRule {name!r}: spec.groups",
                                  "missing", hint="a PrometheusRule holds its rule groups under `spec.groups`")
        col.add(PROMETHEUS_RULE, spec["groups"], f"PrometheusRule {name!r}: spec.groups", key_line(spec, "groups"),
                name)
        return
    if "groups" in doc:
        extra = sorted(str(k) for k in doc if k not in ("groups", "namespace"))
        if extra:
            raise ValidationError(source, key_line(doc, extra[0]), extra[0], f"unknown top-level field `{extra[0]}`",
                                  hint="a Prometheus rule file has only `groups:`; a mimirtool/cortextool file "
                                  "adds `namespace:`")
        namespace = str(doc["namespace"]) if "namespace" in doc else ""
        fmt = MIMIRTOOL if namespace else PLAIN
        col.add(fmt, doc["groups"], "groups", key_line(doc, "groups"), namespace or (f"document-{index + 1}"
                                                                                    if multi else ""))
        return
    if _is_namespace_map(doc):
        for ns, groups in doc.items():
            col.add(NAMESPACE_MAP, groups, str(ns), key_line(doc, ns), str(ns))
        return
    raise ValidationError(source, line or 1, "groups", "a rule file needs a top-level `groups:` list",
                          hint=_RULER_HINT)


def normalise_rules(text: str, source: str) -> RuleSource:
    """Read a rule file in any accepted format and return it as one plain Prometheus rule document.

    Raises ValidationError (file, line, field, what to do) for YAML errors, documents that are no rule
    file, groups that are not mappings and group fields nobody defines.
    """
    docs = _expand_lists(_load_documents(text, source))
    if not docs:
        raise ValidationError(source, 1, "groups", "the file is empty: a rule file needs a top-level `groups:` list",
                              hint=_RULER_HINT)
    col = _Collector(source, CommentedSeq(), [], [], {}, [])
    for i, doc in enumerate(docs):
        _add_document(col, doc, i, len(docs) > 1)
    if not col.formats:
        raise ValidationError(source, 1, "kind", "no PrometheusRule document in this file",
                              hint="give the file holding `kind: PrometheusRule` objects")
    formats = list(col.formats)
    if "partial_response_strategy" in col.dropped and formats == [PLAIN]:
        formats = [THANOS]
    notes = [f"dropped `{key}` from group(s) {', '.join(groups)}: {DROPPED_GROUP_FIELDS[key]}"
             for key, groups in col.dropped.items()]
    if col.kept_limit and formats != [PLAIN]:
        notes.append(f"kept `limit` in group(s) {', '.join(col.kept_limit)}: Prometheus enforces it as written")
    plain_single = len(docs) == 1 and formats == [PLAIN]
    doc = docs[0] if plain_single else CommentedMap([("groups", col.groups)])
    return RuleSource(source, " + ".join(formats), doc, tuple(col.notes + notes))


def load_rule_doc(text: str, source: str) -> CommentedMap:
    """The plain Prometheus rule document of a rule file in any accepted format (see ``normalise_rules``)."""
    return normalise_rules(text, source).doc
