"""Faults: one API for network, process and service faults, each recorded on the run's timeline.

    faults = Faults(stack)
    with faults.toxic("pg_primary", "latency", latency=300):
        ...
    faults.from_spec("crash", "redis", {}).schedule(start=10, duration=30)
    faults.undo_all()
"""

from harness.core.protocols import FaultTarget, ProcessHandle
from harness.faults.fault import Fault, FaultError, Schedule
from harness.faults.injector import Faults
from harness.faults.spec import FAULT_KINDS, KIND_SPECS, FaultSpecError, spec_problems, validate_spec

__all__ = [
    "FAULT_KINDS",
    "KIND_SPECS",
    "Fault",
    "FaultError",
    "FaultSpecError",
    "FaultTarget",
    "Faults",
    "ProcessHandle",
    "Schedule",
    "spec_problems",
    "validate_spec",
]
