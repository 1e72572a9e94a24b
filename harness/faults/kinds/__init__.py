"""Fault kinds: one module a kind, each declaring its parameters, target, documentation, example and build.

``KINDS`` (harness.faults.kinds.registry) lists them; validation (harness.faults.spec), the factory
(``Faults.from_spec``) and the scenario-format reference (``reference``, ``render_markdown``) are read from it.
Adding a kind means adding one module here and one line to the registry.
"""

from harness.faults.kinds.reference import KindReference, ParamReference, reference, render_markdown
from harness.faults.kinds.registry import KINDS
from harness.faults.kinds.schema import FaultKind, FaultSpecError, Param

__all__ = ["KINDS", "FaultKind", "FaultSpecError", "KindReference", "Param", "ParamReference", "reference",
           "render_markdown"]
