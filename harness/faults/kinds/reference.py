"""The scenario-format reference of every fault kind, as data and as Markdown, read from the registry."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from harness.core.topology import PROXIES, SERVICES
from harness.faults.kinds.registry import KINDS
from harness.faults.kinds.schema import NETWORK, PROCESS, FaultKind, Param


@dataclass(frozen=True)
class ParamReference:
    name: str
    type: str                     # "int", "float", "str"
    required: bool
    default: Any                  # None: no default (the doc says what its absence means)
    doc: str


@dataclass(frozen=True)
class KindReference:
    name: str
    group: str                    # network | process | service
    doc: str
    target: str                   # what ``target`` names
    params: tuple[ParamReference, ...]
    example: Mapping[str, Any]    # a scenario ``faults:`` entry


def reference(kinds: Mapping[str, FaultKind] = KINDS) -> list[KindReference]:
    """Every fault kind: its group, doc, target, parameters and an example, in registry order."""
    return [KindReference(name=k.name, group=k.group, doc=k.doc, target=_target(k),
                          params=tuple(_param(name, p) for name, p in k.params.items()), example=k.example)
            for k in kinds.values()]


def _target(kind: FaultKind) -> str:
    if kind.group == NETWORK:
        return "one proxy (" + ", ".join(PROXIES) + ")"
    if kind.group == PROCESS:
        return "one service (" + ", ".join(SERVICES) + ")"
    return f"{kind.service}, implied (omit it or name it)"


def _param(name: str, p: Param) -> ParamReference:
    typ = " or ".join(t.__name__ for t in p.type) if isinstance(p.type, tuple) else p.type.__name__
    return ParamReference(name=name, type=typ, required=p.required, default=p.default, doc=p.doc)


def render_markdown(refs: Iterable[KindReference], *, level: int = 2) -> str:
    """A Markdown section: one heading a kind (``level`` + 1), its parameters as a table, its example as YAML."""
    h = "#" * level
    out = [f"{h} Fault kinds", "",
           "Each entry of a scenario's `faults:` list names a `kind`, a `target` (a proxy, a service, or implied by "
           "the kind), `start` and `duration` (production time) and the kind's `params`. Parameters are taken "
           "literally, never time-scaled.", ""]
    for ref in refs:
        out += [f"{h}# `{ref.name}` ({ref.group})", "", ref.doc[:1].upper() + ref.doc[1:] + ".", "",
                f"Target: {ref.target}.", ""]
        if ref.params:
            out += ["| param | type | required | default | meaning |", "| --- | --- | --- | --- | --- |"]
            out += [f"| `{p.name}` | {p.type} | {'yes' if p.required else 'no'} | "
                    f"{'' if p.default is None else f'`{p.default}`'} | {_cell(p.doc)} |" for p in ref.params]
        else:
            out.append("No parameters.")
        out += ["", "```yaml", _example_yaml(ref.example), "```", ""]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _example_yaml(example: Mapping[str, Any]) -> str:
    """The entry as the scenario suite writes one: ``faults:`` with a one-line flow mapping."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1000
    buf = io.StringIO()
    yaml.dump({"faults": [_flow(example)]}, buf)
    return buf.getvalue().rstrip()


def _flow(mapping: Mapping[str, Any]) -> CommentedMap:
    out = CommentedMap((k, _flow(v) if isinstance(v, Mapping) else v) for k, v in mapping.items())
    out.fa.set_flow_style()
    return out
