"""``crash``: SIGKILL a service's process tree (harness.faults.process.CrashFault)."""

from harness.faults.kinds.schema import PROCESS, FaultKind
from harness.faults.process import CrashFault

KIND = FaultKind(
    name="crash", group=PROCESS, doc="SIGKILL the service's process tree; started again at the end",
    build=CrashFault.build, takes_down=True,
    example={"kind": "crash", "target": "redis", "start": "2m", "duration": "10m"},
)
