"""The scenario format's reference, generated from the kind registries (``harness kinds``)."""

from __future__ import annotations

import json

from harness.core.expectations import KINDS
from harness.core.expectations.base import ExpectKind
from harness.faults.kinds.reference import reference as fault_reference
from harness.faults.kinds.reference import render_markdown as fault_markdown


def _value(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def expectation_markdown(kinds: dict[str, ExpectKind] = KINDS) -> str:
    """Every expectation kind: what it checks, its fields with defaults, and an example entry."""
    out = ["## Expectation kinds (`expect:`)", "",
           "Each entry of `expect:` has exactly one of these keys; its value names the subject "
           "(a list expands to one expectation per item). Durations are production time.", ""]
    for k in kinds.values():
        out += [f"### `{k.name}`: {k.subject}", "", k.doc, ""]
        if k.fields:
            out += ["| field | value | default | meaning |", "|---|---|---|---|"]
            for f in k.fields:
                default = "required" if f.required else ("" if f.default is None else _value(f.default))
                out.append(f"| `{f.name}` | {f.value} | {default} | {f.doc} |")
            out.append("")
        example = "\n".join(f"    {key}: {_value(v)}" for key, v in list(k.example.items())[1:])
        first, subject = next(iter(k.example.items()))
        out += ["```yaml", "expect:", f"  - {first}: {_value(subject)}" + ("\n" + example if example else ""),
                "```", ""]
    return "\n".join(out)


HEADER = """# Scenario format reference

Generated from the kind registries by `harness kinds --markdown`; do not edit by hand (a unit test checks that
this file is the generated one). The README's "Writing a scenario" walks through a whole file.
"""


def format_markdown() -> str:
    """The whole reference: every expectation kind (and fault kind) with fields, defaults and an example."""
    return "\n".join([HEADER, fault_markdown(fault_reference()), expectation_markdown()]).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    """``harness kinds``: the kinds a scenario can use; ``--markdown`` prints the full reference."""
    import argparse

    parser = argparse.ArgumentParser(prog="harness kinds", description=main.__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the whole reference as Markdown")
    args = parser.parse_args(argv)
    if args.markdown:
        print(format_markdown(), end="")
        return 0
    for ref in fault_reference():
        params = ", ".join(p.name + ("" if p.required else "?") for p in ref.params)
        print(f"fault   {ref.name:<17} {ref.group:<8} {params}")
    for k in KINDS.values():
        fields = ", ".join(f.name + ("" if f.required else "?") for f in k.fields)
        print(f"expect  {k.name:<17} <{k.subject}>  {fields}")
    print("\n`harness kinds --markdown` prints every field with its default and an example.")
    return 0
