"""``restart``: stop a service gracefully and start it again at once (harness.faults.process.RestartFault)."""

from harness.faults.kinds.schema import PROCESS, FaultKind
from harness.faults.kinds.stop import STOP_TIMEOUT
from harness.faults.process import RestartFault

KIND = FaultKind(
    name="restart", group=PROCESS, doc="graceful stop then start, at once; the fault ends when it is ready",
    params={"timeout": STOP_TIMEOUT}, build=RestartFault.build, takes_down=True,
    example={"kind": "restart", "target": "postgres_replica", "start": "2m", "duration": "1m"},
)
