"""The expectation kinds, one module each; this registry is the only list of them.

Adding a kind means adding a module that declares ``KIND`` and naming it below: the parser, validation,
the runner's dispatch and the scenario format's reference all read ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from harness.core.expectations import (
    error_budget,
    fires,
    inhibited,
    latency,
    notified,
    notifies,
    pages,
    resolves,
    silent,
    slo,
    unsupported,
)
from harness.core.expectations.base import ExpectKind, Field, Judge, Observed, share, suggest

if TYPE_CHECKING:
    from harness.core.catalog import Catalog
    from harness.core.context import ValidationContext
    from harness.core.errors import ValidationError
    from harness.core.model import Expectation, Scenario

KINDS: dict[str, ExpectKind] = {m.KIND.name: m.KIND for m in (
    fires, silent, resolves, notified, inhibited, pages, notifies, slo, latency, error_budget, unsupported)}

__all__ = ["KINDS", "ExpectKind", "Field", "Judge", "Observed", "expected_to_fire", "kind_names", "problems",
           "share", "suggest"]


def kind_names(where: Iterable[ExpectKind] | None = None, **flags: bool) -> frozenset[str]:
    """Names of the kinds whose flags (``names_alert``, ``judges_state``, ...) have the given values."""
    return frozenset(k.name for k in (where or KINDS.values())
                     if all(getattr(k, flag) == value for flag, value in flags.items()))


def expected_to_fire(scn: Scenario, catalog: Catalog | None = None) -> frozenset[str]:
    """The alerts the scenario expects to fire (``silent: "*"`` leaves them out): those it names, and with the
    packs' catalog those its expectations by meaning stand for (every alert that could page, for ``pages``)."""
    named = {e.subject for e in scn.expectations if KINDS[e.kind].expects_firing}
    if catalog is not None:
        named |= {a for e in scn.expectations if (f := KINDS[e.kind].expected) is not None for a in f(e, catalog)}
    return frozenset(named)


def problems(scn: Scenario, e: Expectation, ctx: ValidationContext) -> list[ValidationError]:
    """Every problem of one expectation: the rules all kinds share, then the kind's own."""
    kind = KINDS[e.kind]
    if e.subject == "*" and not kind.wildcard:
        return [e.where.error(e.kind, '"*" is only allowed in `silent:`',
                              hint=f"name the {kind.subject} this expectation is about")]
    return kind.validate(scn, e, ctx)
