"""``cache_hit_ratio``: at most this share of reads hit the API's cache (harness.faults.calibrated)."""

from harness.faults.calibrated import CacheHitRatioFault
from harness.faults.kinds.schema import SERVICE, FaultKind, Param, ratio_or_zero

KIND = FaultKind(
    name="cache_hit_ratio", group=SERVICE, service="api", one_at_a_time=True,
    doc="at most this share of active-bets reads hit the cache; the rest are real misses",
    params={"ratio": Param(float, required=True, check=ratio_or_zero,
                           doc="share of active-bets reads served from cache")},
    build=lambda faults, target, params, fault_id: CacheHitRatioFault(
        faults.stack, fault_id=fault_id, session=faults.session, **params),
    example={"kind": "cache_hit_ratio", "start": "2m", "duration": "10m", "params": {"ratio": 0.6}},
)
