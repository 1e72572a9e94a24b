"""``redis_config``: a Redis misconfiguration by CONFIG SET (harness.faults.service.RedisConfigFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param
from harness.faults.service import RedisConfigFault

KIND = FaultKind(
    name="redis_config", group=SERVICE, service="redis",
    doc="CONFIG SET a misconfiguration on Redis; restored at the end",
    params={
        "parameter": Param(str, required=True, doc="a Redis configuration parameter, e.g. maxmemory-policy"),
        "value": Param(str, required=True, doc="the value to set (the original is restored at the end)"),
    },
    build=lambda faults, target, params, fault_id: RedisConfigFault(
        faults.stack, fault_id=fault_id, connect=faults.redis_connect, **params),
    example={"kind": "redis_config", "start": "2m", "duration": "5m",
             "params": {"parameter": "maxmemory-policy", "value": "noeviction"}},
)
