"""A run's plan: the scenarios it will run against which packs, decided and validated before anything starts
(harness.scenario.suite.plan_run makes one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.catalog import Catalog
from harness.core.model import Scenario


@dataclass
class Plan:
    """What a run will do, decided (and validated) before anything starts."""

    scenarios: list[Scenario]
    not_applicable: dict[str, list[str]]     # scenario name -> alerts missing from the rule files
    catalog: Catalog
    rule_files: list[Path]
    alertmanager_config: Path
    notes: list[str] = field(default_factory=list)   # e.g. the alert map applied (harness.scenario.alertmap)
