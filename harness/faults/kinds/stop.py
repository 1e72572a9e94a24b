"""``stop``: stop a service gracefully (harness.faults.process.StopFault)."""

from harness.faults.kinds.schema import PROCESS, FaultKind, Param, positive
from harness.faults.process import StopFault

STOP_TIMEOUT = Param(float, check=positive, default=10.0,
                     doc="seconds to wait for a graceful stop")

KIND = FaultKind(
    name="stop", group=PROCESS, doc="graceful stop; started again at the end",
    params={"timeout": STOP_TIMEOUT}, build=StopFault.build, takes_down=True,
    example={"kind": "stop", "target": "api", "start": "1m", "duration": "5m", "params": {"timeout": 5}},
)
