"""``fill_disk``: fill the data volume node_exporter watches (harness.faults.service.FillDiskFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, fraction
from harness.faults.service import FillDiskFault

KIND = FaultKind(
    name="fill_disk", group=SERVICE, service="node_exporter",
    doc="fill the data volume node_exporter watches; emptied at the end",
    params={"fraction": Param(float, required=True, check=fraction, doc="used / size of the volume to reach")},
    build=lambda faults, target, params, fault_id: FillDiskFault(faults.stack, fault_id=fault_id, **params),
    example={"kind": "fill_disk", "start": "2m", "duration": "10m", "params": {"fraction": 0.92}},
)
