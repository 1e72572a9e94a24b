"""Round-trip YAML shared by everything that reads a user's file and must name lines in its errors, or
rewrite it so that it diffs cleanly against its source."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML


def round_trip_yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    # The layout most rule files (and both seeds) use, so a rewritten file diffs cleanly against its source.
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def key_line(node: Any, key: str | None = None) -> int | None:
    """1-based line of ``key`` in a mapping node (or of the node itself); None when not known."""
    try:
        return int(node.lc.key(key)[0] if key is not None else node.lc.line) + 1
    except (AttributeError, KeyError, TypeError):
        return None
