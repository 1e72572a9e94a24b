"""Every fault kind, by name: the one list to extend when a kind module is added."""

from harness.faults.kinds import (
    backup_failing,
    cache_hit_ratio,
    cache_miss_storm,
    crash,
    error_ratio,
    fill_disk,
    fill_redis,
    freeze,
    hold_connections,
    pause_wal_replay,
    proxy_down,
    query_latency,
    redis_config,
    restart,
    stop,
    toxic,
)
from harness.faults.kinds.schema import FaultKind

KINDS: dict[str, FaultKind] = {m.KIND.name: m.KIND for m in (
    toxic, proxy_down,
    crash, freeze, stop, restart,
    pause_wal_replay, hold_connections, fill_redis, cache_miss_storm, redis_config, fill_disk, backup_failing,
    error_ratio, cache_hit_ratio, query_latency,
)}
