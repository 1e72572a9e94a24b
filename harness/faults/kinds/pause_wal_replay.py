"""``pause_wal_replay``: pause WAL replay on the replica (harness.faults.service.PauseWalReplayFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, non_negative
from harness.faults.service import PauseWalReplayFault

KIND = FaultKind(
    name="pause_wal_replay", group=SERVICE, service="postgres_replica",
    doc="pg_wal_replay_pause() on the replica; resumed at the end",
    params={"wal_mb": Param(int, check=non_negative, default=0,
                            doc="MB of WAL to write on the primary once paused, so the lag grows")},
    build=lambda faults, target, params, fault_id: PauseWalReplayFault(
        faults.stack, fault_id=fault_id, connect=faults.sql_connect, **params),
    example={"kind": "pause_wal_replay", "start": "2m", "duration": "10m", "params": {"wal_mb": 64}},
)
