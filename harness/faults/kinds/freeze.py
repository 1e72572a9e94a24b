"""``freeze``: SIGSTOP a service's process tree (harness.faults.process.FreezeFault)."""

from harness.faults.kinds.schema import PROCESS, FaultKind
from harness.faults.process import FreezeFault

KIND = FaultKind(
    name="freeze", group=PROCESS, doc="SIGSTOP the service's process tree; SIGCONT at the end",
    build=FreezeFault.build,
    example={"kind": "freeze", "target": "postgres_primary", "start": "2m", "duration": "3m"},
)
