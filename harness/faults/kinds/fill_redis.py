"""``fill_redis``: fill Redis memory up to a fraction of maxmemory (harness.faults.service.FillRedisFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, fraction, positive
from harness.faults.service import FillRedisFault

KIND = FaultKind(
    name="fill_redis", group=SERVICE, service="redis",
    doc="write keys until used_memory/maxmemory >= fraction; deleted at the end",
    params={
        "fraction": Param(float, required=True, check=fraction, doc="used_memory / maxmemory to reach"),
        "value_bytes": Param(int, check=positive, default=65536, doc="size of each filler value in bytes"),
    },
    build=lambda faults, target, params, fault_id: FillRedisFault(
        faults.stack, fault_id=fault_id, connect=faults.redis_connect, **params),
    example={"kind": "fill_redis", "start": "2m", "duration": "5m", "params": {"fraction": 0.95}},
)
