"""``cache_miss_storm``: flush the API's cache continuously (harness.faults.service.CacheMissStormFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, positive
from harness.faults.service import CacheMissStormFault

KIND = FaultKind(
    name="cache_miss_storm", group=SERVICE, service="redis", doc="flush the cache continuously",
    params={
        "interval_s": Param(float, check=positive, default=0.05, doc="seconds between flushes"),
        "pattern": Param(str, doc="key glob to delete (default: FLUSHDB of the API's database)"),
    },
    build=lambda faults, target, params, fault_id: CacheMissStormFault(
        faults.stack, fault_id=fault_id, connect=faults.redis_connect, **params),
    example={"kind": "cache_miss_storm", "start": "2m", "duration": "5m", "params": {"interval_s": 0.1}},
)
