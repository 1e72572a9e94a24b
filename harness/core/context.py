"""What a scenario is validated against: the alerts, receivers and recording rules of the loaded packs, and the
stack's proxies and services (harness.scenario.validate reads it; the expectation kinds check their fields with it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.core.topology import PROXIES, SERVICES


@dataclass(frozen=True)
class ValidationContext:
    alerts: frozenset[str]
    receivers: frozenset[str] = frozenset()
    proxies: frozenset[str] = frozenset(PROXIES)
    services: frozenset[str] = frozenset(SERVICES)
    # Fault specs are checked by harness.faults.spec (kinds, targets, parameter types and ranges).
    check_faults: bool = True
    slo_names: frozenset[str] = field(default_factory=frozenset)
    # role -> receivers with that role in the Alertmanager config (harness.core.roles.receivers_by_role)
    receiver_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    records: frozenset[str] = frozenset()   # recording rules of the loaded packs (empty: not checked)
